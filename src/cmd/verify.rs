//! `sfhooks verify`: checks one delivery the way a receiver must, from flags, a body file or stdin.
//!
//! The body streams through the HMAC in blocks (constant memory, whatever its size), read once;
//! a second thread scans the same blocks for the envelope's head (events without their records,
//! which it skips at memory speed: `webhook::head_scan`) so the one-line summary costs no second
//! pass and does not slow the hashing down. The summary is printed only once the signature
//! verified.
use std::io::{IsTerminal as _, Read, Write as _};
use std::sync::mpsc;

use anyhow::Context as _;

use crate::cli::VerifyArgs;
use crate::exit::{Hinted, UsageError, FAILURE};
use sfhooks::receiver::{unix_now, Keys};
use sfhooks::scheme::SignatureScheme;
use sfhooks::webhook::{BodyCheck, EnvelopeError, EnvelopeHead, HeadScanner, Headers, VerifyError};

/// Events listed by name in the one-line summary before it says "and N more".
const SUMMARY_EVENTS: usize = 5;
/// Bytes read (and hashed) at a time.
const BLOCK: usize = 256 * 1024;
/// Blocks queued for the envelope parser at most: bounds memory to a few blocks.
const PARSER_QUEUE: usize = 4;

/// Runs `sfhooks verify`.
pub fn run(args: &VerifyArgs) -> anyhow::Result<u8> {
    let source = args.secret.key_source()?;
    let keys = match args.signature_scheme {
        SignatureScheme::Standard => Keys::standard(&source, args.tolerance),
        SignatureScheme::Elements => Keys::elements(&source),
    }
    .map_err(|e| UsageError::new(e.to_string()))?;
    let ts_given = args.id.is_some() || args.timestamp.is_some();
    let check = match &keys {
        Keys::Standard(verifier) => {
            let (Some(id), Some(timestamp)) = (&args.id, &args.timestamp) else {
                return Err(UsageError::new(
                    "--id and --timestamp are required with the standard scheme: pass the webhook-id and webhook-timestamp headers of the delivery",
                )
                .into());
            };
            let headers = Headers {
                id: Some(id.as_bytes()),
                timestamp: Some(timestamp.as_bytes()),
                signature: Some(args.signature.as_bytes()),
            };
            let now = args.now.unwrap_or_else(unix_now);
            verifier.begin(&headers, now)
        }
        Keys::Elements(verifier) => {
            if ts_given {
                return Err(UsageError::new(
                    "--id and --timestamp do not apply to --signature-scheme elements: that scheme signs the body only",
                )
                .into());
            }
            verifier.begin(Some(args.signature.as_bytes()))
        }
    };
    let body = open_body(args.body_file.as_deref())?;
    // Header and timestamp errors are reported before the body is read, as a receiver would.
    let check = match check {
        Ok(check) => check,
        Err(err) => return Err(invalid(err, args.now.is_some()).into()),
    };
    let checked = stream(check, body)?;
    match checked.outcome {
        Ok(_) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "valid: {}", summarize(checked.head, checked.len))?;
            Ok(crate::exit::OK)
        }
        Err(err) => Err(invalid(err, args.now.is_some()).into()),
    }
}

/// The raw body, from a file or stdin.
fn open_body(path: Option<&std::path::Path>) -> anyhow::Result<Box<dyn Read>> {
    match path {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| {
                UsageError::new(format!("cannot read body file {}: {e}", path.display()))
            })?;
            Ok(Box::new(file))
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(UsageError::new(
                    "no body: pass --body-file PATH, or pipe the raw body on stdin",
                )
                .into());
            }
            Ok(Box::new(stdin))
        }
    }
}

/// What streaming the body gave.
struct Checked {
    outcome: Result<(), VerifyError>,
    head: Result<EnvelopeHead, EnvelopeError>,
    len: u64,
}

/// Feeds `body` through the HMAC block by block, and the same blocks to an envelope parser on a
/// second thread.
fn stream(mut check: BodyCheck<'_>, mut body: Box<dyn Read>) -> anyhow::Result<Checked> {
    let (blocks, queue) = mpsc::sync_channel::<Vec<u8>>(PARSER_QUEUE);
    // Scanned blocks come back to be read into again: no allocation (and no fresh zeroed pages)
    // per block.
    let (give_back, returned) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let mut scanner = HeadScanner::new();
            for block in queue {
                if !scanner.feed(&block) {
                    // Dropping the queue tells the reader to stop sending.
                    break;
                }
                let _ = give_back.send(block);
            }
            scanner.finish()
        });
        let mut len = 0u64;
        let mut parser_listening = true;
        // The block to read into once the parser stopped listening (no block comes back then).
        let mut spare: Option<Vec<u8>> = None;
        loop {
            let mut block = spare
                .take()
                .or_else(|| returned.try_recv().ok())
                .unwrap_or_default();
            block.resize(BLOCK, 0);
            let filled = read_block(&mut body, &mut block).context("reading the body")?;
            if filled == 0 {
                break;
            }
            block.truncate(filled);
            check.update(&block);
            len += filled as u64;
            // The parser stops listening once it has failed (the body is no envelope).
            if !parser_listening {
                spare = Some(block);
            } else if let Err(mpsc::SendError(back)) = blocks.send(block) {
                parser_listening = false;
                spare = Some(back);
            }
        }
        drop(blocks);
        let head = parser
            .join()
            .map_err(|_| anyhow::anyhow!("the envelope parser panicked"))?;
        Ok(Checked {
            outcome: check.finish().map(|_| ()),
            head,
            len,
        })
    })
}

/// Reads until `block` is full or the input ends; the number of bytes read.
fn read_block(input: &mut dyn Read, block: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < block.len() {
        match input.read(&mut block[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// `2 events (CREATED Contact 003..., UPDATED Account 001...)`, or why the body is no envelope.
fn summarize(head: Result<EnvelopeHead, EnvelopeError>, len: u64) -> String {
    match head {
        Ok(head) => summarize_envelope(&head),
        Err(err) => format!("signature ok; {err} ({len} bytes)"),
    }
}

fn summarize_envelope(envelope: &EnvelopeHead) -> String {
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

    fn summarize(body: &[u8]) -> String {
        super::summarize(
            sfhooks::webhook::parse_envelope_head(body),
            body.len() as u64,
        )
    }

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
