//! The health of the pipeline: the facts read from one org ([`Facts`]), what they are expected
//! to be ([`Expect`]), and the judgement ([`evaluate`] -> [`Report`]), with one [`Reason`] per
//! thing that needs attention. Pure: no I/O, no clock (the org's clock comes in [`Facts::now`]).
//!
//! Each part of the org is read on its own and may fail on its own ([`Unreadable`]): a user who
//! may read the outbox but not Setup still gets the outbox judged, plus a reason naming what
//! could not be read and the permission that reads it.
use serde_json::{json, Value};

use super::names::Names;
use super::time::{format_age, format_datetime};

/// The `CronTrigger.State` values of a job that will run again (Object Reference,
/// "CronTrigger": WAITING, ACQUIRED, EXECUTING; the others are COMPLETE, ERROR, DELETED,
/// PAUSED, BLOCKED, PAUSED_BLOCKED).
pub const LIVE_JOB_STATES: [&str; 3] = ["WAITING", "ACQUIRED", "EXECUTING"];

/// How many Dead rows and gap markers the report lists.
pub const LISTED_ROWS: u32 = 5;

/// Gap markers younger than this need attention; older ones are only listed.
pub const GAP_ATTENTION_SECS: i64 = 24 * 3600;

/// A part of the org that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// The object or a field does not exist for this user (`INVALID_TYPE`, `INVALID_FIELD`):
    /// not deployed, deployed by an older sfhooks, or hidden from this user.
    Missing {
        /// What was asked for.
        object: String,
        /// Salesforce's message, shortened.
        detail: String,
    },
    /// The user may not read it (`INSUFFICIENT_ACCESS...`).
    NoAccess {
        /// What was asked for.
        object: String,
        /// Salesforce's message, shortened.
        detail: String,
    },
}

impl Unreadable {
    fn detail(&self) -> &str {
        match self {
            Unreadable::Missing { detail, .. } | Unreadable::NoAccess { detail, .. } => detail,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Unreadable::Missing { object, detail } => {
                json!({"error": "missing", "object": object, "message": detail})
            }
            Unreadable::NoAccess { object, detail } => {
                json!({"error": "noAccess", "object": object, "message": detail})
            }
        }
    }
}

/// One part of the facts: read, or why not.
pub type Part<T> = Result<T, Unreadable>;

/// The org itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// The 18-character org Id.
    pub id: String,
    /// The org's name.
    pub name: String,
    /// Whether it is a sandbox.
    pub sandbox: bool,
}

/// One group of outbox rows: a status and an event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `Status__c`.
    pub status: String,
    /// `Event_Type__c` (`GAP` for gap markers).
    pub event_type: Option<String>,
    /// How many rows.
    pub count: u64,
    /// The oldest `CreatedDate` among them.
    pub oldest: Option<i64>,
}

/// A Dead row, with its last error (never its payload).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeadRow {
    /// Record Id.
    pub id: String,
    /// Auto-number name.
    pub name: String,
    /// `Object_Type__c`.
    pub object: Option<String>,
    /// `Event_Type__c`.
    pub event_type: Option<String>,
    /// `Attempts__c`.
    pub attempts: Option<u32>,
    /// `Last_Status_Code__c`.
    pub status_code: Option<u16>,
    /// `Last_Error__c`.
    pub last_error: Option<String>,
    /// `Last_Attempt_At__c`.
    pub last_attempt_at: Option<i64>,
}

/// A gap marker: a capture Apex had to skip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GapRow {
    /// Record Id.
    pub id: String,
    /// Auto-number name.
    pub name: String,
    /// `Object_Type__c`: what receivers must resync.
    pub object: Option<String>,
    /// `Status__c`: whether the GAP event reached the receiver yet.
    pub status: Option<String>,
    /// When the gap was recorded.
    pub created: Option<i64>,
    /// `Gap_From__c`: start of the range not captured.
    pub from: Option<i64>,
    /// `Gap_To__c`: its end.
    pub to: Option<i64>,
    /// `Gap_Count__c`: changes not captured, when known.
    pub count: Option<u64>,
    /// `Gap_Reason__c`: `DML_ROWS`, `ENQUEUE_LIMIT`, `CPU`, `HEAP` (briefs/gap.md).
    pub reason: Option<String>,
}

