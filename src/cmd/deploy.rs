//! `sfhooks deploy`: authenticate, deploy a Metadata API zip, wait for it, report.
//!
//! The flow is one way: flags → a [`Plan`] (what to start, with which options; every usage error
//! is found here, before any network call) → credentials → a session → start the job (`deploy`,
//! `deployRecentValidation`, or nothing for `--report`) → poll `checkDeployStatus` until done,
//! `--wait` runs out or Ctrl-C cancels → report on stdout and return the exit code. The plan is
//! built in `plan`, the progress line and the report are `output`'s; this file holds the rest.
//!
//! Process-wide state: a Ctrl-C counter, counted by a tokio signal stream (the same mechanism
//! `listen` uses) on a thread of its own that this command starts once, read by the poll loop (the first Ctrl-C sends `cancelDeploy`, the second stops waiting).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cli::DeployArgs;
use crate::exit::{self, auth_failed, AuthFailed, Hinted, UsageError};
use sfhooks::salesforce::auth::Credentials;
use sfhooks::salesforce::login::{self, OrgKind};
use sfhooks::salesforce::metadata::{
    DeployResult, DeployStatus, MetadataClient, MetadataError, RetryPolicy,
};
use sfhooks::salesforce::rest::RestClient;

mod jobs;
mod output;
mod plan;
mod settings_pin;
mod waiting;
use waiting::*;

use output::{report, verdict_code, Ui};
use plan::{plan, Job, Plan, Target};

/// Hidden knob for the test suite: the first poll interval in milliseconds (default 500). The
/// longest interval is 24 times it and the first retry delay twice it, so tests run in
/// milliseconds without changing the shape of the backoff.
const POLL_MS_ENV: &str = "SFHOOKS_POLL_MS";

/// How many Ctrl-C the user pressed since the handler was installed.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// Runs `sfhooks deploy`. With `--json`, an error is also printed as one JSON object on stdout,
/// so stdout always holds exactly one object.
pub fn run(args: &DeployArgs) -> anyhow::Result<u8> {
    let outcome = run_inner(args);
    if args.json {
        if let Err(err) = &outcome {
            let code = exit::code_for(err);
            let name = match code {
                exit::USAGE => "UsageError",
                exit::AUTH => "AuthError",
                _ => "DeployError",
            };
            let mut json = serde_json::json!({
                "status": code,
                "name": name,
                "message": exit::message(err),
                "hints": exit::hints(err),
            });
            // An error after the deploy ended (restoring the jobs) still reports the deploy.
            if let Some(report) = err.chain().find_map(|c| c.downcast_ref::<AfterTheDeploy>()) {
                if let (Some(json), Some(extra)) = (json.as_object_mut(), report.json.as_object()) {
                    for (key, value) in extra {
                        json.entry(key.clone()).or_insert_with(|| value.clone());
                    }
                }
            }
            crate::stdout::print(&format!("{json}\n"))?;
        }
    }
    outcome
}

