//! The generated classes' Apex jobs around a deploy.
//!
//! Salesforce refuses to deploy a class that has scheduled jobs, or the classes it references
//! ("This schedulable class has jobs pending or in progress"), and a class with pending async
//! jobs ("Apex class has Batchable or Future jobs pending or in progress"), unless the org's
//! Deployment Setting "Allow deployments of components when corresponding Apex jobs are pending
//! or in progress" is on (FACTS.md, "Deploying classes that have jobs"). So `sfhooks deploy`
//! looks the jobs up first ([`lookup`]: REST queries of `CronTrigger` by `CronJobDetail.Name` and
//! of `AsyncApexJob` by `ApexClass.Name`, both with the prefix), pauses them ([`pause_apex`],
//! Anonymous Apex through the Tooling API's `executeAnonymous`), and restores them afterwards
//! ([`restore_apex`]).
//!
//! The Anonymous Apex is written to work whatever version of sfhooks is in the org: jobs are
//! aborted by Id with `System.abortJob` (which needs no generated class), and restored with
//! `System.schedule` under their own names, cron expressions and classes (`Type.forName`), so
//! jobs that an earlier version scheduled under other names come back as they were. Where the
//! generated `<Prefix>Jobs` class exists, its `pause()` also sets the switch that a running
//! dispatcher's chain obeys, and its `restore()` clears it and starts what is due.
//!
//! No printing and no flag parsing; errors are typed ([`JobsError`]).
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::rest::{AnonymousResult, RestClient, RestError};
use super::soql_literal::{quoted, starts_with};

/// CronTrigger states of a job that will never run again.
pub const ENDED_CRON_STATES: [&str; 3] = ["COMPLETE", "DELETED", "ERROR"];
/// AsyncApexJob statuses of a job that has not started: it can be aborted.
pub const WAITING_STATUSES: [&str; 2] = ["Holding", "Queued"];
/// AsyncApexJob statuses of a job that runs: it cannot be stopped, only waited for.
pub const RUNNING_STATUSES: [&str; 2] = ["Preparing", "Processing"];

/// A scheduled job (`CronTrigger`) of the generated classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledJob {
    /// The CronTrigger Id (`08e…`).
    pub id: String,
    /// `CronJobDetail.Name`, e.g. `SfhooksSweeper :00`.
    pub name: String,
    /// `CronExpression`, e.g. `0 0 * * * ?`.
    pub cron_expression: String,
    /// `State`: WAITING, ACQUIRED, EXECUTING, PAUSED, BLOCKED, PAUSED_BLOCKED.
    pub state: String,
    /// `NextFireTime`, as Salesforce wrote it.
    pub next_fire_time: Option<String>,
    /// The user the job runs as.
    pub owner_id: Option<String>,
    /// The `Schedulable` class, from the job's `ScheduledApex` AsyncApexJob row; `None` when
    /// Salesforce showed none (the job cannot then be rescheduled automatically).
    pub class_name: Option<String>,
}

/// A queued or running async job (`AsyncApexJob`, not `ScheduledApex`) of the generated classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncJob {
    /// The AsyncApexJob Id (`707…`).
    pub id: String,
    /// `ApexClass.Name`.
    pub class_name: String,
    /// `JobType`: Queueable, BatchApex, Future, ...
    pub job_type: String,
    /// `Status`: Holding, Queued, Preparing, Processing.
    pub status: String,
}

impl AsyncJob {
    /// Preparing or Processing: cannot be aborted, only waited for.
    pub fn is_running(&self) -> bool {
        RUNNING_STATUSES.contains(&self.status.as_str())
    }
}

/// What the org runs of the generated classes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgJobs {
    /// Scheduled jobs, by name.
    pub scheduled: Vec<ScheduledJob>,
    /// Queued and running async jobs.
    pub async_jobs: Vec<AsyncJob>,
    /// Whether the org already has the `<Prefix>Jobs` class (its `pause()`/`restore()`).
    pub has_jobs_class: bool,
}

impl OrgJobs {
    /// Nothing scheduled, queued or running.
    pub fn is_empty(&self) -> bool {
        self.scheduled.is_empty() && self.async_jobs.is_empty()
    }

    /// The running async jobs.
    pub fn running(&self) -> Vec<&AsyncJob> {
        self.async_jobs.iter().filter(|j| j.is_running()).collect()
    }

    /// Scheduled jobs whose class is unknown, so that they cannot be rescheduled.
    pub fn unrestorable(&self) -> Vec<&ScheduledJob> {
        self.scheduled
            .iter()
            .filter(|j| j.class_name.is_none())
            .collect()
    }
}

