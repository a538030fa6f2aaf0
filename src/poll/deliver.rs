//! Sending one built delivery to the callback URL, signed as the generated Apex signs
//! (`Delivery.request` and `Signer`): `Content-Type: application/json`, then Standard Webhooks
//! `webhook-id`, `webhook-timestamp` (this attempt's time) and `webhook-signature` (one `v1,`
//! signature per secret during a rotation), or the Open Connectors `Elements-Webhook-Signature`.
//!
//! What an answer means follows the Apex dispatcher: 2xx delivered; 408, 429, 5xx and no answer
//! are retried with a doubling delay (at least the configured one, at most an hour, `Retry-After`
//! honoured up to an hour) until the retry horizon has passed since the first attempt; any other
//! status (3xx, 4xx, among them 410 Gone) is dead at once, since sending the same bytes again
//! cannot change the answer: fix the receiver, then `sfhooks poll replay --dead`.
use std::time::Duration;

use super::store::{Outcome, Pending};
use crate::webhook::{sign_all, sign_elements, wire, ElementsKey, Secret};

/// How deliveries are signed.
#[derive(Clone)]
pub enum Signing {
    /// Standard Webhooks, with the current secret first and the previous one during a rotation.
    Standard(Vec<Secret>),
    /// Open Connectors.
    Elements(ElementsKey),
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signing::Standard(s) => write!(f, "Standard({} secrets, [redacted])", s.len()),
            Signing::Elements(_) => f.write_str("Elements([redacted])"),
        }
    }
}

/// The retry rules.
#[derive(Debug, Clone, Copy)]
pub struct RetryRules {
    /// The first delay.
    pub first_delay: Duration,
    /// How long after the first attempt a delivery is given up.
    pub retry_for: Duration,
}

/// The longest delay between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// What one attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The new state of the delivery.
    pub outcome: Outcome,
    /// The HTTP status, if there was an answer.
    pub http_status: Option<u16>,
    /// What went wrong (never a body or a secret).
    pub error: Option<String>,
}

/// Sends one delivery at `now` (ms, local clock) and judges the answer.
pub fn attempt(
    http: &reqwest::blocking::Client,
    url: &url::Url,
    signing: &Signing,
    pending: &Pending,
    now_ms: i64,
    rules: RetryRules,
) -> Attempt {
    let mut request = http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    match signing {
        Signing::Standard(secrets) => {
            let ts = now_ms.div_euclid(1000);
            request = request
                .header(wire::HEADER_ID, &pending.webhook_id)
                .header(wire::HEADER_TIMESTAMP, ts.to_string())
                .header(
                    wire::HEADER_SIGNATURE,
                    sign_all(secrets, &pending.webhook_id, ts, &pending.body),
                );
        }
        Signing::Elements(key) => {
            request = request.header(
                wire::ELEMENTS_HEADER_SIGNATURE,
                sign_elements(key, &pending.body),
            );
        }
    }
    let sent = request.body(pending.body.clone()).send();
    let (status, retry_after, error) = match sent {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let retry_after = answer
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Drain a little of the body so the connection can be reused; never log it.
            let _ = answer.bytes();
            (Some(status), retry_after, None)
        }
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection refused or unreachable"
            } else {
                "the connection failed"
            };
            (
                None,
                None,
                Some(format!("no answer from {}: {what}", host_of(url))),
            )
        }
    };
    judge(status, retry_after, error, pending, now_ms, rules)
}

fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => "the receiver".into(),
    }
}

/// The outcome of an answer (or of none), by the rules above.
pub fn judge(
    status: Option<u16>,
    retry_after: Option<Duration>,
    error: Option<String>,
    pending: &Pending,
    now_ms: i64,
    rules: RetryRules,
) -> Attempt {
    if let Some(s) = status.filter(|s| (200..300).contains(s)) {
        return Attempt {
            outcome: Outcome::Delivered,
            http_status: Some(s),
            error: None,
        };
    }
    let retryable = match status {
        None => true,
        Some(s) => s == 408 || s == 429 || s >= 500,
    };
    let error = error.unwrap_or_else(|| match status {
        Some(410) => "the receiver answered 410 Gone".to_string(),
        Some(s) => format!("the receiver answered HTTP {s}"),
        None => "no answer".to_string(),
    });
    let first = pending.first_attempt_at.unwrap_or(now_ms);
    let horizon = first + super::clock::ms(rules.retry_for);
    let doubling = rules
        .first_delay
        .saturating_mul(1u32 << pending.attempts.clamp(0, 16))
        .min(MAX_DELAY);
    // Retry-After may ask for longer than the doubling, never for less than it (up to an hour).
    let delay = retry_after.map_or(doubling, |r| r.min(MAX_DELAY).max(doubling));
    let next = now_ms + super::clock::ms(delay);
    let outcome = if retryable && now_ms < horizon {
        Outcome::Retry(next)
    } else {
        Outcome::Dead
    };
    Attempt {
        outcome,
        http_status: status,
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(attempts: i64, first: Option<i64>) -> Pending {
        Pending {
            seq: 1,
            object: "Contact".into(),
            webhook_id: "msg_1".into(),
            body: b"{}".to_vec(),
            events: 1,
            attempts,
            first_attempt_at: first,
        }
    }

    const RULES: RetryRules = RetryRules {
        first_delay: Duration::from_secs(60),
        retry_for: Duration::from_secs(86_400),
    };

    #[test]
    fn answers_are_judged_like_the_apex_dispatcher() {
        assert_eq!(
            judge(Some(204), None, None, &pending(0, None), 0, RULES).outcome,
            Outcome::Delivered
        );
        assert_eq!(
            judge(Some(503), None, None, &pending(0, None), 0, RULES).outcome,
            Outcome::Retry(60_000)
        );
        assert_eq!(
            judge(Some(429), None, None, &pending(2, Some(0)), 0, RULES).outcome,
            Outcome::Retry(240_000)
        );
        assert_eq!(
            judge(
                None,
                None,
                Some("x".into()),
                &pending(30, Some(0)),
                0,
                RULES
            )
            .outcome,
            Outcome::Retry(3_600_000)
        );
        let gone = judge(Some(410), None, None, &pending(0, None), 0, RULES);
        assert_eq!(gone.outcome, Outcome::Dead);
        assert!(gone.error.unwrap().contains("410 Gone"));
        assert_eq!(
            judge(Some(400), None, None, &pending(0, None), 0, RULES).outcome,
            Outcome::Dead
        );
        assert_eq!(
            judge(Some(302), None, None, &pending(0, None), 0, RULES).outcome,
            Outcome::Dead
        );
        // Retry-After is honoured (up to an hour).
        assert_eq!(
            judge(
                Some(503),
                Some(Duration::from_secs(600)),
                None,
                &pending(0, None),
                0,
                RULES
            )
            .outcome,
            Outcome::Retry(600_000)
        );
        // Past the horizon: dead.
        let late = 86_400_000;
        assert_eq!(
            judge(Some(503), None, None, &pending(5, Some(0)), late, RULES).outcome,
            Outcome::Dead
        );
        let never = RetryRules {
            retry_for: Duration::ZERO,
            ..RULES
        };
        assert_eq!(
            judge(Some(503), None, None, &pending(0, None), 0, never).outcome,
            Outcome::Dead
        );
        let immediate = RetryRules {
            first_delay: Duration::ZERO,
            ..RULES
        };
        assert_eq!(
            judge(Some(503), None, None, &pending(0, None), 5, immediate).outcome,
            Outcome::Retry(5)
        );
    }
}