fn run_inner(args: &DeployArgs) -> anyhow::Result<u8> {
    let mut plan = plan(args)?;
    let timing = Timing::from_env()?;
    let http = reqwest::blocking::Client::builder()
        .user_agent(concat!("sfhooks/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        // A deploy upload or a slow checkDeployStatus can take a while; a hung socket cannot.
        .timeout(Duration::from_secs(300))
        .build()
        .context("cannot set up the HTTP client")?;
    let creds = credentials(args, plan.target)?;
    let session = creds.login(&http).map_err(auth_failed)?;
    let rest = std::sync::Arc::new(
        RestClient::new(
            http.clone(),
            session.clone(),
            Some(creds.clone()),
            sfhooks::salesforce::metadata::API_VERSION,
        )
        .with_retry(timing.retry),
    );
    let client = MetadataClient::new(
        http.clone(),
        &session.instance_url,
        session.access_token.clone(),
        timing.retry,
    )
    .with_context(|| format!("bad instance URL {}", session.instance_url))?;
    let mut conn = Connection {
        creds,
        http,
        client,
        retry: timing.retry,
        token: session.access_token,
        rest: rest.clone(),
    };

    // Installed before the job starts, so a Ctrl-C from here on cancels it rather than killing
    // sfhooks with a deploy running unseen.
    count_interrupts().context("cannot install the Ctrl-C handler")?;
    let interrupts_before = INTERRUPTS.load(Ordering::SeqCst);

    let ui = Ui::new();
    // Day 2: pin the settings record to this org, then pause the generated classes'
    // jobs. `--report` only watches a job started earlier: it touches neither.
    let mut settings = serde_json::Value::Null;
    if let Job::Deploy { zip, .. } = &mut plan.job {
        if !args.uninstall {
            let (pinned, report) = settings_pin::pin_settings(&rest, zip, &ui)?;
            if let Some(bytes) = pinned {
                *zip = bytes;
            }
            settings = report;
        }
    }
    let mut day2 = match &plan.job {
        Job::Report { .. } => None,
        Job::Deploy { zip, options } => {
            let prefix = jobs::prefix_in_zip(zip).unwrap_or_else(|| configured_prefix(args));
            Some((prefix, options.check_only))
        }
        Job::Quick { .. } => Some((configured_prefix(args), false)),
    }
    .map(|(prefix, check_only)| {
        let mode = if args.allow_pending_jobs {
            jobs::Mode::Leave
        } else if args.uninstall {
            jobs::Mode::Abort
        } else {
            jobs::Mode::Pause
        };
        jobs::DeployJobs::prepare(&rest, &prefix, mode, check_only, args.no_schedule, &ui)
    })
    .transpose()?;
    if let Some(day2) = day2.as_mut() {
        let interrupted = || INTERRUPTS.load(Ordering::SeqCst) != interrupts_before;
        day2.pause(&rest, timing.running_wait(), &ui, &interrupted)?;
    }
    let outcome = deploy_and_wait(&mut conn, &plan, &timing, &ui, interrupts_before);
    let (job_id, waited) = match outcome {
        Ok(done) => done,
        Err((started, err)) => {
            return Err(match day2.as_mut() {
                // The job may still be running: restoring now could fail it on the lock.
                Some(day2) if started => day2.leave_paused(err),
                Some(day2) => day2.restore_after_error(&rest, err),
                None => err,
            });
        }
    };
    ui.finish();
    let code = match &waited {
        Waited::Done(result) => verdict_code(result),
        Waited::StillRunning(..) => exit::STILL_RUNNING,
    };
    if let Some(day2) = day2.as_mut() {
        let ended = match &waited {
            Waited::Done(r) if r.status == DeployStatus::Succeeded => jobs::Ended::Deployed,
            // Partly deployed: the new code may be in; restoring with the old jobs is the
            // cautious choice, and the org's lock decides.
            Waited::Done(_) => jobs::Ended::NothingSaved,
            Waited::StillRunning(..) => jobs::Ended::Unknown,
        };
        if let Err(err) = day2.finish(&rest, ended, &ui) {
            if !args.json {
                // The deploy's own report comes first, then the error about the jobs.
                print_report(args, &waited, &plan, &job_id, code, Some(day2), &settings)?;
                return Err(err);
            }
            let result = match &waited {
                Waited::Done(r) | Waited::StillRunning(r, _) => r,
            };
            return Err(AfterTheDeploy {
                json: serde_json::json!({
                    "deployStatus": code,
                    "result": result,
                    "jobs": day2.to_json(),
                    "settings": settings,
                }),
                err,
            }
            .into());
        }
    }
    print_report(
        args,
        &waited,
        &plan,
        &job_id,
        code,
        day2.as_ref(),
        &settings,
    )?;
    Ok(code)
}

/// An error that came after the deploy ended, with the deploy's report for `--json` (which
/// prints one object, the error's, with these fields added).
#[derive(Debug)]
struct AfterTheDeploy {
    json: serde_json::Value,
    err: anyhow::Error,
}

impl std::fmt::Display for AfterTheDeploy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.err)
    }
}

impl std::error::Error for AfterTheDeploy {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.err.as_ref())
    }
}

/// The prefix from the configuration (for a quick deploy, which has no zip), else `--prefix`,
/// else the default.
fn configured_prefix(args: &DeployArgs) -> String {
    sfhooks::config::load(&args.input.overrides())
        .map(|c| c.prefix)
        .ok()
        .or_else(|| args.input.prefix.clone())
        .unwrap_or_else(|| sfhooks::config::DEFAULT_PREFIX.to_string())
}

/// The report on stdout: one JSON object with `--json`, else the human report.
fn print_report(
    args: &DeployArgs,
    waited: &Waited,
    plan: &Plan,
    job_id: &str,
    code: u8,
    day2: Option<&jobs::DeployJobs>,
    settings: &serde_json::Value,
) -> anyhow::Result<()> {
    if args.json {
        let result = match waited {
            Waited::Done(r) | Waited::StillRunning(r, _) => r,
        };
        let json = serde_json::json!({
            "status": code,
            "result": result,
            "jobs": day2.map(jobs::DeployJobs::to_json),
            "settings": settings,
        });
        crate::stdout::print(&format!("{json}\n"))
    } else {
        crate::stdout::print(&report(waited, plan, job_id))
    }
}

/// Starts the job (or picks up `--report`'s) and waits for it.
fn deploy_and_wait(
    conn: &mut Connection,
    plan: &Plan,
    timing: &Timing,
    ui: &Ui,
    interrupts_before: usize,
) -> Result<(String, Waited), (bool, anyhow::Error)> {
    let job_id = match &plan.job {
        Job::Deploy { zip, options } => {
            let id = conn
                .call(None, plan.target, |c| c.deploy(zip, options))
                .context("cannot start the deploy")
                .map_err(|e| (false, e))?;
            let what = if options.check_only {
                "validation"
            } else {
                "deploy"
            };
            ui.note(&format!(
                "started {what} {id} (test level {}{})",
                options.test_level,
                if options.run_tests.is_empty() {
                    String::new()
                } else {
                    format!(": {}", options.run_tests.join(", "))
                }
            ));
            id
        }
        Job::Quick { validation_id } => {
            let id = conn
                .call(None, plan.target, |c| {
                    c.deploy_recent_validation(validation_id)
                })
                .map_err(|e| (false, quick_failed(e, validation_id)))?;
            ui.note(&format!(
                "started quick deploy {id} of validation {validation_id}"
            ));
            id
        }
        Job::Report { job_id } => job_id.clone(),
    };
    let waited = wait_for(conn, &job_id, plan, timing, ui, interrupts_before)
        .map_err(|e| (true, lost_track(e, &job_id, plan.target)))?;
    Ok((job_id, waited))
}

