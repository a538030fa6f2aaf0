//! One cycle of one org: sign in when needed (`sign_in`: the org's Id and every describe in
//! composite requests), read every object's window (changes and deletes,
//! first pages in one composite request), turn rows into events, commit them with the cursor,
//! then deliver what is due. Each org is its own failure domain: everything here touches only
//! this org's runtime and rows, and returns what happened instead of failing the process.
//!
//! The window of an object runs from its cursor minus the lookback (never before its floor: where
//! polling began or the `--backfill`) to the org's clock minus the settle delay. Its rows are
//! committed in batches at page boundaries, each batch's events, record memories and cursor in one
//! transaction; the cursor of a batch is the stamp of the page's last row (rows of that stamp wait
//! for the next batch, the next page may hold more of them), so memory holds one page, and a crash
//! anywhere resumes at a cursor whose rows were all handled. The overlap is recognised by
//! `(Id, SystemModstamp)`.
use std::sync::mpsc::Sender;
use std::time::Duration;

mod deletes;
mod rows;
mod sign_in;

use super::clock::{local_now_ms, ms, OrgClock};
use super::deliver::RetryRules;
use super::fetch::{self, SubAnswer, SubGet, COMPOSITE_QUERIES, COMPOSITE_SUBREQUESTS};
use super::publish::{PostTarget, Sink};
use super::soql::{changes_query, split_fields};
use super::store::{Cursor, Outcome, Store, StoreError};
use super::Note;
use crate::config::{Events, ObjectConfig};
use crate::salesforce::rest::{AnswerMeta, RestClient, RestError};

/// The deleted resource wants more than a minute between start and end and drops seconds
/// (FACTS.md): windows of deletes are at least two minutes wide.
const MIN_DELETES_WINDOW_MS: i64 = 120_000;
/// How long an org over its API budget waits before one request checks the usage again.
pub const BUDGET_PAUSE: Duration = Duration::from_secs(15 * 60);

/// What does not change between cycles of an org.
#[derive(Debug, Clone)]
pub struct OrgJob {
    /// Its name.
    pub name: String,
    /// Its objects.
    pub objects: Vec<ObjectConfig>,
    /// Its callback URL and signing; `None` when the run publishes into JetStream.
    pub post: Option<PostTarget>,
    /// Which changes produce events.
    pub events: Events,
}

/// The settings every org shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Window overlap.
    pub lookback: Duration,
    /// Distance of each window's end from the org's clock.
    pub settle: Duration,
    /// Events per delivery.
    pub max_events: usize,
    /// Pause above this percent of the daily API limit.
    pub api_threshold: u8,
    /// Delivery retries.
    pub retry: RetryRules,
    /// `--backfill`: where new (or these) cursors start; `None`: the org's clock.
    pub backfill: Option<Backfill>,
    /// Deliver until nothing is due (for `--once`), rather than one pass.
    pub drain: bool,
}

/// `--backfill SINCE [--org] [--object]`.
#[derive(Debug, Clone)]
pub struct Backfill {
    /// An instant (ms) or an age before the org's clock.
    pub since: Since,
    /// Only this org (`None`: new cursors of every org, and every existing cursor of none).
    pub org: Option<String>,
    /// Only this object.
    pub object: Option<String>,
}

/// Where a backfill starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// An instant (ms).
    At(i64),
    /// This long before the org's clock.
    Ago(Duration),
}

/// Signs an org in: the command's part (it reads files and the environment).
pub type Connect<'a> = dyn Fn(&OrgJob) -> Result<RestClient, ConnectError> + Sync + 'a;

/// Why an org could not be signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The configuration is wrong (a file or variable missing): exit 2.
    Config(String),
    /// Salesforce refused: exit 3.
    Auth(String),
}

/// What a cycle left behind, for the exit code and the schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleEnd {
    /// The configuration is wrong for this org (exit 2); it is not tried again.
    pub config_error: Option<String>,
    /// Signing in failed or the session could not be renewed (exit 3).
    pub auth_error: Option<String>,
    /// Another failure (the org's 5xx, the network); tried again next cycle.
    pub error: Option<String>,
    /// Paused for the API budget.
    pub paused: bool,
}

/// An object's settings once describe has answered.
#[derive(Debug, Clone)]
struct Plan {
    object: String,
    select: Vec<String>,
    fields: Option<Vec<String>>,
    watched: Option<Vec<String>>,
}

