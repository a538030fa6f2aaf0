//! Durations as `--dup-window` and friends write them: `90s`, `15m`, `24h`, `7d`.
use std::time::Duration;

/// `24h`, `5m`, `300s`: the largest whole unit.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if d.subsec_millis() == 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Parses `90`, `90s`, `15m`, `24h` or `7d` (seconds when no unit is given).
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let (digits, unit) = value
        .find(|c: char| !c.is_ascii_digit())
        .map_or((value, ""), |i| value.split_at(i));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} is not a duration: write 90s, 15m, 24h or 7d"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{value:?} is not a duration: write 90s, 15m, 24h or 7d"))?;
    Ok(Duration::from_secs(secs))
}
