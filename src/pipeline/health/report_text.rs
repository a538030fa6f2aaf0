//! The report for people: one line per part of the org, then the reasons.
use super::super::time::{format_age, format_datetime};
use super::wording::{dead_summary, plural};
use super::{remote_site_allows, same_org, CronJob, Report, Unreadable, LIVE_JOB_STATES};

impl Report {
    /// The report for people: one line per part, then the reasons.
    pub fn to_text(&self) -> String {
        let f = &self.facts;
        let names = &self.expect.names;
        let mut out = String::new();
        let mut line = |label: &str, text: String| {
            out.push_str(&format!("{label:<12}{text}\n"));
        };
        line(
            "org",
            format!(
                "{} {}{}, checked {}",
                f.org.id,
                f.org.name,
                if f.org.sandbox { " (sandbox)" } else { "" },
                format_datetime(f.now)
            ),
        );
        let not_read = |err: &Unreadable| format!("not read: {}", err.detail());
        match &f.outbox {
            Err(err) => line("outbox", not_read(err)),
            Ok(o) => {
                let lag = o
                    .oldest("Pending")
                    .map(|t| format!(" (oldest waiting {})", format_age(f.now - t)))
                    .unwrap_or_default();
                line(
                    "outbox",
                    format!(
                        "Pending {}{lag} · Retrying {} · Dead {} · Delivered {} (kept 7 days)",
                        o.count("Pending"),
                        o.count("Retrying"),
                        o.count("Dead"),
                        o.count("Delivered"),
                    ),
                );
                for row in &o.dead {
                    line(
                        "  dead",
                        format!(
                            "{} {} {} after {} attempts, {}: {}",
                            row.name,
                            row.object.as_deref().unwrap_or("?"),
                            row.event_type.as_deref().unwrap_or("?"),
                            row.attempts.unwrap_or(0),
                            row.last_attempt_at
                                .map(format_datetime)
                                .unwrap_or_else(|| "never attempted".into()),
                            dead_summary(row, 100)
                        ),
                    );
                }
                if o.gap_count() == 0 {
                    line("gaps", "none".into());
                } else {
                    line("gaps", format!("{} gap marker(s)", o.gap_count()));
                    for gap in &o.gaps {
                        line(
                            "  gap",
                            format!(
                                "{} {} {} from {} to {}, {} change(s) not captured; GAP event {}",
                                gap.name,
                                gap.object.as_deref().unwrap_or("?"),
                                gap.reason.as_deref().unwrap_or("?"),
                                gap.from.map(format_datetime).unwrap_or_else(|| "?".into()),
                                gap.to.map(format_datetime).unwrap_or_else(|| "?".into()),
                                gap.count
                                    .map(|c| c.to_string())
                                    .unwrap_or_else(|| "unknown".into()),
                                gap.status.as_deref().unwrap_or("?")
                            ),
                        );
                    }
                }
            }
        }
        match &f.jobs {
            Err(err) => line("sweeper", not_read(err)),
            Ok(jobs) => {
                let sweepers: Vec<&CronJob> = names
                    .sweeper_jobs()
                    .iter()
                    .filter_map(|n| jobs.iter().find(|j| &j.name == n))
                    .collect();
                let live = sweepers
                    .iter()
                    .filter(|j| LIVE_JOB_STATES.contains(&j.state.as_str()))
                    .count();
                let next = sweepers.iter().filter_map(|j| j.next_fire).min();
                let owners: std::collections::BTreeSet<String> = sweepers
                    .iter()
                    .map(|j| match &j.owner {
                        Some(o) if o.active => format!("{} (active)", o.username),
                        Some(o) => format!("{} (INACTIVE)", o.username),
                        None => j.owner_id.clone(),
                    })
                    .collect();
                line(
                    "sweeper",
                    format!(
                        "{live} of 4 jobs scheduled{}{}",
                        next.map(|t| format!(", next {}", format_datetime(t)))
                            .unwrap_or_default(),
                        if owners.is_empty() {
                            String::new()
                        } else {
                            format!(
                                ", owner {}",
                                owners.into_iter().collect::<Vec<_>>().join(", ")
                            )
                        }
                    ),
                );
                for job in jobs
                    .iter()
                    .filter(|j| !names.sweeper_jobs().contains(&j.name))
                {
                    line("  job", format!("{} {}", job.name, job.state));
                }
            }
        }
        match &f.dispatchers {
            Err(err) => line("dispatcher", not_read(err)),
            Ok(jobs) if jobs.is_empty() => line("dispatcher", "none queued or running".into()),
            Ok(jobs) => line(
                "dispatcher",
                jobs.iter()
                    .map(|j| format!("{} {}", j.id, j.status))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        }
        match &f.settings {
            Err(err) => line("settings", not_read(err)),
            Ok(None) => line("settings", "no Default record".into()),
            Ok(Some(s)) => {
                let pin = match s.org_id.as_deref().filter(|id| !id.trim().is_empty()) {
                    None => "pinned to no org".to_string(),
                    Some(id) if same_org(id, &f.org.id) => "pinned to this org".to_string(),
                    Some(id) => format!("pinned to ANOTHER org {id}"),
                };
                line(
                    "settings",
                    format!(
                        "Default record, {}, {pin}; capture {}, delivery {}",
                        if s.secret_set {
                            "secret set"
                        } else {
                            "NO secret"
                        },
                        if s.bypass_capture { "OFF" } else { "on" },
                        if s.bypass_delivery { "OFF" } else { "on" },
                    ),
                );
            }
        }
        match &f.state {
            Err(err) => line("switches", not_read(err)),
            Ok(state) => {
                let s = state.clone().unwrap_or_default();
                let mut set = Vec::new();
                if s.paused {
                    set.push("PAUSED for a deploy".to_string());
                }
                if s.delivery_off {
                    set.push(format!(
                        "delivery OFF: {}",
                        s.delivery_off_reason
                            .as_deref()
                            .unwrap_or("no reason recorded")
                    ));
                }
                if let Some(held) = s.held_reason.as_deref().filter(|r| !r.trim().is_empty()) {
                    set.push(format!("held: {held}"));
                }
                if set.is_empty() {
                    line("switches", "none set by Apex".into());
                } else {
                    line("switches", set.join("; "));
                }
            }
        }
        match &f.remote_site {
            Err(err) => line("remote site", not_read(err)),
            Ok(None) => line("remote site", format!("{} missing", names.remote_site)),
            Ok(Some(s)) => line(
                "remote site",
                format!(
                    "{} {} {}, {}",
                    s.name,
                    s.url,
                    if s.active { "active" } else { "INACTIVE" },
                    if remote_site_allows(&s.url, &self.expect.callback_url) {
                        "allows the callback URL".to_string()
                    } else {
                        format!("does NOT allow {}", self.expect.callback_url)
                    }
                ),
            ),
        }
        if self.reasons.is_empty() {
            out.push_str("\nhealthy\n");
        } else {
            out.push_str(&format!(
                "\n{} thing{} need{} attention:\n",
                self.reasons.len(),
                plural(self.reasons.len() as u64),
                if self.reasons.len() == 1 { "s" } else { "" }
            ));
            for reason in &self.reasons {
                out.push_str(&format!("  {}: {}\n", reason.code, reason.message));
            }
        }
        out
    }
}