/// What a cycle keeps of an org between cycles.
#[derive(Debug, Default)]
pub struct OrgRuntime {
    client: Option<RestClient>,
    org_id: Option<String>,
    clock: Option<OrgClock>,
    plans: Option<Vec<Plan>>,
    paused_until: Option<i64>,
    /// A configuration error found once stays (exit 2, never retried).
    pub broken: Option<String>,
}

enum Failure {
    Config(String),
    Auth(String),
    Budget,
    Other(String),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::OtherOrg { .. } => Failure::Config(e.to_string()),
            e => Failure::Store(e),
        }
    }
}

fn rest_failure(err: RestError) -> Failure {
    match err {
        RestError::SessionExpired { .. } | RestError::Renewal(_) => Failure::Auth(err.to_string()),
        RestError::RequestLimitExceeded { .. } => Failure::Budget,
        other => Failure::Other(other.to_string()),
    }
}

/// The failure a failed subrequest of a composite stands for when it is the session's or the API
/// budget's (as [`rest_failure`] for a whole request); `None` for the object's own errors, which
/// each caller words.
fn session_or_budget(error_code: &str, text: &str) -> Option<Failure> {
    match error_code {
        "INVALID_SESSION_ID" => Some(Failure::Auth(text.to_owned())),
        "REQUEST_LIMIT_EXCEEDED" => Some(Failure::Budget),
        _ => None,
    }
}

struct Ctx<'a, 'b> {
    job: &'a OrgJob,
    connect: &'a Connect<'b>,
    settings: &'a Settings,
    notes: &'a Sender<Note>,
    rt: &'a mut OrgRuntime,
    stop: &'a std::sync::atomic::AtomicBool,
}

impl Ctx<'_, '_> {
    fn note(&self, note: Note) {
        let _ = self.notes.send(note);
    }

    /// Takes in an answer's clock and API usage; pauses the org above the threshold.
    fn meta(&mut self, meta: &AnswerMeta) -> Result<(), Failure> {
        if let Some(date) = meta.date {
            self.rt.clock = Some(OrgClock::from_answer(date));
        }
        if let Some((used, max)) = meta.api_usage {
            if max > 0 && used * 100 >= u64::from(self.settings.api_threshold) * max {
                self.note(Note::Paused {
                    org: self.job.name.clone(),
                    used,
                    max,
                    threshold: self.settings.api_threshold,
                });
                return Err(Failure::Budget);
            }
        }
        Ok(())
    }
}

/// What every cycle of a run shares.
pub struct Shared<'a> {
    /// The settings.
    pub settings: &'a Settings,
    /// Signs an org in.
    pub connect: &'a Connect<'a>,
    /// Where deliveries go.
    pub sink: Sink<'a>,
    /// Where notes go.
    pub notes: &'a Sender<Note>,
    /// Set by SIGINT/SIGTERM.
    pub stop: &'a std::sync::atomic::AtomicBool,
}

/// Runs one cycle of an org.
pub fn run_cycle(
    job: &OrgJob,
    rt: &mut OrgRuntime,
    store: &mut Store,
    shared: &Shared<'_>,
) -> CycleEnd {
    let Shared {
        settings,
        connect,
        sink,
        notes,
        stop,
    } = *shared;
    let mut end = CycleEnd::default();
    if let Some(broken) = &rt.broken {
        end.config_error = Some(broken.clone());
        return end;
    }
    let paused = rt.paused_until.is_some_and(|until| local_now_ms() < until);
    if paused {
        end.paused = true;
    } else {
        let mut ctx = Ctx {
            job,
            connect,
            settings,
            notes,
            rt,
            stop,
        };
        match poll_org(&mut ctx, store) {
            Ok(()) => {
                ctx.rt.paused_until = None;
                let _ = store.note_org(&job.name, ctx.rt.clock.map(|c| c.now()), None);
            }
            Err(failure) => {
                let message = match failure {
                    Failure::Config(m) => {
                        ctx.rt.broken = Some(m.clone());
                        end.config_error = Some(m.clone());
                        m
                    }
                    Failure::Auth(m) => {
                        ctx.rt.client = None;
                        end.auth_error = Some(m.clone());
                        m
                    }
                    Failure::Budget => {
                        ctx.rt.paused_until = Some(local_now_ms() + ms(BUDGET_PAUSE));
                        end.paused = true;
                        format!(
                            "paused: the org's API usage is at or above {} % of its daily limit",
                            settings.api_threshold
                        )
                    }
                    Failure::Other(m) => {
                        end.error = Some(m.clone());
                        m
                    }
                    Failure::Store(e) => {
                        end.error = Some(e.to_string());
                        e.to_string()
                    }
                };
                if !matches!(end, CycleEnd { paused: true, .. }) {
                    ctx.note(Note::OrgFailed {
                        org: job.name.clone(),
                        error: message.clone(),
                        auth: end.auth_error.is_some(),
                        config: end.config_error.is_some(),
                    });
                }
                let _ = store.note_org(&job.name, None, Some(&message));
            }
        }
    }
    if let Err(e) = deliver_due(job, store, settings, sink, notes) {
        end.error.get_or_insert(e.to_string());
    }
    end
}