/// Why looking up, pausing or restoring jobs failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobsError {
    /// A REST call failed (boxed: it is the largest variant by far).
    #[error(transparent)]
    Rest(Box<RestError>),
    /// Salesforce does not let this user run Anonymous Apex.
    #[error("Salesforce does not let this user run Anonymous Apex: {detail}")]
    NotAllowed {
        /// What Salesforce said.
        detail: String,
    },
    /// The Anonymous Apex did not compile (for instance, a generated class it names is missing).
    #[error("the Anonymous Apex did not compile (line {line}, column {column}): {problem}")]
    Compile {
        /// Salesforce's compile problem.
        problem: String,
        /// Its line.
        line: i64,
        /// Its column.
        column: i64,
    },
    /// The Anonymous Apex threw.
    #[error("the Anonymous Apex threw: {message}")]
    Exception {
        /// The exception's message.
        message: String,
    },
    /// A query answer without the documented fields.
    #[error("unexpected {object} record: {detail}")]
    Shape {
        /// The sObject queried.
        object: &'static str,
        /// What was missing.
        detail: String,
    },
}

impl From<RestError> for JobsError {
    fn from(err: RestError) -> Self {
        JobsError::Rest(Box::new(err))
    }
}

impl JobsError {
    /// The session expired and could not be renewed (or renewing it failed): an authentication
    /// problem, not a problem of the jobs.
    pub fn session_ended(&self) -> bool {
        matches!(self, JobsError::Rest(e)
            if matches!(**e, RestError::SessionExpired { .. } | RestError::Renewal(_)))
    }
}

fn in_list(values: &[&str]) -> String {
    let items: Vec<String> = values.iter().map(|v| quoted(v)).collect();
    format!("({})", items.join(", "))
}

/// The name of the generated class with `pause()`, `restore()` and `scheduleSweeper()`.
pub fn jobs_class(prefix: &str) -> String {
    format!("{prefix}Jobs")
}

/// The queries [`lookup`] sends, in order (for documentation and tests).
pub fn lookup_queries(prefix: &str) -> [String; 3] {
    let like = starts_with(prefix);
    [
        format!(
            "SELECT Id, State, CronExpression, NextFireTime, OwnerId, CronJobDetail.Name \
             FROM CronTrigger WHERE CronJobDetail.Name LIKE {like} AND State NOT IN {}",
            in_list(&ENDED_CRON_STATES)
        ),
        format!(
            "SELECT Id, Status, JobType, CronTriggerId, ApexClass.Name FROM AsyncApexJob \
             WHERE ApexClass.Name LIKE {like} AND Status IN {}",
            in_list(&[
                WAITING_STATUSES[0],
                WAITING_STATUSES[1],
                RUNNING_STATUSES[0],
                RUNNING_STATUSES[1]
            ])
        ),
        format!(
            "SELECT Id FROM ApexClass WHERE Name = {}",
            quoted(&jobs_class(prefix))
        ),
    ]
}

