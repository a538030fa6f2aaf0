//! Instants of the poller: milliseconds since the epoch on the org's clock, read from and written
//! as Salesforce writes them (`2026-12-07T10:00:00.000+0000`), and as SOQL literals (unquoted,
//! second precision: FACTS.md "REST API for polling").
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::pipeline::time::{format_datetime, parse_datetime};

/// Reads a Salesforce datetime to milliseconds, keeping the fraction.
pub fn parse_ms(value: &str) -> Option<i64> {
    let secs = parse_datetime(value)?;
    let frac = value
        .split_once('T')
        .and_then(|(_, t)| t.split_once('.'))
        .map(|(_, rest)| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .chain("000".chars())
                .take(3)
                .collect::<String>()
        })
        .and_then(|ms| ms.parse::<i64>().ok())
        .unwrap_or(0);
    Some(secs * 1000 + frac)
}

/// Writes milliseconds the way the envelope carries times: `2026-12-07T10:00:00.000Z`.
pub fn format_ms(ms: i64) -> String {
    let secs = format_datetime(ms.div_euclid(1000));
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// A SOQL datetime literal (second precision, the fraction dropped).
pub fn soql_literal(ms: i64) -> String {
    format_datetime(ms.div_euclid(1000))
}

/// The org's clock as last read from an answer's `Date` header, carried forward by the local
/// monotonic clock between answers (never the local wall clock, which may be off).
#[derive(Debug, Clone, Copy)]
pub struct OrgClock {
    at_answer: i64,
    read_at: Instant,
}

impl OrgClock {
    /// The clock of an answer received just now.
    pub fn from_answer(date: SystemTime) -> OrgClock {
        let ms = date
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        OrgClock {
            at_answer: ms,
            read_at: Instant::now(),
        }
    }

    /// The org's time now (ms).
    pub fn now(&self) -> i64 {
        self.at_answer + i64::try_from(self.read_at.elapsed().as_millis()).unwrap_or(0)
    }
}

/// The local wall clock in ms, for the poller's own schedule (retries, retention), never for
/// windows.
pub fn local_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration in ms.
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_times_keep_their_milliseconds() {
        let t = parse_ms("2026-12-07T10:00:00.250+0000").unwrap();
        assert_eq!(format_ms(t), "2026-12-07T10:00:00.250Z");
        assert_eq!(parse_ms("2026-12-07T10:00:00Z"), Some(t - 250));
        assert_eq!(parse_ms("2026-12-07T10:00:00.5Z"), Some(t + 250));
        assert_eq!(soql_literal(t), "2026-12-07T10:00:00Z");
        assert_eq!(parse_ms("nope"), None);
    }
}
