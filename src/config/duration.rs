//! Durations as people write them in sfhooks.toml and flags: `90s`, `5m`, `1h`, `15d`, `0s`.
use std::time::Duration;

/// A duration that cannot be read, with the forms that can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} {value:?} is not a duration: write a whole number and a unit, like 90s, 5m, 1h or 15d"
)]
pub struct DurationError {
    /// Which setting, e.g. `--interval` or `poll.lookback`.
    pub what: String,
    /// The text given.
    pub value: String,
}

/// Reads `<digits><unit>` with unit `s`, `m`, `h` or `d` (a bare `0` is accepted too).
pub fn parse_duration(what: &str, value: &str) -> Result<Duration, DurationError> {
    let err = || DurationError {
        what: what.to_string(),
        value: value.to_string(),
    };
    let v = value.trim();
    if v == "0" {
        return Ok(Duration::ZERO);
    }
    let split = v.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (digits, unit) = v.split_at(split);
    if digits.is_empty() || digits.len() > 9 {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let per = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(err()),
    };
    Ok(Duration::from_secs(n * per))
}

/// Writes a duration back the short way (`5m`, `90s`, `1h`), for messages and `--help`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_four_units() {
        assert_eq!(parse_duration("x", "90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("x", "5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("x", " 1h "), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("x", "15d"),
            Ok(Duration::from_secs(15 * 86_400))
        );
        assert_eq!(parse_duration("x", "0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("x", "0"), Ok(Duration::ZERO));
        for bad in ["", "5", "5x", "m", "-5m", "1.5h", "5 m", "99999999999s"] {
            let err = parse_duration("--interval", bad).unwrap_err();
            assert!(err.to_string().starts_with("--interval"), "{err}");
            assert!(err.to_string().contains("90s, 5m, 1h or 15d"), "{err}");
        }
    }

    #[test]
    fn durations_write_back_short() {
        for s in ["0s", "90s", "5m", "1h", "15d"] {
            assert_eq!(format_duration(parse_duration("x", s).unwrap()), s);
        }
    }
}