fn text(record: &Value, field: &str) -> Option<String> {
    record
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn nested(record: &Value, relation: &str, field: &str) -> Option<String> {
    record
        .get(relation)
        .and_then(|r| r.get(field))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Looks up the scheduled and async jobs of the classes whose names start with `prefix`.
///
/// Scheduled jobs are found by their name (`CronJobDetail.Name LIKE '<Prefix>%'`, so those an
/// earlier version scheduled are found too) and by their class (the `ScheduledApex` row every
/// scheduled job has in `AsyncApexJob`, so a job an admin scheduled under another name is found
/// too). That `ScheduledApex` row is Queued for as long as the job is scheduled: it is the
/// scheduled job itself, not something to wait for, so it is filtered out by `JobType`.
pub fn lookup(rest: &RestClient, prefix: &str) -> Result<OrgJobs, JobsError> {
    let [cron_query, async_query, class_query] = lookup_queries(prefix);
    let crons = rest.query(&cron_query)?.records;
    let asyncs = rest.query(&async_query)?.records;
    let has_jobs_class = !rest.query(&class_query)?.records.is_empty();

    let mut class_of_cron = std::collections::BTreeMap::new();
    let mut async_jobs = Vec::new();
    for row in &asyncs {
        let shape = |detail: &str| JobsError::Shape {
            object: "AsyncApexJob",
            detail: detail.to_string(),
        };
        let id = text(row, "Id").ok_or_else(|| shape("no Id"))?;
        let class_name =
            nested(row, "ApexClass", "Name").ok_or_else(|| shape("no ApexClass.Name"))?;
        let job_type = text(row, "JobType").unwrap_or_default();
        if job_type == "ScheduledApex" {
            if let Some(cron) = text(row, "CronTriggerId") {
                class_of_cron.insert(cron, class_name);
            }
            continue;
        }
        async_jobs.push(AsyncJob {
            id,
            class_name,
            job_type,
            status: text(row, "Status").unwrap_or_default(),
        });
    }

    let mut scheduled: Vec<ScheduledJob> = Vec::new();
    for row in &crons {
        scheduled.push(scheduled_job(row, &class_of_cron)?);
    }
    // Jobs of the generated classes scheduled under another name.
    let others: Vec<&str> = class_of_cron
        .keys()
        .map(String::as_str)
        .filter(|id| !scheduled.iter().any(|j| j.id == *id))
        .collect();
    if !others.is_empty() {
        let query = format!(
            "SELECT Id, State, CronExpression, NextFireTime, OwnerId, CronJobDetail.Name \
             FROM CronTrigger WHERE Id IN {} AND State NOT IN {}",
            in_list(&others),
            in_list(&ENDED_CRON_STATES)
        );
        for row in &rest.query(&query)?.records {
            let job = scheduled_job(row, &class_of_cron)?;
            if !scheduled.iter().any(|j| j.id == job.id) {
                scheduled.push(job);
            }
        }
    }
    scheduled.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    async_jobs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(OrgJobs {
        scheduled,
        async_jobs,
        has_jobs_class,
    })
}

fn scheduled_job(
    row: &Value,
    class_of_cron: &std::collections::BTreeMap<String, String>,
) -> Result<ScheduledJob, JobsError> {
    let shape = |detail: &str| JobsError::Shape {
        object: "CronTrigger",
        detail: detail.to_string(),
    };
    let id = text(row, "Id").ok_or_else(|| shape("no Id"))?;
    Ok(ScheduledJob {
        name: nested(row, "CronJobDetail", "Name").ok_or_else(|| shape("no CronJobDetail.Name"))?,
        cron_expression: text(row, "CronExpression").ok_or_else(|| shape("no CronExpression"))?,
        state: text(row, "State").unwrap_or_default(),
        next_fire_time: text(row, "NextFireTime"),
        owner_id: text(row, "OwnerId"),
        class_name: class_of_cron.get(&id).cloned(),
        id,
    })
}

/// The Anonymous Apex that pauses the jobs: `<Prefix>Jobs.pause()` when the org has that class
/// (the switch a running dispatcher's chain obeys), then `System.abortJob` for every scheduled
/// job and every async job that has not started, each looked up again by Id first (an Id that
/// ended since is skipped, not an error).
pub fn pause_apex(prefix: &str, jobs: &OrgJobs) -> String {
    let mut apex = String::from("// sfhooks deploy: pause the jobs of the generated classes\n");
    if jobs.has_jobs_class {
        let _ = writeln!(apex, "{}.pause();", jobs_class(prefix));
    }
    apex.push_str(&abort_apex(jobs));
    apex
}

/// One abort; a job that `<Prefix>Jobs.pause()` aborted a moment before, in the same
/// transaction, or that ended meanwhile, is skipped rather than failing the whole block.
const ABORT: &str = "try { System.abortJob(job.Id); } catch (Exception alreadyEnded) { System.debug(alreadyEnded.getMessage()); }";

/// The Anonymous Apex that aborts every job of `jobs` (no pause switch): `--uninstall`.
pub fn abort_apex(jobs: &OrgJobs) -> String {
    let mut apex = String::new();
    let crons: Vec<&str> = jobs.scheduled.iter().map(|j| j.id.as_str()).collect();
    if !crons.is_empty() {
        let _ = writeln!(
            apex,
            "for (CronTrigger job : [SELECT Id FROM CronTrigger WHERE Id IN {}]) {{\n  {ABORT}\n}}",
            in_list(&crons)
        );
    }
    let waiting: Vec<&str> = jobs
        .async_jobs
        .iter()
        .filter(|j| !j.is_running())
        .map(|j| j.id.as_str())
        .collect();
    if !waiting.is_empty() {
        let _ = writeln!(
            apex,
            "for (AsyncApexJob job : [SELECT Id FROM AsyncApexJob WHERE Id IN {} AND Status IN {}]) {{\n  {ABORT}\n}}",
            in_list(&waiting),
            in_list(&WAITING_STATUSES)
        );
    }
    apex
}

/// How the jobs come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    /// Through `<Prefix>Jobs.restore()` of the code in the org after the deploy: clears the
    /// pause, schedules the sweeper, starts a dispatcher when rows are due.
    ThroughJobsClass,
    /// Without any generated class: each paused job rescheduled by name, cron expression and
    /// class. For an org whose code has no `<Prefix>Jobs` class.
    BySchedule,
}

/// The Anonymous Apex that restores what [`pause_apex`] paused. Jobs whose class is unknown are
/// left out ([`OrgJobs::unrestorable`] names them); a job already scheduled again under its name
/// is skipped, so running this twice is harmless.
pub fn restore_apex(prefix: &str, jobs: &OrgJobs, how: Restore) -> String {
    let mut apex = String::from("// sfhooks deploy: restore the jobs of the generated classes\n");
    if how == Restore::ThroughJobsClass {
        let _ = writeln!(apex, "{}.restore();", jobs_class(prefix));
    }
    let restorable: Vec<&ScheduledJob> = jobs
        .scheduled
        .iter()
        .filter(|j| j.class_name.is_some())
        .collect();
    if restorable.is_empty() {
        return apex;
    }
    let names: Vec<&str> = restorable.iter().map(|j| j.name.as_str()).collect();
    let _ = writeln!(
        apex,
        "Set<String> scheduled = new Set<String>();\n\
         for (CronTrigger job : [SELECT CronJobDetail.Name FROM CronTrigger WHERE CronJobDetail.Name IN {}]) {{\n  scheduled.add(job.CronJobDetail.Name);\n}}",
        in_list(&names)
    );
    for job in restorable {
        let class = job.class_name.as_deref().unwrap_or_default();
        let _ = writeln!(
            apex,
            "if (!scheduled.contains({name})) {{\n  System.schedule({name}, {cron}, (Schedulable) Type.forName({class}).newInstance());\n}}",
            name = quoted(&job.name),
            cron = quoted(&job.cron_expression),
            class = quoted(class),
        );
    }
    apex
}

/// The one line that schedules the sweeper: for the first deploy, and for the admin after
/// `--no-schedule`.
pub fn schedule_sweeper_apex(prefix: &str) -> String {
    format!("{}.scheduleSweeper();", jobs_class(prefix))
}

/// Runs Anonymous Apex; a compile problem, an exception or a refusal is an error.
pub fn run_apex(rest: &RestClient, apex: &str) -> Result<(), JobsError> {
    let result = match rest.execute_anonymous(apex) {
        Ok(result) => result,
        Err(err @ RestError::Api { .. }) if is_refusal(&err) => {
            return Err(JobsError::NotAllowed {
                detail: err.to_string(),
            })
        }
        Err(err) => return Err(err.into()),
    };
    check(result)
}

fn check(result: AnonymousResult) -> Result<(), JobsError> {
    if !result.compiled {
        let problem = result.compile_problem.unwrap_or_default();
        // Some orgs answer a user without "Author Apex" with a compile problem rather than an
        // HTTP error; the Apex Developer Guide's wording on API access is not clear-cut.
        if mentions_permission(&problem) {
            return Err(JobsError::NotAllowed { detail: problem });
        }
        return Err(JobsError::Compile {
            problem,
            line: result.line,
            column: result.column,
        });
    }
    if !result.success {
        return Err(JobsError::Exception {
            message: result
                .exception_message
                .unwrap_or_else(|| "(no message)".into()),
        });
    }
    Ok(())
}

/// A refusal to run Apex at all: 403, or an access error code.
fn is_refusal(err: &RestError) -> bool {
    let code = err.error_code().unwrap_or_default();
    err.status() == Some(403)
        || code.starts_with("INSUFFICIENT_ACCESS")
        || code == "API_DISABLED_FOR_ORG"
        || code == "FUNCTIONALITY_NOT_ENABLED"
}

fn mentions_permission(problem: &str) -> bool {
    let lower = problem.to_ascii_lowercase();
    lower.contains("author apex") || lower.contains("insufficient privileges")
}

/// Reads the current status of these async jobs; those no longer Preparing or Processing are
/// left out of the answer.
pub fn still_running(rest: &RestClient, ids: &[&str]) -> Result<Vec<AsyncJob>, JobsError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = format!(
        "SELECT Id, Status, JobType, CronTriggerId, ApexClass.Name FROM AsyncApexJob \
         WHERE Id IN {} AND Status IN {}",
        in_list(ids),
        in_list(&RUNNING_STATUSES)
    );
    let mut out = Vec::new();
    for row in rest.query(&query)?.records {
        out.push(AsyncJob {
            id: text(&row, "Id").unwrap_or_default(),
            class_name: nested(&row, "ApexClass", "Name").unwrap_or_default(),
            job_type: text(&row, "JobType").unwrap_or_default(),
            status: text(&row, "Status").unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