/// Builds credentials from the flags: access token, then SFDX auth URL, then JWT
/// (`salesforce::login`, shared with every command that talks to an org).
fn credentials(args: &DeployArgs, target: Target) -> anyhow::Result<Credentials> {
    let kind = match target {
        Target::Sandbox => OrgKind::Sandbox,
        Target::Production | Target::Unspecified => OrgKind::Production,
    };
    login::resolve(&args.credentials.inputs(kind)).map_err(exit::credentials_failed)
}

/// The session, and how to get a new one when it expires mid-deploy.
struct Connection {
    creds: Credentials,
    http: reqwest::blocking::Client,
    client: MetadataClient,
    retry: RetryPolicy,
    /// The access token `client` uses.
    token: sfhooks::redacted::Redacted<String>,
    /// The REST client of the same run: one renewal serves both.
    rest: std::sync::Arc<RestClient>,
}

impl Connection {
    /// Makes one call; on `INVALID_SESSION_ID` renews the session once (refresh token or JWT)
    /// and makes it again. With a bare access token there is nothing to renew with.
    fn call<T>(
        &mut self,
        job_id: Option<&str>,
        target: Target,
        f: impl Fn(&MetadataClient) -> Result<T, MetadataError>,
    ) -> anyhow::Result<T> {
        match f(&self.client) {
            Err(MetadataError::InvalidSession { .. }) if self.creds.can_renew() => {
                // The REST client may have renewed the session already.
                let current = self.rest.session();
                let session = if current.access_token.expose() != self.token.expose() {
                    current
                } else {
                    let fresh = self.creds.login(&self.http).map_err(auth_failed)?;
                    self.rest.set_session(fresh.clone());
                    fresh
                };
                self.token = session.access_token.clone();
                self.client = MetadataClient::new(
                    self.http.clone(),
                    &session.instance_url,
                    session.access_token,
                    self.retry,
                )
                .with_context(|| format!("bad instance URL {}", session.instance_url))?;
                match f(&self.client) {
                    Err(err @ MetadataError::InvalidSession { .. }) => Err(AuthFailed(format!(
                        "Salesforce refused the session that the {} just issued: {err}",
                        self.creds.flow()
                    ))
                    .into()),
                    other => other.map_err(anyhow::Error::new),
                }
            }
            Err(err @ MetadataError::InvalidSession { .. }) => {
                let resume = job_id
                    .map(|id| {
                        format!(
                            "; then resume with `sfhooks deploy --report {id}{}`",
                            target.flag()
                        )
                    })
                    .unwrap_or_default();
                Err(Hinted {
                    message: format!("the access token expired or was revoked: {err}"),
                    hint: format!(
                        "get a fresh one (e.g. `sf org display --target-org <alias> --json`, \
                         field result.accessToken) and pass it as $SF_ACCESS_TOKEN{resume}; or \
                         authenticate with --sfdx-auth-url or the JWT flow, which sfhooks renews \
                         by itself"
                    ),
                    code: exit::AUTH,
                }
                .into())
            }
            other => other.map_err(anyhow::Error::new),
        }
    }
}

/// A failed `deployRecentValidation`, with what quick deploy needs.
fn quick_failed(err: anyhow::Error, validation_id: &str) -> anyhow::Error {
    let is_fault = err.chain().any(|c| {
        matches!(
            c.downcast_ref::<MetadataError>(),
            Some(MetadataError::Fault { .. })
        )
    });
    if !is_fault {
        return err.context(format!("cannot quick-deploy validation {validation_id}"));
    }
    Hinted {
        message: format!(
            "cannot quick-deploy validation {validation_id}: {}",
            exit::message(&err)
        ),
        hint: "quick deploy needs a validation of this org that succeeded within the last 10 \
               days and ran tests: run `sfhooks deploy --production --validate-only` and use \
               the id it prints"
            .into(),
        code: exit::FAILURE,
    }
    .into()
}

/// An error while waiting for a job that was started: says how to pick the job up again,
/// unless the error already carries its own hint (which then names the job).
fn lost_track(err: anyhow::Error, job_id: &str, target: Target) -> anyhow::Error {
    if !exit::hints(&err).is_empty() {
        return err;
    }
    Hinted {
        message: format!("lost track of deploy job {job_id}: {}", exit::message(&err)),
        hint: format!(
            "the job may still be running in Salesforce: `sfhooks deploy --report {job_id}{}` \
             resumes waiting (with the same credentials)",
            target.flag()
        ),
        code: exit::code_for(&err),
    }
    .into()
}

#[cfg(test)]
mod tests;
