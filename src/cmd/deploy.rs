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
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cli::DeployArgs;
use crate::exit::{self, AuthFailed, Hinted, UsageError};
use sfhooks::salesforce::auth::{self, Credentials, PRODUCTION_LOGIN_URL, SANDBOX_LOGIN_URL};
use sfhooks::salesforce::metadata::{DeployResult, MetadataClient, MetadataError, RetryPolicy};

mod output;
mod plan;

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
            let json = serde_json::json!({
                "status": code,
                "name": name,
                "message": exit::message(err),
                "hints": exit::hints(err),
            });
            print_stdout(&format!("{json}\n"))?;
        }
    }
    outcome
}

fn run_inner(args: &DeployArgs) -> anyhow::Result<u8> {
    let plan = plan(args)?;
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
    let client = MetadataClient::new(
        http.clone(),
        &session.instance_url,
        session.access_token,
        timing.retry,
    )
    .with_context(|| format!("bad instance URL {}", session.instance_url))?;
    let mut conn = Connection {
        creds,
        http,
        client,
        retry: timing.retry,
    };

    // Installed before the job starts, so a Ctrl-C from here on cancels it rather than killing
    // sfhooks with a deploy running unseen.
    count_interrupts().context("cannot install the Ctrl-C handler")?;
    let interrupts_before = INTERRUPTS.load(Ordering::SeqCst);

    let ui = Ui::new();
    let job_id = match &plan.job {
        Job::Deploy { zip, options } => {
            let id = conn
                .call(None, plan.target, |c| c.deploy(zip, options))
                .context("cannot start the deploy")?;
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
                .map_err(|e| quick_failed(e, validation_id))?;
            ui.note(&format!(
                "started quick deploy {id} of validation {validation_id}"
            ));
            id
        }
        Job::Report { job_id } => job_id.clone(),
    };

    let waited = wait_for(&mut conn, &job_id, &plan, &timing, &ui, interrupts_before)
        .map_err(|e| lost_track(e, &job_id, plan.target))?;
    ui.finish();
    let code = match &waited {
        Waited::Done(result) => verdict_code(result),
        Waited::StillRunning(..) => exit::STILL_RUNNING,
    };
    if args.json {
        let result = match &waited {
            Waited::Done(r) | Waited::StillRunning(r, _) => r,
        };
        let json = serde_json::json!({ "status": code, "result": result });
        print_stdout(&format!("{json}\n"))?;
    } else {
        print_stdout(&report(&waited, &plan, &job_id))?;
    }
    Ok(code)
}

/// Builds credentials from the flags: access token, then SFDX auth URL, then JWT.
fn credentials(args: &DeployArgs, target: Target) -> anyhow::Result<Credentials> {
    if let Some(token) = &args.access_token {
        let instance_url = args.instance_url.as_deref().ok_or_else(|| {
            UsageError::new("--access-token needs --instance-url (or $SF_INSTANCE_URL): the org's URL, e.g. https://acme.my.salesforce.com")
        })?;
        return Credentials::access_token(instance_url, token.expose().clone())
            .map_err(auth_failed);
    }
    if let Some(auth_url) = &args.sfdx_auth_url {
        return Credentials::from_sfdx_auth_url(auth_url.expose()).map_err(auth_failed);
    }
    let jwt_flags = [
        ("--client-id", args.client_id.is_some()),
        ("--username", args.username.is_some()),
        ("--jwt-key-file", args.jwt_key_file.is_some()),
    ];
    if let (Some(client_id), Some(username), Some(key_file)) =
        (&args.client_id, &args.username, &args.jwt_key_file)
    {
        // The audience is fixed by the kind of org, even when the token endpoint is a My Domain
        // URL: Salesforce accepts only these two (JWT Bearer Flow, "aud" claim).
        let audience = match target {
            Target::Sandbox => SANDBOX_LOGIN_URL,
            Target::Production | Target::Unspecified => PRODUCTION_LOGIN_URL,
        };
        let login_url = args.login_url.as_deref().unwrap_or(audience);
        return Credentials::jwt(login_url, audience, client_id, username, key_file)
            .map_err(auth_failed);
    }
    let given: Vec<&str> = jwt_flags.iter().filter(|f| f.1).map(|f| f.0).collect();
    if !given.is_empty() {
        let missing: Vec<&str> = jwt_flags.iter().filter(|f| !f.1).map(|f| f.0).collect();
        return Err(UsageError::new(format!(
            "the JWT bearer flow needs --client-id, --username and --jwt-key-file; missing {}",
            missing.join(", ")
        ))
        .into());
    }
    Err(Hinted {
        message: "no Salesforce credentials".into(),
        hint: "pass --access-token with --instance-url, or --sfdx-auth-url, or --client-id with \
               --username and --jwt-key-file (the same can come from $SF_ACCESS_TOKEN, \
               $SF_INSTANCE_URL, $SFDX_AUTH_URL); see docs/deploy.md"
            .into(),
        code: exit::USAGE,
    }
    .into())
}

