//! Prints the poller's notes: one line per window and per delivery on stderr (a progress line
//! instead on a terminal), warnings always; with `--json` one JSON object per line on stdout.
use std::io::{IsTerminal as _, Write as _};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use serde_json::json;

use sfhooks::poll::clock::format_ms;
use sfhooks::poll::store::{OutboxCounts, Outcome};
use sfhooks::poll::Note;

/// What the printer counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    pub delivered: usize,
}

pub struct Printer {
    handle: JoinHandle<Seen>,
}

impl Printer {
    pub fn start(rx: Receiver<Note>, json: bool) -> Printer {
        let tty = !json && std::io::stderr().is_terminal();
        let handle = std::thread::spawn(move || {
            let mut seen = Seen::default();
            let mut events = 0i64;
            for note in rx {
                if let Note::Delivery {
                    outcome: Outcome::Delivered,
                    events: n,
                    ..
                } = &note
                {
                    seen.delivered += 1;
                    events += n;
                }
                if json {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{}", to_json(&note));
                    let _ = out.flush();
                    continue;
                }
                let (line, important) = to_text(&note);
                let mut err = std::io::stderr().lock();
                if tty && !important {
                    let _ = write!(
                        err,
                        "\r\x1b[2K{} deliveries, {events} events delivered · {line}",
                        seen.delivered
                    );
                } else {
                    let _ = writeln!(err, "{}{line}", if tty { "\r\x1b[2K" } else { "" });
                }
                let _ = err.flush();
            }
            if tty {
                let _ = writeln!(std::io::stderr());
            }
            seen
        });
        Printer { handle }
    }

    /// Waits for the last note (the senders are gone once the run returned).
    pub fn finish(self) -> Seen {
        self.handle.join().unwrap_or_default()
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry(_) => "retrying",
        Outcome::Dead => "dead",
    }
}

fn to_json(note: &Note) -> serde_json::Value {
    match note {
        Note::Window {
            org,
            object,
            from,
            to,
            rows,
            events,
        } => json!({"kind": "window", "org": org,
            "object": object, "from": format_ms(*from), "to": format_ms(*to), "rows": rows, "events": events}),
        Note::Delivery {
            org,
            object,
            webhook_id,
            events,
            outcome,
            http_status,
            attempt,
            error,
        } => {
            let mut v = json!({"kind": "delivery", "org": org, "object": object, "webhookId": webhook_id,
                "events": events, "status": outcome_name(*outcome), "httpStatus": http_status,
                "attempt": attempt, "error": error});
            if let Outcome::Retry(at) = outcome {
                v["nextAttemptAt"] = json!(format_ms(*at));
            }
            v
        }
        Note::Gap {
            org,
            object,
            from,
            to,
            message,
        } => json!({"kind": "gap", "org": org, "object": object,
            "from": format_ms(*from), "to": format_ms(*to), "reason": "DELETE_LOG_PURGED", "message": message}),
        Note::Paused {
            org,
            used,
            max,
            threshold,
        } => json!({"kind": "paused", "org": org,
            "reason": "api-usage", "usage": [used, max], "threshold": threshold}),
        Note::OrgFailed {
            org,
            error,
            auth,
            config,
        } => json!({"kind": "org-failed", "org": org, "error": error,
            "auth": auth, "config": config}),
    }
}

/// The text line, and whether it must stay on screen (warnings, errors).
fn to_text(note: &Note) -> (String, bool) {
    match note {
        Note::Window { org, object, from, to, rows, events } => (
            format!("poll {org} {object} {}..{}: {rows} rows, {events} events", format_ms(*from), format_ms(*to)),
            false,
        ),
        Note::Delivery { org, webhook_id, events, outcome, http_status, attempt, error, .. } => {
            // A delivery without an HTTP status was published into JetStream and acknowledged.
            let status = http_status.map_or_else(|| "acknowledged by JetStream".into(), |s| format!("HTTP {s}"));
            let line = match outcome {
                Outcome::Delivered => format!("delivered {webhook_id} ({events} events, org {org}): {status}"),
                Outcome::Retry(at) => format!(
                    "retrying {webhook_id} (org {org}, attempt {attempt}): {}; next attempt {}",
                    error.as_deref().unwrap_or(""),
                    format_ms(*at)
                ),
                Outcome::Dead => format!(
                    "warning: dead {webhook_id} (org {org}, attempt {attempt}): {}; fix the receiver, then \
                     `sfhooks poll replay --dead --org {org}`",
                    error.as_deref().unwrap_or("")
                ),
            };
            let important = !matches!(outcome, Outcome::Delivered);
            (line, important)
        }
        Note::Gap { message, .. } => (format!("warning: {message}"), true),
        Note::Paused { org, used, max, threshold } => (
            format!(
                "warning: org {org:?} paused: its API usage {used}/{max} is at or above {threshold} % of \
                 the daily limit (a rolling 24 hours); no more requests until it falls back under, \
                 checked with one request every 15 minutes; its deliveries go on"
            ),
            true,
        ),
        Note::OrgFailed { org, error, .. } => (format!("error: org {org:?}: {error}"), true),
    }
}

/// The last line: what this run delivered and what is left.
pub fn summary(json: bool, delivered: usize, counts: &OutboxCounts) -> anyhow::Result<()> {
    if json {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}",
            json!({"kind": "summary", "delivered": delivered, "pending": counts.pending + counts.retrying,
                "retrying": counts.retrying, "dead": counts.dead})
        )?;
        return Ok(());
    }
    eprintln!(
        "sfhooks poll: {delivered} deliveries sent; {} pending, {} retrying, {} dead",
        counts.pending, counts.retrying, counts.dead
    );
    Ok(())
}
