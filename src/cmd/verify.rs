//! `sfhooks verify`: checks one delivery the way a receiver must, from flags, a body file or stdin.
//!
//! Also home of what `verify` and `listen` share: reading the secrets (only from an environment
//! variable or a file, never an argument, since process lists leak arguments) and turning them into
//! a verifier for the chosen scheme.
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use crate::cli::{SecretSource, VerifyArgs};
use crate::exit::{Hinted, UsageError, FAILURE};
use sfhooks::redacted::Redacted;
use sfhooks::scheme::SignatureScheme;
use sfhooks::webhook::{
    parse_envelope, ElementsKey, ElementsVerifier, Envelope, Headers, Secret, Verifier, VerifyError,
};

/// Events listed by name in the one-line summary before it says "and N more".
const SUMMARY_EVENTS: usize = 5;

/// Runs `sfhooks verify`.
pub fn run(args: &VerifyArgs) -> anyhow::Result<u8> {
    let keys = Keys::load(&args.secret, args.signature_scheme, args.tolerance)?;
    let outcome = match &keys {
        Keys::Standard(verifier) => {
            let (Some(id), Some(timestamp)) = (&args.id, &args.timestamp) else {
                return Err(UsageError::new(
                    "--id and --timestamp are required with the standard scheme: pass the webhook-id and webhook-timestamp headers of the delivery",
                )
                .into());
            };
            let body = read_body(args.body_file.as_deref())?;
            let headers = Headers {
                id: Some(id.as_bytes()),
                timestamp: Some(timestamp.as_bytes()),
                signature: Some(args.signature.as_bytes()),
            };
            let now = args.now.unwrap_or_else(unix_now);
            verifier.verify(&headers, &body, now).map(|_| body)
        }
        Keys::Elements(verifier) => {
            if args.id.is_some() || args.timestamp.is_some() {
                return Err(UsageError::new(
                    "--id and --timestamp do not apply to --signature-scheme elements: that scheme signs the body only",
                )
                .into());
            }
            let body = read_body(args.body_file.as_deref())?;
            verifier
                .verify(Some(args.signature.as_bytes()), &body)
                .map(|()| body)
        }
    };
    match outcome {
        Ok(body) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "valid: {}", summarize(&body))?;
            Ok(crate::exit::OK)
        }
        Err(err) => Err(invalid(err, args.now.is_some()).into()),
    }
}

/// The verifier for one scheme, built from the secrets of a [`SecretSource`].
#[derive(Debug)]
pub(crate) enum Keys {
    /// Standard Webhooks v1.
    Standard(Verifier),
    /// Open Connectors.
    Elements(ElementsVerifier),
}

impl Keys {
    /// Reads the secrets and parses them for `scheme`; every failure is a usage error (exit 2)
    /// that names the source and never shows a secret.
    pub(crate) fn load(
        source: &SecretSource,
        scheme: SignatureScheme,
        tolerance_secs: u64,
    ) -> anyhow::Result<Keys> {
        let (origin, secrets) = read_secrets(source)?;
        let bad = |n: usize, err: &dyn std::fmt::Display| {
            UsageError::new(format!(
                "secret {n} of {} in {origin}: {err}",
                secrets.len()
            ))
        };
        Ok(match scheme {
            SignatureScheme::Standard => {
                let parsed = secrets
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Secret::parse(s.expose()).map_err(|e| bad(i + 1, &e)))
                    .collect::<Result<Vec<_>, _>>()?;
                let verifier =
                    Verifier::new(parsed).map_err(|e| UsageError::new(format!("{origin}: {e}")))?;
                Keys::Standard(verifier.with_tolerance(tolerance_secs))
            }
            SignatureScheme::Elements => {
                let parsed = secrets
                    .iter()
                    .enumerate()
                    .map(|(i, s)| ElementsKey::new(s.expose()).map_err(|e| bad(i + 1, &e)))
                    .collect::<Result<Vec<_>, _>>()?;
                let verifier = ElementsVerifier::new(parsed)
                    .map_err(|e| UsageError::new(format!("{origin}: {e}")))?;
                Keys::Elements(verifier)
            }
        })
    }
}

/// The secrets of a source and a description of where they came from (for messages).
fn read_secrets(source: &SecretSource) -> anyhow::Result<(String, Vec<Redacted<String>>)> {
    if let Some(var) = &source.secret_env {
        let origin = format!("${var}");
        let value = std::env::var(var).map_err(|_| {
            UsageError::new(format!(
                "environment variable {var} is not set (or not UTF-8): export the secret there; several are separated by spaces"
            ))
        })?;
        let secrets: Vec<_> = value
            .split_whitespace()
            .map(|s| Redacted::new(s.to_owned()))
            .collect();
        if secrets.is_empty() {
            return Err(UsageError::new(format!(
                "environment variable {var} is empty: export the secret there"
            ))
            .into());
        }
        return Ok((origin, secrets));
    }
    if let Some(path) = &source.secret_file {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError::new(format!("cannot read secret file {origin}: {e}")))?;
        let secrets: Vec<_> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|s| Redacted::new(s.to_owned()))
            .collect();
        if secrets.is_empty() {
            return Err(UsageError::new(format!(
                "secret file {origin} is empty: put one secret per line"
            ))
            .into());
        }
        return Ok((origin, secrets));
    }
    // clap's group makes one of the two required; this is for callers that build args by hand.
    Err(UsageError::new("no secret source: pass --secret-env VAR or --secret-file PATH").into())
}