/// Maps an auth-module error to an exit code: a malformed URL on the command line is a usage
/// error (2); anything about the credentials themselves is an authentication failure (3).
///
/// The exit-code types are plain messages found by `exit::code_for` walking the error chain,
/// where an anyhow *context* is invisible; so the cause is folded into the message instead.
fn auth_failed(err: auth::AuthError) -> anyhow::Error {
    match err {
        auth::AuthError::InsecureUrl { what, .. } | auth::AuthError::BadUrl { what, .. }
            if what != auth::TOKEN_ANSWER_URL =>
        {
            UsageError::new(err.to_string()).into()
        }
        other => AuthFailed(format!(
            "authentication with Salesforce failed: {}",
            exit::message_of(&other)
        ))
        .into(),
    }
}

/// The session, and how to get a new one when it expires mid-deploy.
struct Connection {
    creds: Credentials,
    http: reqwest::blocking::Client,
    client: MetadataClient,
    retry: RetryPolicy,
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
                let session = self.creds.login(&self.http).map_err(auth_failed)?;
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

/// Poll and retry timing; see [`POLL_MS_ENV`].
#[derive(Debug, Clone, Copy)]
struct Timing {
    first_poll: Duration,
    max_poll: Duration,
    retry: RetryPolicy,
}

impl Timing {
    fn from_env() -> anyhow::Result<Self> {
        let base_ms = match std::env::var(POLL_MS_ENV) {
            Ok(v) => v.parse::<u64>().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                UsageError::new(format!(
                    "${POLL_MS_ENV} must be a positive number of milliseconds"
                ))
            })?,
            Err(_) => 500,
        };
        Ok(Timing::with_base(base_ms))
    }

    fn with_base(base_ms: u64) -> Self {
        Timing {
            first_poll: Duration::from_millis(base_ms),
            // 0.5 s, 0.75 s, 1.1 s, ... up to 12 s: a short job is noticed within about a
            // second, a long one is asked about five times a minute.
            max_poll: Duration::from_millis(base_ms * 24),
            retry: RetryPolicy {
                tries: 5,
                first_delay: Duration::from_millis(base_ms * 2),
            },
        }
    }

    /// The pause after `delay`: half as long again, up to `max_poll`.
    fn next_delay(&self, delay: Duration) -> Duration {
        (delay * 3 / 2).min(self.max_poll)
    }
}

/// How the wait ended.
enum Waited {
    /// `done` was true: Succeeded, SucceededPartial, Failed or Canceled.
    Done(DeployResult),
    /// The job was still running when sfhooks stopped waiting; the last status seen.
    StillRunning(DeployResult, Stop),
}

/// Why sfhooks stopped waiting for a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    WaitRanOut,
    SecondCtrlC,
}

fn wait_for(
    conn: &mut Connection,
    job_id: &str,
    plan: &Plan,
    timing: &Timing,
    ui: &Ui,
    interrupts_before: usize,
) -> anyhow::Result<Waited> {
    let deadline = Instant::now() + plan.wait;
    let mut delay = timing.first_poll;
    let mut cancel_sent = false;
    loop {
        let result = conn.call(Some(job_id), plan.target, |c| c.check_deploy_status(job_id))?;
        ui.progress(&result);
        if result.done {
            return Ok(Waited::Done(result));
        }
        let interrupts = INTERRUPTS.load(Ordering::SeqCst) - interrupts_before;
        if interrupts >= 1 && !cancel_sent {
            ui.note(&format!(
                "Ctrl-C: canceling {job_id} (press Ctrl-C again to stop waiting)"
            ));
            conn.call(Some(job_id), plan.target, |c| c.cancel_deploy(job_id))
                .context("cannot cancel the deploy")?;
            cancel_sent = true;
            // The cancel takes effect quickly; look again soon.
            delay = timing.first_poll;
            continue;
        }
        if interrupts >= 2 {
            return Ok(Waited::StillRunning(result, Stop::SecondCtrlC));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Waited::StillRunning(result, Stop::WaitRanOut));
        }
        sleep_unless_interrupted(delay.min(deadline - now), INTERRUPTS.load(Ordering::SeqCst));
        delay = timing.next_delay(delay);
    }
}