/// The outbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbox {
    /// Rows by status and event type.
    pub groups: Vec<Group>,
    /// The newest Dead rows.
    pub dead: Vec<DeadRow>,
    /// The newest gap markers.
    pub gaps: Vec<GapRow>,
}

impl Outbox {
    /// Rows of one status, gap markers included.
    pub fn count(&self, status: &str) -> u64 {
        self.groups
            .iter()
            .filter(|g| g.status == status)
            .map(|g| g.count)
            .sum()
    }

    /// The oldest capture time among the rows of one status.
    pub fn oldest(&self, status: &str) -> Option<i64> {
        self.groups
            .iter()
            .filter(|g| g.status == status)
            .filter_map(|g| g.oldest)
            .min()
    }

    /// How many gap markers the outbox holds.
    pub fn gap_count(&self) -> u64 {
        self.groups
            .iter()
            .filter(|g| g.event_type.as_deref() == Some(super::soql::GAP_EVENT_TYPE))
            .map(|g| g.count)
            .sum()
    }
}

/// The settings record (`<Prefix>_Settings.Default`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `Org_Id__c`: the org the record was made for.
    pub org_id: Option<String>,
    /// `Bypass_Capture__c`.
    pub bypass_capture: bool,
    /// `Bypass_Delivery__c`.
    pub bypass_delivery: bool,
    /// Whether `Secret__c` is set (found by a filter; the value is never read).
    pub secret_set: bool,
}

/// The run-time switches Apex itself writes: the organization default of `<Prefix>_State__c`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeState {
    /// `Paused__c`: set by `sfhooks deploy` around a deploy (`<Prefix>Jobs.pause()`).
    pub paused: bool,
    /// `Delivery_Off__c`: set by a 410 Gone answer or the sandbox copy script; only an admin
    /// clears it.
    pub delivery_off: bool,
    /// `Delivery_Off_Reason__c`.
    pub delivery_off_reason: Option<String>,
    /// `Held_Reason__c`: why the dispatcher holds delivery (an org mismatch, ...), or none.
    pub held_reason: Option<String>,
}

/// The owner of a scheduled job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `User.Username`.
    pub username: String,
    /// `User.IsActive`.
    pub active: bool,
}

/// A scheduled job (`CronTrigger`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CronJob {
    /// `CronTrigger.Id`.
    pub id: String,
    /// `CronJobDetail.Name`.
    pub name: String,
    /// `State`.
    pub state: String,
    /// `NextFireTime`.
    pub next_fire: Option<i64>,
    /// `PreviousFireTime`.
    pub previous_fire: Option<i64>,
    /// `OwnerId`.
    pub owner_id: String,
    /// The owner, when the User could be read.
    pub owner: Option<Owner>,
}

/// A dispatcher job that has not ended (`AsyncApexJob`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsyncJob {
    /// `AsyncApexJob.Id`.
    pub id: String,
    /// `Status`: Holding, Queued, Preparing or Processing.
    pub status: String,
    /// `CreatedDate`.
    pub created: Option<i64>,
}

/// The Remote Site Setting (`RemoteProxy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteSite {
    /// `SiteName`.
    pub name: String,
    /// `EndpointUrl`.
    pub url: String,
    /// `IsActive`.
    pub active: bool,
}

/// Everything read from the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The org's clock (the `Date` of an answer), Unix seconds.
    pub now: i64,
    /// The org.
    pub org: Org,
    /// The outbox.
    pub outbox: Part<Outbox>,
    /// The settings record; `None` when there is none.
    pub settings: Part<Option<Settings>>,
    /// The run-time switches; `None` when Apex never set any.
    pub state: Part<Option<RuntimeState>>,
    /// Scheduled jobs whose name starts with the prefix.
    pub jobs: Part<Vec<CronJob>>,
    /// Dispatcher jobs that have not ended.
    pub dispatchers: Part<Vec<AsyncJob>>,
    /// The Remote Site Setting; `None` when there is none.
    pub remote_site: Part<Option<RemoteSite>>,
    /// `Sforce-Limit-Info` of the last answer: daily API requests used and allowed.
    pub api_usage: Option<(u64, u64)>,
}