fn poll_org(ctx: &mut Ctx<'_, '_>, store: &mut Store) -> Result<(), Failure> {
    if ctx.rt.client.is_none() {
        let client = ctx_connect(ctx)?;
        ctx.rt.client = Some(client);
    }
    let client = ctx.rt.client.take().expect("set above");
    let result = poll_with(ctx, store, &client);
    ctx.rt.client = Some(client);
    result
}

fn ctx_connect(ctx: &Ctx<'_, '_>) -> Result<RestClient, Failure> {
    (ctx.connect)(ctx.job).map_err(|e| match e {
        ConnectError::Config(m) => Failure::Config(m),
        ConnectError::Auth(m) => Failure::Auth(m),
    })
}

fn poll_with(ctx: &mut Ctx<'_, '_>, store: &mut Store, client: &RestClient) -> Result<(), Failure> {
    if ctx.rt.org_id.is_none() || ctx.rt.plans.is_none() {
        sign_in::sign_in(ctx, store, client)?;
    }
    let plans = ctx.rt.plans.clone().unwrap_or_default();
    let clock = ctx.rt.clock.ok_or_else(|| {
        Failure::Other("the org's answers carry no Date header: its clock is unknown".into())
    })?;
    let end = (clock.now() - ms(ctx.settings.settle)).div_euclid(1000) * 1000;
    let lookback = ms(ctx.settings.lookback);

    // The windows of this cycle.
    let mut windows = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let cursor = cursor_for(ctx, store, &plan.object, end, clock.now())?;
        let start = (cursor.changes_at - lookback).max(cursor.floor_at);
        let del_start = (cursor.deletes_at - lookback).max(cursor.deletes_floor_at);
        let changes = (start < end).then(|| {
            split_fields(
                &plan.object,
                &plan.select,
                start,
                end,
                client.data_path("query").len(),
            )
        });
        let deletes = (end - del_start >= MIN_DELETES_WINDOW_MS && ctx.job.events.deleted)
            .then_some(del_start);
        windows.push(Window {
            plan: i,
            start,
            end,
            parts: changes.unwrap_or_default(),
            del_start: deletes,
        });
    }

    // First pages and deletes, batched into composite requests.
    let mut gets: Vec<(usize, SubKind, SubGet)> = Vec::new();
    for (w, window) in windows.iter().enumerate() {
        let object = &plans[window.plan].object;
        for part in &window.parts {
            let q = changes_query(object, part, window.start, window.end);
            gets.push((
                w,
                SubKind::Part,
                SubGet {
                    url: format!("{}?q={}", client.data_path("query"), encode(&q)),
                    is_query: true,
                },
            ));
        }
        if let Some(del_start) = window.del_start {
            gets.push((
                w,
                SubKind::Deletes,
                SubGet {
                    url: format!(
                        "{}?start={}&end={}",
                        client.data_path(&format!("sobjects/{object}/deleted/")),
                        encode(&super::clock::soql_literal(del_start)),
                        encode(&super::clock::soql_literal(window.end))
                    ),
                    is_query: false,
                },
            ));
        }
    }
    let mut answers: Vec<Option<SubAnswer>> = vec![None; gets.len()];
    let mut i = 0;
    while i < gets.len() {
        let (mut n, mut queries) = (0, 0);
        while i + n < gets.len() && n < COMPOSITE_SUBREQUESTS {
            let q = usize::from(gets[i + n].2.is_query);
            if queries + q > COMPOSITE_QUERIES {
                break;
            }
            queries += q;
            n += 1;
        }
        let chunk: Vec<SubGet> = gets[i..i + n].iter().map(|g| g.2.clone()).collect();
        let (subs, meta) = fetch::composite(client, &chunk).map_err(rest_failure)?;
        ctx.meta(&meta)?;
        for (k, sub) in subs.into_iter().enumerate() {
            answers[i + k] = Some(sub);
        }
        i += n;
    }

    for (w, window) in windows.iter().enumerate() {
        let plan = &plans[window.plan];
        let mut firsts: Vec<SubAnswer> = Vec::new();
        let mut deletes: Option<SubAnswer> = None;
        for (k, (gw, kind, _)) in gets.iter().enumerate() {
            if *gw != w {
                continue;
            }
            let answer = answers[k].take().expect("every subrequest was answered");
            match kind {
                SubKind::Part => firsts.push(answer),
                SubKind::Deletes => deletes = Some(answer),
            }
        }
        let org_id = ctx.rt.org_id.clone().unwrap_or_default();
        if !window.parts.is_empty() {
            let counts = rows::changes(ctx, store, client, plan, window, firsts, &org_id)?;
            ctx.note(Note::Window {
                org: ctx.job.name.clone(),
                object: plan.object.clone(),
                from: window.start,
                to: window.end,
                rows: counts.0,
                events: counts.1,
            });
        }
        if let (Some(del_start), Some(answer)) = (window.del_start, deletes) {
            deletes::deletions(ctx, store, plan, del_start, window.end, answer, &org_id)?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum SubKind {
    Part,
    Deletes,
}

struct Window {
    plan: usize,
    start: i64,
    end: i64,
    parts: Vec<Vec<String>>,
    del_start: Option<i64>,
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The cursor of an object: the stored one, or a new one at the backfill or the window's end;
/// a `--backfill` naming this org (and object) resets an existing one.
fn cursor_for(
    ctx: &Ctx<'_, '_>,
    store: &Store,
    object: &str,
    end: i64,
    org_now: i64,
) -> Result<Cursor, Failure> {
    let backfill = ctx.settings.backfill.as_ref();
    let start_of = |b: &Backfill| match b.since {
        Since::At(at) => at,
        Since::Ago(d) => org_now - ms(d),
    };
    let targets = |b: &Backfill| {
        b.org.as_deref().is_none_or(|o| o == ctx.job.name)
            && b.object
                .as_deref()
                .is_none_or(|o| o.eq_ignore_ascii_case(object))
    };
    let existing = store.cursor(&ctx.job.name, object)?;
    let reset = backfill.filter(|b| targets(b) && (existing.is_none() || b.org.is_some()));
    let cursor = match (existing, reset) {
        (_, Some(b)) => Cursor::at(start_of(b).min(end)),
        (Some(c), None) => return Ok(c),
        (None, None) => Cursor::at(end),
    };
    store.set_cursor(&ctx.job.name, object, cursor)?;
    Ok(cursor)
}

/// Delivers what is due, oldest first; stops at the first failure so nothing newer overtakes a
/// delivery that is being retried.
pub fn deliver_due(
    job: &OrgJob,
    store: &Store,
    settings: &Settings,
    sink: Sink<'_>,
    notes: &Sender<Note>,
) -> Result<(), StoreError> {
    loop {
        let due = store.due(&job.name, local_now_ms(), 50)?;
        if due.is_empty() {
            return Ok(());
        }
        for pending in &due {
            let now = local_now_ms();
            let a = sink.send(job.post.as_ref(), pending, now, settings.retry);
            store.record_attempt(
                pending.seq,
                now,
                a.outcome,
                a.http_status,
                a.error.as_deref(),
            )?;
            let _ = notes.send(Note::Delivery {
                org: job.name.clone(),
                object: pending.object.clone(),
                webhook_id: pending.webhook_id.clone(),
                events: pending.events,
                outcome: a.outcome,
                http_status: a.http_status,
                attempt: pending.attempts + 1,
                error: a.error.clone(),
            });
            if a.outcome != Outcome::Delivered {
                // The receiver is failing: the rest waits for the retry, in order.
                return Ok(());
            }
        }
        if !settings.drain {
            return Ok(());
        }
    }
}
