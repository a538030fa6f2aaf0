//! The judgement: [`evaluate`] turns the facts into a report with one reason per thing that
//! needs attention, and the org and Remote Site comparisons it (and the renderings) rely on.
use super::super::time::format_age;
use super::wording::{dead_summary, plural};
use super::{
    Expect, Facts, GapRow, Reason, Report, Unreadable, GAP_ATTENTION_SECS, LIVE_JOB_STATES,
};

/// The origin a Remote Site Setting must allow for `url`, as the generated one is written:
/// `scheme://host[:port]` (the port only when the URL has one).
pub fn remote_site_origin(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Whether a Remote Site URL allows callouts to `callback`: same scheme, host and port, and the
/// callback's path under the site's path when it has one.
pub fn remote_site_allows(site_url: &str, callback: &url::Url) -> bool {
    let Ok(site) = url::Url::parse(site_url.trim()) else {
        return false;
    };
    site.scheme() == callback.scheme()
        && site
            .host_str()
            .zip(callback.host_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && site.port_or_known_default() == callback.port_or_known_default()
        && callback
            .path()
            .starts_with(site.path().trim_end_matches('/'))
}

/// Whether two org Ids name the same org: the rule the settings pin is made with.
pub use crate::mdapi::same_org;

/// Judges the facts.
pub fn evaluate(facts: Facts, expect: Expect) -> Report {
    let mut reasons = Vec::new();
    let names = &expect.names;
    let mut add = |code: &'static str, message: String| reasons.push(Reason { code, message });

    // A missing object is no sfhooks at all: one reason says what to do. A missing field
    // (INVALID_FIELD) is an older sfhooks, judged below with the other parts.
    let missing_object = matches!(
        &facts.outbox,
        Err(Unreadable::Missing { detail, .. }) if !detail.starts_with("INVALID_FIELD")
    );
    if missing_object {
        add(
            "NOT_DEPLOYED",
            format!(
                "sfhooks is not deployed in this org (no object {}), or this user cannot see \
                 it: deploy with `sfhooks deploy`, or assign the permission set {}",
                names.outbox, names.viewer_permission_set
            ),
        );
        return Report {
            facts,
            expect,
            reasons,
        };
    }

    let unreadable = |what: &str, err: &Unreadable, fix: &str| -> (&'static str, String) {
        match err {
            Unreadable::NoAccess { .. } => (
                "NO_ACCESS",
                format!("cannot read {what}: {}; {fix}", err.detail()),
            ),
            Unreadable::Missing { .. } => (
                "OUTDATED",
                format!(
                    "cannot read {what}: {}; the org has an older sfhooks: redeploy with \
                     `sfhooks deploy`",
                    err.detail()
                ),
            ),
        }
    };
    let viewer = format!("assign the permission set {}", names.viewer_permission_set);
    let setup = "the user needs \"View Setup and Configuration\"".to_string();

    match &facts.outbox {
        Err(err) => {
            let (code, message) = unreadable("the outbox", err, &viewer);
            add(code, message);
        }
        Ok(outbox) => {
            let dead = outbox.count("Dead");
            if dead > 0 {
                let newest = outbox
                    .dead
                    .first()
                    .map(|row| format!(" (newest: {})", dead_summary(row, 80)))
                    .unwrap_or_default();
                add(
                    "DEAD_ROWS",
                    format!(
                        "{dead} Dead row{} in the outbox{newest}: fix the receiver, then \
                         `sfhooks replay --dead`",
                        plural(dead)
                    ),
                );
            }
            if let Some(oldest) = outbox.oldest("Pending") {
                let lag = facts.now - oldest;
                if lag > expect.max_lag_secs {
                    add(
                        "LAG",
                        format!(
                            "the oldest Pending row has waited {} (more than {}): delivery is \
                             not keeping up or not running; see the jobs and switches below",
                            format_age(lag),
                            format_age(expect.max_lag_secs)
                        ),
                    );
                }
            }
            let recent: Vec<&GapRow> = outbox
                .gaps
                .iter()
                .filter(|g| {
                    g.created
                        .is_some_and(|t| facts.now - t <= GAP_ATTENTION_SECS)
                })
                .collect();
            if !recent.is_empty() {
                let objects: std::collections::BTreeSet<&str> =
                    recent.iter().filter_map(|g| g.object.as_deref()).collect();
                add(
                    "GAPS",
                    format!(
                        "{} gap marker{} in the last 24 h ({}): Apex had to skip captures; \
                         receivers resync those objects when the GAP event arrives",
                        recent.len(),
                        plural(recent.len() as u64),
                        objects.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
    }

    match &facts.settings {
        Err(err) => {
            let (code, message) = unreadable("the settings record", err, &viewer);
            add(code, message);
        }
        Ok(None) => add(
            "NO_SETTINGS",
            format!(
                "no settings record {}.Default: nothing can be signed; deploy with a secret \
                 (`sfhooks deploy --secret-file ...`) or add the record in Setup (README)",
                names.settings.trim_end_matches("__mdt")
            ),
        ),
        Ok(Some(settings)) => {
            if !settings.secret_set {
                add(
                    "NO_SECRET",
                    "the settings record has no secret: deliveries cannot be signed; redeploy \
                     with `--secret-file`, or set Secret in Setup > Custom Metadata Types"
                        .into(),
                );
            }
            match settings
                .org_id
                .as_deref()
                .filter(|id| !id.trim().is_empty())
            {
                None => add(
                    "NOT_PINNED",
                    format!(
                        "the settings record names no org: a sandbox copied from this org \
                         would sign and deliver to the same receiver; redeploy with `sfhooks \
                         deploy` (it writes this org's Id {})",
                        facts.org.id
                    ),
                ),
                Some(pinned) if !same_org(pinned, &facts.org.id) => add(
                    "OTHER_ORG",
                    format!(
                        "the settings record is pinned to org {pinned}, but this org is {}: \
                         delivery is held (a sandbox copied from production?); deploy this \
                         org's own settings with `sfhooks deploy`",
                        facts.org.id
                    ),
                ),
                Some(_) => {}
            }
            if settings.bypass_capture {
                add(
                    "CAPTURE_OFF",
                    "the kill switch Bypass Capture is on: changes are not recorded and will \
                     never be sent; untick it in Setup > Custom Metadata Types"
                        .into(),
                );
            }
            if settings.bypass_delivery {
                add(
                    "DELIVERY_OFF",
                    "the kill switch Bypass Delivery is on: rows wait in the outbox; untick it \
                     in Setup > Custom Metadata Types once the receiver is ready"
                        .into(),
                );
            }
        }
    }

    match &facts.state {
        Err(err) => {
            let (code, message) = unreadable("the run-time switches", err, &viewer);
            add(code, message);
        }
        Ok(Some(state)) => {
            if state.paused {
                add(
                    "PAUSED",
                    format!(
                        "the pipeline is paused for a deploy: nothing is sent; if no `sfhooks \
                         deploy` is running, run the Anonymous Apex `{}.restore();`",
                        names.jobs
                    ),
                );
            }
            if state.delivery_off {
                add(
                    "STOPPED_BY_APEX",
                    format!(
                        "Apex switched delivery off: {}; fix the cause, then untick Delivery Off \
                         in Setup > Custom Settings > {}",
                        state
                            .delivery_off_reason
                            .as_deref()
                            .unwrap_or("no reason recorded"),
                        names.state
                    ),
                );
            }
            if let Some(held) = state
                .held_reason
                .as_deref()
                .filter(|r| !r.trim().is_empty())
            {
                add("HELD", format!("the dispatcher holds delivery: {held}"));
            }
        }
        Ok(None) => {}
    }

    match &facts.jobs {
        Err(err) => {
            let (code, message) = unreadable("the scheduled jobs", err, &setup);
            add(code, message);
        }
        Ok(jobs) => {
            let missing: Vec<String> = names
                .sweeper_jobs()
                .into_iter()
                .filter(|name| {
                    !jobs
                        .iter()
                        .any(|j| &j.name == name && LIVE_JOB_STATES.contains(&j.state.as_str()))
                })
                .collect();
            if !missing.is_empty() {
                add(
                    "SWEEPER",
                    format!(
                        "{} of the 4 sweeper jobs {} not scheduled ({}): rows captured without \
                         a dispatcher and due retries wait; run the Anonymous Apex \
                         `{}.scheduleSweeper();` as the user they should run as, or redeploy",
                        missing.len(),
                        if missing.len() == 1 { "is" } else { "are" },
                        missing
                            .iter()
                            .map(|n| match jobs.iter().find(|j| &j.name == n) {
                                Some(j) => format!("{n}: {}", j.state),
                                None => n.clone(),
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        names.jobs
                    ),
                );
            }
            let inactive: std::collections::BTreeSet<&str> = jobs
                .iter()
                .filter_map(|j| j.owner.as_ref())
                .filter(|o| !o.active)
                .map(|o| o.username.as_str())
                .collect();
            for username in inactive {
                add(
                    "JOB_OWNER_INACTIVE",
                    format!(
                        "scheduled jobs belong to {username}, who is no longer an active user: \
                         reschedule them as an active integration user (docs/apex-design.md)"
                    ),
                );
            }
        }
    }

    match &facts.dispatchers {
        Err(err) => {
            let (code, message) = unreadable("the dispatcher jobs", err, &setup);
            add(code, message);
        }
        Ok(jobs) => {
            // One chain at a time: a queued next link beside a running one is
            // normal, two running at once send the same rows twice.
            let running = jobs.iter().filter(|j| j.status == "Processing").count();
            if running > 1 {
                add(
                    "CHAINS",
                    format!(
                        "{running} dispatchers are running at once: they send the same rows and \
                         overwrite each other's outcomes; redeploy the current sfhooks, which \
                         keeps one chain"
                    ),
                );
            }
        }
    }

    let origin = remote_site_origin(&expect.callback_url);
    match &facts.remote_site {
        Err(err) => {
            let (code, message) = unreadable("the Remote Site Settings", err, &setup);
            add(code, message);
        }
        Ok(None) => add(
            "REMOTE_SITE",
            format!(
                "there is no Remote Site Setting {}: every callout to {origin} is refused; \
                 redeploy with `sfhooks deploy`",
                names.remote_site
            ),
        ),
        Ok(Some(site)) => {
            if !remote_site_allows(&site.url, &expect.callback_url) {
                add(
                    "REMOTE_SITE",
                    format!(
                        "the Remote Site Setting {} allows {}, not the callback URL {}: \
                         callouts are refused; redeploy with this configuration",
                        site.name, site.url, expect.callback_url
                    ),
                );
            } else if !site.active {
                add(
                    "REMOTE_SITE",
                    format!(
                        "the Remote Site Setting {} is inactive: callouts to {origin} are \
                         refused; activate it in Setup > Remote Site Settings",
                        site.name
                    ),
                );
            }
        }
    }

    Report {
        facts,
        expect,
        reasons,
    }
}