/// Sleeps, waking early when Ctrl-C is pressed.
fn sleep_unless_interrupted(duration: Duration, interrupts: usize) {
    let end = Instant::now() + duration;
    loop {
        let now = Instant::now();
        if now >= end || INTERRUPTS.load(Ordering::SeqCst) != interrupts {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")
}

/// Counts every SIGINT in [`INTERRUPTS`] from now on, instead of letting it end the process.
/// The handler is registered before this returns (a Ctrl-C right after is counted) and only once
/// per process; the counting thread lives as long as the process.
fn count_interrupts() -> std::io::Result<()> {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let mut interrupts = {
        let _context = runtime.enter();
        #[cfg(unix)]
        let stream = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        #[cfg(windows)]
        let stream = tokio::signal::windows::ctrl_c()?;
        stream
    };
    std::thread::Builder::new()
        .name("sfhooks-ctrl-c".into())
        .spawn(move || {
            runtime.block_on(async move {
                while interrupts.recv().await.is_some() {
                    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
                }
            });
        })?;
    let _ = INSTALLED.set(());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::plan::{inspect_zip, job_id_arg};
    use sfhooks::salesforce::metadata::DeployStatus;
    #[test]
    fn a_refused_url_is_a_usage_error_unless_salesforce_gave_it() {
        use sfhooks::salesforce::auth::{AuthError as Refused, TOKEN_ANSWER_URL};
        let given = Refused::InsecureUrl {
            what: "login URL",
            url: "http://login.example.com".into(),
        };
        assert_eq!(exit::code_for(&super::auth_failed(given)), exit::USAGE);
        let answered = Refused::InsecureUrl {
            what: TOKEN_ANSWER_URL,
            url: "http://acme.my.salesforce.com".into(),
        };
        assert_eq!(exit::code_for(&super::auth_failed(answered)), exit::AUTH);
    }

    use super::*;

    /// A zip sfhooks cannot deploy is bad input, exit 2 (what is read from a zip is tested in
    /// `sfhooks::package`).
    #[test]
    fn package_xml_is_required_and_a_bad_zip_is_a_usage_error() {
        let empty = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()))
            .finish()
            .unwrap()
            .into_inner();
        let err = inspect_zip(&empty).unwrap_err();
        assert_eq!(exit::code_for(&err), exit::USAGE);
        assert!(err.to_string().contains("no package.xml"), "{err}");
        let err = inspect_zip(b"not a zip").unwrap_err();
        assert_eq!(exit::code_for(&err), exit::USAGE);
    }

    #[test]
    fn job_ids_must_look_like_salesforce_ids() {
        assert!(job_id_arg("--report", "0Af5g00000ABCDEFGH").is_ok());
        assert!(job_id_arg("--report", "0Af5g00000ABCDE").is_ok());
        for bad in ["", "0Af", "0Af5g00000ABCDEFG!", "0Af5g00000ABCDEFGHIJ"] {
            let err = job_id_arg("--quick", bad).unwrap_err();
            assert_eq!(exit::code_for(&err), exit::USAGE, "{bad}");
        }
    }

    /// When each `checkDeployStatus` goes out, in seconds after the deploy started, for a job
    /// that runs `for_secs` (the poll that sees it done included).
    fn poll_times(timing: &Timing, for_secs: f64) -> Vec<f64> {
        let mut times = vec![0.0];
        let mut delay = timing.first_poll;
        while *times.last().unwrap() < for_secs {
            times.push(times.last().unwrap() + delay.as_secs_f64());
            delay = timing.next_delay(delay);
        }
        times
    }

    #[test]
    fn polling_notices_a_short_job_within_a_second_and_spares_a_long_one() {
        let timing = Timing::with_base(500);
        // Polls at 0, 0.5 and 1.25 s: a job done within its first second is seen by 1.25 s.
        assert_eq!(poll_times(&timing, 1.0), vec![0.0, 0.5, 1.25]);
        // The pause grows to 12 s and stays there: five polls a minute on a long job.
        assert_eq!(timing.max_poll, Duration::from_secs(12));
        let hour_long = poll_times(&timing, 3600.0);
        assert!(hour_long.len() < 3600 / 12 + 15, "{}", hour_long.len());
        let gaps: Vec<f64> = hour_long.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g <= 12.0), "{gaps:?}");
        assert!(gaps.windows(2).all(|g| g[0] <= g[1]), "{gaps:?}");
        // Retries of a failed call wait 1 s, 2 s, 4 s, 8 s: bounded at 5 tries.
        assert_eq!(timing.retry.tries, 5);
        assert_eq!(timing.retry.first_delay, Duration::from_secs(1));
    }

    #[test]
    fn parsed_arguments_never_show_the_token_or_auth_url() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([
            "sfhooks",
            "deploy",
            "--sandbox",
            "--access-token",
            "00DSECRET!token",
            "--instance-url",
            "https://acme.my.salesforce.com",
            "--sfdx-auth-url",
            "force://id:SECRET2:SECRET3@acme.my.salesforce.com",
        ])
        .unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        let crate::cli::Command::Deploy(args) = cli.command else {
            panic!("not deploy")
        };
        assert_eq!(
            args.access_token.as_ref().map(|t| t.expose().as_str()),
            Some("00DSECRET!token")
        );
    }

    #[test]
    fn verdict_codes_follow_the_salesforce_cli() {
        // DeployResult is the library's non-exhaustive type: set its fields on a default one.
        let with = |status: DeployStatus, success: bool| {
            let mut result = DeployResult::default();
            result.status = status;
            result.success = success;
            result.done = true;
            result
        };
        assert_eq!(verdict_code(&with(DeployStatus::Succeeded, true)), 0);
        assert_eq!(
            verdict_code(&with(DeployStatus::SucceededPartial, true)),
            68
        );
        assert_eq!(verdict_code(&with(DeployStatus::Failed, false)), 1);
        assert_eq!(verdict_code(&with(DeployStatus::Canceled, false)), 1);
    }
}