/// The raw body, byte for byte, from a file or stdin.
fn read_body(path: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match path {
        Some(path) => std::fs::read(path).map_err(|e| {
            UsageError::new(format!("cannot read body file {}: {e}", path.display())).into()
        }),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(UsageError::new(
                    "no body: pass --body-file PATH, or pipe the raw body on stdin",
                )
                .into());
            }
            let mut body = Vec::new();
            stdin
                .lock()
                .read_to_end(&mut body)
                .context("reading the body from stdin")?;
            Ok(body)
        }
    }
}

/// The current Unix time in seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2 events (CREATED Contact 003..., UPDATED Account 001...)`, or why the body is no envelope.
fn summarize(body: &[u8]) -> String {
    match parse_envelope(body) {
        Ok(envelope) => summarize_envelope(&envelope),
        Err(err) => format!("signature ok; {err} ({} bytes)", body.len()),
    }
}

fn summarize_envelope(envelope: &Envelope) -> String {
    let events = &envelope.data.events;
    let noun = if events.len() == 1 { "event" } else { "events" };
    if events.is_empty() {
        return format!("0 events from org {}", envelope.data.org_id);
    }
    let mut listed: Vec<String> = events
        .iter()
        .take(SUMMARY_EVENTS)
        .map(|e| e.summary())
        .collect();
    if events.len() > SUMMARY_EVENTS {
        listed.push(format!("and {} more", events.len() - SUMMARY_EVENTS));
    }
    format!("{} {noun} ({})", events.len(), listed.join(", "))
}

/// The exit-1 error for a refused delivery, with the hint that usually fixes it.
fn invalid(err: VerifyError, now_given: bool) -> Hinted {
    let hint = match &err {
        VerifyError::TooOld { .. } | VerifyError::TooNew { .. } if !now_given => {
            "to check a recorded delivery, pass --now with its webhook-timestamp".to_string()
        }
        VerifyError::TooOld { .. } | VerifyError::TooNew { .. } => {
            "--now and --tolerance decide which timestamps pass".to_string()
        }
        VerifyError::NoMatchingSignature { .. } => {
            "check the body with --body-file holding the bytes exactly as received (no reformatting, same line endings), and that the secret is the one the sender uses".to_string()
        }
        _ => "pass the header values exactly as received".to_string(),
    };
    Hinted {
        message: format!("invalid: {err}"),
        hint,
        code: FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_events_and_counts_the_rest() {
        let event = |t: &str, i: usize| {
            format!(
                r#"{{"eventId":"e{i}","eventType":"{t}","objectType":"Contact","objectId":"003{i}","occurredAt":"x","record":{{}}}}"#
            )
        };
        let body = |events: Vec<String>| {
            format!(
                r#"{{"type":"sfhooks.events","timestamp":"x","data":{{"orgId":"00D1","events":[{}]}}}}"#,
                events.join(",")
            )
        };
        assert_eq!(
            summarize(body(vec![event("CREATED", 1)]).as_bytes()),
            "1 event (CREATED Contact 0031)"
        );
        let seven: Vec<_> = (0..7).map(|i| event("DELETED", i)).collect();
        let s = summarize(body(seven).as_bytes());
        assert!(s.starts_with("7 events (DELETED Contact 0030, "), "{s}");
        assert!(s.ends_with("DELETED Contact 0034, and 2 more)"), "{s}");
        assert_eq!(summarize(body(vec![]).as_bytes()), "0 events from org 00D1");
    }

    #[test]
    fn summary_of_a_foreign_body_says_so() {
        let s = summarize(br#"{"email":"test@example.com"}"#);
        assert!(
            s.starts_with("signature ok; body is not an sfhooks envelope"),
            "{s}"
        );
    }

    #[test]
    fn stale_hint_suggests_now_only_when_it_was_not_given() {
        let stale = VerifyError::TooOld {
            age_secs: 9,
            tolerance_secs: 1,
        };
        assert!(invalid(stale.clone(), false).hint.contains("pass --now"));
        assert!(!invalid(stale, true).hint.contains("pass --now"));
        assert_eq!(
            invalid(
                VerifyError::MissingHeader {
                    header: "webhook-id"
                },
                false
            )
            .code,
            FAILURE
        );
    }
}
