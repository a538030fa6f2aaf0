//! UTC timestamps as Unix seconds: reading Salesforce's datetimes, writing SOQL datetime
//! literals, and reading `--since`. Small on purpose: the pipeline compares and subtracts
//! instants at second precision (SOQL compares at second precision too, FACTS.md "REST API"),
//! and needs no calendar beyond the proleptic Gregorian one.

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot read the time {value:?}: use an ISO 8601 UTC time (2026-12-06T10:15:30Z), a date \
     (2026-12-06, midnight UTC) or an age (90m, 6h, 2d)"
)]
pub struct TimeError {
    /// The value as given.
    pub value: String,
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn number(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD` as Unix seconds at midnight UTC.
fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (i64::from(number(y)?), number(m)?, number(d)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

/// Reads a datetime as Salesforce writes it (`2026-12-07T01:24:21.000+0000`) or as ISO 8601
/// with `Z` or a `+hh:mm` offset; fractions of a second are dropped.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once('T')?;
    let day = parse_date(date)?;
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let clock = clock.split_once('.').map_or(
        clock,
        |(c, frac)| {
            if number(frac).is_some() {
                c
            } else {
                "bad"
            }
        },
    );
    let mut hms = clock.splitn(3, ':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec) = (number(h)?, number(m)?, number(sec)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let offset_secs = match offset {
        "Z" | "z" => 0,
        _ => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 {
                return None;
            }
            let (oh, om) = (number(&digits[..2])?, number(&digits[2..])?);
            sign * i64::from(oh * 3600 + om * 60)
        }
    };
    Some(day + i64::from(h * 3600 + m * 60 + sec) - offset_secs)
}

/// Unix seconds as an ISO 8601 UTC time, `2026-12-07T01:24:21Z`: also a SOQL datetime literal.
pub fn format_datetime(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn format_age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => match s % 3600 / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        s => match s % 86_400 / 3600 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    }
}

/// Reads `--since`: an ISO 8601 time, a date (midnight UTC), or an age before `now`
/// (`90m`, `6h`, `2d`, `1w`).
pub fn parse_since(value: &str, now: i64) -> Result<i64, TimeError> {
    let err = || TimeError {
        value: value.to_string(),
    };
    let v = value.trim();
    if let Some(secs) = parse_datetime(v).or_else(|| parse_date(v)) {
        return Ok(secs);
    }
    let unit = v.chars().last().ok_or_else(err)?;
    let per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(err()),
    };
    let n = number(&v[..v.len() - 1]).ok_or_else(err)?;
    Ok(now - i64::from(n) * per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_datetimes_read_and_write_back() {
        let t = parse_datetime("2026-12-07T01:24:21.000+0000").unwrap();
        assert_eq!(format_datetime(t), "2026-12-07T01:24:21Z");
        assert_eq!(parse_datetime("2026-12-07T01:24:21Z"), Some(t));
        assert_eq!(parse_datetime("2026-12-07T02:24:21+01:00"), Some(t));
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_datetime(951_782_400), "2000-02-29T00:00:00Z");
        for bad in [
            "2026-12-07",
            "2026-13-07T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-12-07T24:00:00Z",
            "2026-12-07T01:24:21",
            "2026-12-07T01:24:21.x+0000",
            "yesterday",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn since_takes_times_dates_and_ages() {
        let now = parse_datetime("2026-12-07T12:00:00Z").unwrap();
        assert_eq!(
            parse_since("2026-12-06T10:15:30Z", now).map(format_datetime),
            Ok("2026-12-06T10:15:30Z".into())
        );
        assert_eq!(
            parse_since("2026-12-06", now).map(format_datetime),
            Ok("2026-12-06T00:00:00Z".into())
        );
        assert_eq!(parse_since("6h", now), Ok(now - 6 * 3600));
        assert_eq!(parse_since("90m", now), Ok(now - 90 * 60));
        assert_eq!(parse_since("2d", now), Ok(now - 2 * 86_400));
        for bad in ["", "h", "-6h", "6y", "six hours"] {
            let err = parse_since(bad, now).unwrap_err();
            assert!(err.to_string().contains("90m, 6h, 2d"), "{err}");
        }
    }

    #[test]
    fn ages_read_like_people_say_them() {
        assert_eq!(format_age(-5), "0 s");
        assert_eq!(format_age(59), "59 s");
        assert_eq!(format_age(125), "2 min");
        assert_eq!(format_age(3600), "1 h");
        assert_eq!(format_age(3 * 3600 + 300), "3 h 5 min");
        assert_eq!(format_age(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }
}