/// What the facts are judged against.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The generated names.
    pub names: Names,
    /// The configured callback URL.
    pub callback_url: url::Url,
    /// The oldest Pending row may wait this long.
    pub max_lag_secs: i64,
}

/// One thing that needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// A stable code for scripts, upper snake case (`DEAD_ROWS`).
    pub code: &'static str,
    /// What is wrong and what to do, one line.
    pub message: String,
}

/// The judgement.
#[derive(Debug, Clone)]
pub struct Report {
    /// The facts it is based on.
    pub facts: Facts,
    /// What it was judged against.
    pub expect: Expect,
    /// Every reason for attention; empty when healthy.
    pub reasons: Vec<Reason>,
}

impl Report {
    /// True when nothing needs attention.
    pub fn healthy(&self) -> bool {
        self.reasons.is_empty()
    }
}

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

/// Two org Ids are the same org when their first 15 characters are (the 18-character form adds
/// a case-insensitivity checksum).
pub fn same_org(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    a.len() >= 15 && b.len() >= 15 && a.get(..15) == b.get(..15)
}

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
            // One chain at a time (issue 9 section 4): a queued next link beside a running one is
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

fn plural(n: u64) -> &'static str {
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

fn dead_summary(row: &DeadRow, max: usize) -> String {
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

fn opt_time(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_datetime(t)))
}

fn part_json<T>(part: &Part<T>, f: impl FnOnce(&T) -> Value) -> Value {
    match part {
        Ok(value) => f(value),
        Err(err) => err.to_json(),
    }
}

impl Report {
    /// The exit code: 0 healthy, 1 something needs attention.
    pub fn code(&self) -> u8 {
        u8::from(!self.healthy())
    }

