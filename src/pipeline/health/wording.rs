//! Wording shared by the judgement and the renderings: plurals, one-line shortening and the
//! summary of a Dead row's last error.
use super::DeadRow;

pub(super) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Cuts a text to `max` characters on one line, with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

pub(super) fn dead_summary(row: &DeadRow, max: usize) -> String {
    let status = row
        .status_code
        .map(|c| format!("HTTP {c}"))
        .unwrap_or_else(|| "no answer".into());
    match &row.last_error {
        // The Apex writes "HTTP 503: ..." itself; say the status once.
        Some(err) if err.trim_start().starts_with(&status) => shorten(err, max),
        Some(err) if !err.trim().is_empty() => format!("{status}, {}", shorten(err, max)),
        _ => status,
    }
}