    /// The report as one JSON object (the shape `--json` prints; README documents it).
    pub fn to_json(&self) -> Value {
        let f = &self.facts;
        let names = &self.expect.names;
        let outbox = part_json(&f.outbox, |o| {
            let oldest_pending = o.oldest("Pending");
            json!({
                "object": names.outbox,
                "pending": o.count("Pending"),
                "retrying": o.count("Retrying"),
                "dead": o.count("Dead"),
                "delivered": o.count("Delivered"),
                "oldestPendingAt": opt_time(oldest_pending),
                "lagSeconds": oldest_pending.map(|t| (f.now - t).max(0)),
                "newestDead": o.dead.iter().map(|r| json!({
                    "id": r.id,
                    "name": r.name,
                    "objectType": r.object,
                    "eventType": r.event_type,
                    "attempts": r.attempts,
                    "lastStatusCode": r.status_code,
                    "lastError": r.last_error.as_deref().map(|e| shorten(e, 255)),
                    "lastAttemptAt": opt_time(r.last_attempt_at),
                })).collect::<Vec<_>>(),
                "gaps": o.gap_count(),
                "newestGaps": o.gaps.iter().map(|g| json!({
                    "id": g.id,
                    "name": g.name,
                    "objectType": g.object,
                    "status": g.status,
                    "createdAt": opt_time(g.created),
                    "from": opt_time(g.from),
                    "to": opt_time(g.to),
                    "count": g.count,
                    "reason": g.reason,
                })).collect::<Vec<_>>(),
            })
        });
        let settings = part_json(&f.settings, |s| match s {
            None => json!({"exists": false}),
            Some(s) => {
                let pinned = s.org_id.as_deref().filter(|id| !id.trim().is_empty());
                json!({
                    "exists": true,
                    "secretSet": s.secret_set,
                    "orgId": pinned,
                    "orgIdMatches": pinned.map(|p| same_org(p, &f.org.id)),
                    "bypassCapture": s.bypass_capture,
                    "bypassDelivery": s.bypass_delivery,
                })
            }
        });
        let state = part_json(&f.state, |s| {
            let s = s.clone().unwrap_or_default();
            json!({
                "paused": s.paused,
                "deliveryOff": s.delivery_off,
                "deliveryOffReason": s.delivery_off_reason,
                "heldReason": s.held_reason,
            })
        });
        let jobs = part_json(&f.jobs, |jobs| {
            Value::Array(
                jobs.iter()
                    .map(|j| {
                        json!({
                            "id": j.id,
                            "name": j.name,
                            "state": j.state,
                            "nextFireTime": opt_time(j.next_fire),
                            "previousFireTime": opt_time(j.previous_fire),
                            "ownerId": j.owner_id,
                            "owner": j.owner.as_ref().map(|o| o.username.clone()),
                            "ownerActive": j.owner.as_ref().map(|o| o.active),
                        })
                    })
                    .collect(),
            )
        });
        let dispatchers = part_json(&f.dispatchers, |jobs| {
            Value::Array(
                jobs.iter()
                    .map(|j| json!({"id": j.id, "status": j.status, "createdAt": opt_time(j.created)}))
                    .collect(),
            )
        });
        let expected = remote_site_origin(&self.expect.callback_url);
        let remote = part_json(&f.remote_site, |s| match s {
            None => json!({"name": names.remote_site, "exists": false, "expected": expected}),
            Some(s) => json!({
                "name": s.name,
                "exists": true,
                "url": s.url,
                "active": s.active,
                "matches": remote_site_allows(&s.url, &self.expect.callback_url),
                "expected": expected,
            }),
        });
        json!({
            "status": self.code(),
            "healthy": self.healthy(),
            "reasons": self.reasons.iter().map(|r| json!({"code": r.code, "message": r.message})).collect::<Vec<_>>(),
            "checkedAt": format_datetime(f.now),
            "org": {"id": f.org.id, "name": f.org.name, "sandbox": f.org.sandbox},
            "prefix": names.prefix,
            "outbox": outbox,
            "settings": settings,
            "runtime": state,
            "scheduledJobs": jobs,
            "dispatchers": dispatchers,
            "remoteSite": remote,
            "apiUsage": f.api_usage.map(|(used, max)| json!({"used": used, "max": max})),
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "00D000000000001AAA";

    fn healthy_facts() -> Facts {
        let names = Names::new("Sfhooks");
        let now = 1_796_000_000;
        Facts {
            now,
            org: Org {
                id: ORG.into(),
                name: "Acme".into(),
                sandbox: false,
            },
            outbox: Ok(Outbox {
                groups: vec![
                    Group {
                        status: "Pending".into(),
                        event_type: Some("UPDATED".into()),
                        count: 2,
                        oldest: Some(now - 30),
                    },
                    Group {
                        status: "Delivered".into(),
                        event_type: Some("CREATED".into()),
                        count: 40,
                        oldest: Some(now - 86_400),
                    },
                ],
                dead: vec![],
                gaps: vec![],
            }),
            settings: Ok(Some(Settings {
                org_id: Some(ORG[..15].into()),
                bypass_capture: false,
                bypass_delivery: false,
                secret_set: true,
            })),
            state: Ok(None),
            jobs: Ok(names
                .sweeper_jobs()
                .into_iter()
                .enumerate()
                .map(|(i, name)| CronJob {
                    id: format!("08e00000000000{i}AAA"),
                    name,
                    state: "WAITING".into(),
                    next_fire: Some(now + 60),
                    previous_fire: None,
                    owner_id: "005000000000001AAA".into(),
                    owner: Some(Owner {
                        username: "admin@acme.com".into(),
                        active: true,
                    }),
                })
                .collect()),
            dispatchers: Ok(vec![]),
            remote_site: Ok(Some(RemoteSite {
                name: "Sfhooks_Callback".into(),
                url: "https://hooks.example.com".into(),
                active: true,
            })),
            api_usage: Some((12, 15000)),
        }
    }

    fn expect() -> Expect {
        Expect {
            names: Names::new("Sfhooks"),
            callback_url: url::Url::parse("https://hooks.example.com/salesforce").unwrap(),
            max_lag_secs: 1800,
        }
    }

    fn codes(report: &Report) -> Vec<&'static str> {
        report.reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn a_healthy_org_has_no_reasons() {
        let report = evaluate(healthy_facts(), expect());
        assert!(report.healthy(), "{:?}", report.reasons);
        assert_eq!(report.code(), 0);
        assert!(
            report.to_text().ends_with("\nhealthy\n"),
            "{}",
            report.to_text()
        );
        let json = report.to_json();
        assert_eq!(json["healthy"], true);
        assert_eq!(json["outbox"]["pending"], 2);
        assert_eq!(json["outbox"]["lagSeconds"], 30);
        assert_eq!(json["settings"]["orgIdMatches"], true);
        assert_eq!(json["remoteSite"]["matches"], true);
    }

    #[test]
    fn dead_rows_and_a_missing_sweeper_give_both_reasons() {
        let mut facts = healthy_facts();
        if let Ok(outbox) = &mut facts.outbox {
            outbox.groups.push(Group {
                status: "Dead".into(),
                event_type: Some("UPDATED".into()),
                count: 12,
                oldest: Some(facts.now - 90_000),
            });
            outbox.dead.push(DeadRow {
                name: "OB-000042".into(),
                status_code: Some(503),
                last_error: Some("Service Unavailable\n<html>…".into()),
                ..DeadRow::default()
            });
        }
        if let Ok(jobs) = &mut facts.jobs {
            jobs.remove(1);
            jobs[2].state = "ERROR".into();
        }
        let report = evaluate(facts, expect());
        assert_eq!(codes(&report), ["DEAD_ROWS", "SWEEPER"]);
        assert!(report.reasons[0].message.contains("12 Dead rows"));
        assert!(report.reasons[0]
            .message
            .contains("HTTP 503, Service Unavailable <html>…"));
        assert!(
            report.reasons[1]
                .message
                .contains("2 of the 4 sweeper jobs are not scheduled (SfhooksSweeper :15, SfhooksSweeper :45: ERROR)"),
            "{}",
            report.reasons[1].message
        );
        assert_eq!(report.code(), 1);
    }

    #[test]
    fn a_record_pinned_to_another_org_says_delivery_is_held() {
        let mut facts = healthy_facts();
        facts.settings = Ok(Some(Settings {
            org_id: Some("00D000000000009AAA".into()),
            secret_set: true,
            ..Settings::default()
        }));
        let report = evaluate(facts, expect());
        assert_eq!(codes(&report), ["OTHER_ORG"]);
        assert!(report.reasons[0]
            .message
            .contains("pinned to org 00D000000000009AAA"));
        assert_eq!(report.to_json()["settings"]["orgIdMatches"], false);
        let mut facts = healthy_facts();
        facts.settings = Ok(Some(Settings {
            secret_set: false,
            bypass_delivery: true,
            ..Settings::default()
        }));
        let report = evaluate(facts, expect());
        assert_eq!(codes(&report), ["NO_SECRET", "NOT_PINNED", "DELIVERY_OFF"]);
    }

    #[test]
    fn a_remote_site_must_allow_the_callback_url() {
        let url = url::Url::parse("https://hooks.example.com/salesforce").unwrap();
        assert!(remote_site_allows("https://hooks.example.com", &url));
        assert!(remote_site_allows("https://HOOKS.example.com:443/", &url));
        assert!(remote_site_allows("https://hooks.example.com/sales", &url));
        assert!(!remote_site_allows("https://old-hooks.example.com", &url));
        assert!(!remote_site_allows("http://hooks.example.com", &url));
        assert!(!remote_site_allows("https://hooks.example.com:8443", &url));
        assert!(!remote_site_allows("https://hooks.example.com/other", &url));
        assert!(!remote_site_allows("not a url", &url));
        let mut facts = healthy_facts();
        facts.remote_site = Ok(Some(RemoteSite {
            name: "Sfhooks_Callback".into(),
            url: "https://old-hooks.example.com".into(),
            active: true,
        }));
        let report = evaluate(facts, expect());
        assert_eq!(codes(&report), ["REMOTE_SITE"]);
        assert!(report.reasons[0]
            .message
            .contains("allows https://old-hooks.example.com"));
        let mut facts = healthy_facts();
        facts.remote_site = Ok(None);
        assert_eq!(codes(&evaluate(facts, expect())), ["REMOTE_SITE"]);
    }

    #[test]
    fn without_the_outbox_one_reason_says_sfhooks_is_not_deployed() {
        let mut facts = healthy_facts();
        facts.outbox = Err(Unreadable::Missing {
            object: "Sfhooks_Outbox__c".into(),
            detail: "sObject type 'Sfhooks_Outbox__c' is not supported".into(),
        });
        facts.settings = Ok(None);
        facts.remote_site = Ok(None);
        let report = evaluate(facts, expect());
        assert_eq!(codes(&report), ["NOT_DEPLOYED"]);
        assert!(report.reasons[0]
            .message
            .contains("sfhooks is not deployed in this org"));
        assert!(report.reasons[0].message.contains("Sfhooks_Viewer"));
        let mut facts = healthy_facts();
        facts.outbox = Err(Unreadable::Missing {
            object: "Sfhooks_Outbox__c".into(),
            detail: "INVALID_FIELD: No such column 'Event_Type__c'".into(),
        });
        let report = evaluate(facts, expect());
        assert_eq!(codes(&report), ["OUTDATED"]);
        assert!(report.reasons[0].message.contains("older sfhooks"));
    }

    #[test]
    fn lag_gaps_switches_and_unreadable_parts_each_have_a_reason() {
        let mut facts = healthy_facts();
        let now = facts.now;
        if let Ok(outbox) = &mut facts.outbox {
            outbox.groups[0].oldest = Some(now - 7200);
            outbox.groups.push(Group {
                status: "Pending".into(),
                event_type: Some("GAP".into()),
                count: 1,
                oldest: Some(now - 600),
            });
            outbox.gaps.push(GapRow {
                name: "OB-9".into(),
                object: Some("Contact".into()),
                created: Some(now - 600),
                ..GapRow::default()
            });
            outbox.gaps.push(GapRow {
                name: "OB-1".into(),
                object: Some("Account".into()),
                created: Some(now - 3 * 86_400),
                ..GapRow::default()
            });
        }
        facts.state = Ok(Some(RuntimeState {
            delivery_off: true,
            delivery_off_reason: Some("GONE: 410 from https://hooks.example.com/salesforce".into()),
            ..RuntimeState::default()
        }));
        facts.remote_site = Err(Unreadable::NoAccess {
            object: "RemoteProxy".into(),
            detail: "insufficient access rights".into(),
        });
        if let Ok(jobs) = &mut facts.jobs {
            jobs[0].owner = Some(Owner {
                username: "gone@acme.com".into(),
                active: false,
            });
        }
        let report = evaluate(facts, expect());
        assert_eq!(
            codes(&report),
            [
                "LAG",
                "GAPS",
                "STOPPED_BY_APEX",
                "JOB_OWNER_INACTIVE",
                "NO_ACCESS"
            ]
        );
        assert!(
            report.reasons[0].message.contains("waited 2 h"),
            "{}",
            report.reasons[0].message
        );
        assert!(report.reasons[1]
            .message
            .starts_with("1 gap marker in the last 24 h (Contact)"));
        assert!(report.reasons[2].message.contains("GONE: 410 from"));
        assert!(report.reasons[3].message.contains("gone@acme.com"));
        assert!(report.reasons[4].message.contains("View Setup"));
        let json = report.to_json();
        assert_eq!(json["outbox"]["gaps"], 1);
        assert_eq!(json["remoteSite"]["error"], "noAccess");
        assert_eq!(json["runtime"]["deliveryOff"], true);
        let mut facts = healthy_facts();
        facts.state = Ok(Some(RuntimeState {
            paused: true,
            held_reason: Some("ORG_MISMATCH: the settings record was made for org X".into()),
            ..RuntimeState::default()
        }));
        let report = evaluate(facts, expect());
        assert_eq!(codes(&report), ["PAUSED", "HELD"]);
        assert!(report.reasons[0].message.contains("SfhooksJobs.restore();"));
    }

    #[test]
    fn two_running_dispatchers_are_a_reason_a_queued_next_one_is_not() {
        let job = |status: &str| AsyncJob {
            status: status.into(),
            ..AsyncJob::default()
        };
        let mut facts = healthy_facts();
        facts.dispatchers = Ok(vec![job("Processing"), job("Queued")]);
        assert!(evaluate(facts, expect()).healthy());
        let mut facts = healthy_facts();
        facts.dispatchers = Ok(vec![job("Processing"), job("Processing")]);
        assert_eq!(codes(&evaluate(facts, expect())), ["CHAINS"]);
    }

    #[test]
    fn org_ids_compare_on_their_first_15_characters() {
        assert!(same_org("00D000000000001", "00D000000000001AAA"));
        assert!(!same_org("00D000000000001", "00d000000000001AAA"));
        assert!(!same_org("", "00D000000000001AAA"));
    }
}
