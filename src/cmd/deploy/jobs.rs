//! The deploy's day 2: the generated classes' jobs around the deploy, the first
//! schedule of the sweeper, and the org pin of the settings record.
//!
//! Before the deploy: look the jobs up (REST), print what will be paused and restored, pause
//! them (Anonymous Apex), and wait, bounded and with progress, for a running dispatcher to end.
//! After it: restore what was paused (the new code after a successful deploy, the old one after a
//! failed or canceled deploy and after every validation), or nothing after an uninstall; schedule
//! the sweeper on the first deploy. When the jobs cannot be restored, the Anonymous Apex that
//! restores them is printed with the error. The logic of which Apex to run lives in
//! `salesforce::jobs`; this file decides when, and says so.
use std::time::{Duration, Instant};

use serde_json::json;

use crate::exit::{self, Hinted};
use sfhooks::mdapi;
use sfhooks::salesforce::jobs::{self, JobsError, OrgJobs, Restore};
use sfhooks::salesforce::rest::RestClient;

use super::output::Ui;

/// What this run does with the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Pause before, restore after (deploy, validation, quick deploy).
    Pause,
    /// Abort before, restore none after success (uninstall).
    Abort,
    /// The org allows deployments with jobs pending: touch nothing.
    Leave,
}

/// How the deploy ended, as far as the jobs are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Succeeded (not check-only): the new code is in the org.
    Deployed,
    /// Failed, canceled, or a validation (nothing saved): the old code is in the org.
    NothingSaved,
    /// Still running, or sfhooks lost track: restoring now could hit the lock.
    Unknown,
}

/// The jobs of one deploy run.
pub(super) struct DeployJobs {
    prefix: String,
    mode: Mode,
    found: OrgJobs,
    /// No sweeper job was scheduled before this deploy.
    first_deploy: bool,
    /// `--no-schedule`.
    no_schedule: bool,
    /// The deploy is check-only (nothing is saved, even when it succeeds).
    check_only: bool,
    paused: bool,
    /// What happened, for the JSON report.
    pub(super) log: Vec<String>,
    scheduled_sweeper: bool,
    /// The Anonymous Apex that schedules the sweeper, once known (after the deploy).
    schedule_line: Option<String>,
    restored: bool,
}

/// How long a running dispatcher may take to end before the deploy gives up, and how often it
/// is looked at: 10 minutes and every 2 s by default (scaled by `SFHOOKS_POLL_MS` in tests).
#[derive(Debug, Clone, Copy)]
pub(super) struct RunningWait {
    pub(super) every: Duration,
    pub(super) at_most: Duration,
}

impl DeployJobs {
    /// Looks up the jobs and prints the plan.
    pub(super) fn prepare(
        rest: &RestClient,
        prefix: &str,
        mode: Mode,
        check_only: bool,
        no_schedule: bool,
        ui: &Ui,
    ) -> anyhow::Result<Self> {
        let found = match jobs::lookup(rest, prefix) {
            Ok(found) => found,
            // With --allow-pending-jobs the lookup only informs the plan: say why it is empty.
            Err(err) if mode == Mode::Leave && !err.session_ended() => {
                ui.note(&format!(
                    "jobs: cannot look up the jobs ({}); deploying without (--allow-pending-jobs)",
                    exit::message_of(&err)
                ));
                OrgJobs::default()
            }
            Err(err) => return Err(jobs_failed(err, "look up")),
        };
        let sweeper = format!("{prefix}Sweeper");
        let first_deploy = !found.scheduled.iter().any(|j| {
            j.class_name.as_deref() == Some(sweeper.as_str()) || j.name.starts_with(&sweeper)
        });
        let this = DeployJobs {
            prefix: prefix.to_string(),
            mode,
            found,
            first_deploy,
            no_schedule,
            check_only,
            paused: false,
            log: Vec::new(),
            scheduled_sweeper: false,
            schedule_line: None,
            restored: false,
        };
        for line in this.plan_lines() {
            ui.note(&line);
        }
        Ok(this)
    }

    /// The plan, one line each: what is found, what will be paused and restored.
    fn plan_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let names: Vec<String> =
            self.found
                .scheduled
                .iter()
                .map(|j| format!("{} ({})", j.name, j.state))
                .chain(
                    self.found.async_jobs.iter().map(|j| {
                        format!("{} {} {} ({})", j.class_name, j.job_type, j.id, j.status)
                    }),
                )
                .collect();
        if names.is_empty() {
            lines.push(format!(
                "jobs: no job of the {}* classes is scheduled, queued or running",
                self.prefix
            ));
        } else {
            let (verb, after) = match self.mode {
                Mode::Pause if self.check_only => ("pause", "restore them after the validation, whatever its outcome"),
                Mode::Pause => ("pause", "restore them after the deploy (with the new code when it succeeds)"),
                Mode::Abort => ("abort", "restore none after the uninstall (the classes are gone); restore them if it fails"),
                Mode::Leave => ("leave running (--allow-pending-jobs)", "nothing to restore"),
            };
            lines.push(format!(
                "jobs: will {verb}: {}; then {after}",
                names.join(", ")
            ));
            let running = self.found.running();
            if !running.is_empty() && self.mode != Mode::Leave {
                lines.push(format!(
                    "jobs: {} running now cannot be stopped: sfhooks sets the pause its chain obeys and waits for it to end",
                    running.len()
                ));
            }
            for job in self.found.unrestorable() {
                lines.push(format!(
                    "jobs: warning: {} ({}) has no known class and cannot be rescheduled automatically",
                    job.name, job.id
                ));
            }
        }
        if self.mode != Mode::Abort && self.first_deploy && !self.check_only {
            if self.no_schedule {
                lines.push(format!(
                    "jobs: no sweeper is scheduled; --no-schedule: an admin schedules it after the deploy with the Anonymous Apex `{}`",
                    jobs::schedule_sweeper_apex(&self.prefix)
                ));
            } else {
                lines.push(
                    "jobs: no sweeper is scheduled: sfhooks schedules it after the deploy, as the deploying user"
                        .into(),
                );
            }
        }
        lines
    }

    /// Pauses (or aborts) the jobs, then waits for running ones to end. On an error nothing
    /// stays paused: what was paused is restored first.
    pub(super) fn pause(
        &mut self,
        rest: &RestClient,
        wait: RunningWait,
        ui: &Ui,
        interrupted: &dyn Fn() -> bool,
    ) -> anyhow::Result<()> {
        if self.found.is_empty() || self.mode == Mode::Leave {
            return Ok(());
        }
        let apex = match self.mode {
            Mode::Abort => jobs::abort_apex(&self.found),
            _ => jobs::pause_apex(&self.prefix, &self.found),
        };
        jobs::run_apex(rest, &apex).map_err(|e| jobs_failed(e, "pause"))?;
        self.paused = true;
        let verb = if self.mode == Mode::Abort {
            "aborted"
        } else {
            "paused"
        };
        let message = format!(
            "jobs: {verb} {} scheduled and {} queued job(s)",
            self.found.scheduled.len(),
            self.found
                .async_jobs
                .iter()
                .filter(|j| !j.is_running())
                .count()
        );
        ui.note(&message);
        self.log.push(message);
        if let Err(err) = self.wait_for_running(rest, wait, ui, interrupted) {
            return Err(self.restore_after_error(rest, err));
        }
        Ok(())
    }

    fn wait_for_running(
        &mut self,
        rest: &RestClient,
        wait: RunningWait,
        ui: &Ui,
        interrupted: &dyn Fn() -> bool,
    ) -> anyhow::Result<()> {
        let mut running: Vec<String> = self.found.running().iter().map(|j| j.id.clone()).collect();
        if running.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let deadline = started + wait.at_most;
        let mut polls = 0u32;
        loop {
            let ids: Vec<&str> = running.iter().map(String::as_str).collect();
            let still = jobs::still_running(rest, &ids).map_err(|e| jobs_failed(e, "watch"))?;
            if still.is_empty() {
                break;
            }
            if interrupted() {
                return Err(Hinted {
                    message: "interrupted (Ctrl-C) while waiting for the running dispatcher: nothing was deployed".into(),
                    hint: "run the deploy again when you are ready".into(),
                    code: exit::FAILURE,
                }
                .into());
            }
            // A line at the start and then every 15 looks (30 s by default), not one per look.
            let say = polls.is_multiple_of(15);
            polls += 1;
            let at_deadline = Instant::now() >= deadline;
            if say || at_deadline {
                ui.note(&format!(
                    "jobs: waiting for {} to end ({} s so far, at most {} s)",
                    still
                        .iter()
                        .map(|j| format!("{} {}", j.class_name, j.id))
                        .collect::<Vec<_>>()
                        .join(", "),
                    started.elapsed().as_secs(),
                    wait.at_most.as_secs()
                ));
            }
            if at_deadline {
                return Err(Hinted {
                    message: format!(
                        "{} still running after {} s: nothing was deployed",
                        still.iter().map(|j| format!("{} {}", j.class_name, j.id)).collect::<Vec<_>>().join(", "),
                        wait.at_most.as_secs()
                    ),
                    hint: "a dispatcher run can take a few minutes (one callout per delivery); run the \
                           deploy again later"
                        .into(),
                    code: exit::FAILURE,
                }
                .into());
            }
            running = still.into_iter().map(|j| j.id).collect();
            std::thread::sleep(wait.every);
        }
        // A run that ended may have chained a new one before it saw the pause: abort that too.
        let again = jobs::lookup(rest, &self.prefix).map_err(|e| jobs_failed(e, "look up"))?;
        let chained = OrgJobs {
            scheduled: Vec::new(),
            async_jobs: again
                .async_jobs
                .into_iter()
                .filter(|j| !j.is_running())
                .collect(),
            has_jobs_class: false,
        };
        if !chained.async_jobs.is_empty() {
            jobs::run_apex(rest, &jobs::abort_apex(&chained))
                .map_err(|e| jobs_failed(e, "pause"))?;
            ui.note(&format!(
                "jobs: aborted {} job(s) queued meanwhile",
                chained.async_jobs.len()
            ));
        }
        ui.note("jobs: nothing of the generated classes is running");
        Ok(())
    }

    /// The Anonymous Apex that restores the jobs, for the code that is in the org (`new_code`:
    /// whether that code has the `<Prefix>Jobs` class).
    fn restore_apex(&self, has_jobs_class: bool) -> String {
        if !has_jobs_class {
            return jobs::restore_apex(&self.prefix, &self.found, Restore::BySchedule);
        }
        // `<Prefix>Jobs.restore()` schedules the sweeper under its own names; the other paused
        // jobs come back by name.
        let sweeper = format!("{}Sweeper", self.prefix);
        let others = OrgJobs {
            scheduled: self
                .found
                .scheduled
                .iter()
                .filter(|j| j.class_name.as_deref() != Some(sweeper.as_str()))
                .cloned()
                .collect(),
            ..OrgJobs::default()
        };
        jobs::restore_apex(&self.prefix, &others, Restore::ThroughJobsClass)
    }

    /// What the deploy's end means for the jobs: restores, schedules the sweeper. Returns an
    /// error (with the Apex to run by hand) when that fails.
    pub(super) fn finish(
        &mut self,
        rest: &RestClient,
        ended: Ended,
        ui: &Ui,
    ) -> anyhow::Result<()> {
        let deployed = ended == Ended::Deployed && !self.check_only;
        match ended {
            Ended::Unknown => {
                if self.paused {
                    let apex = self.restore_apex(self.found.has_jobs_class);
                    let message =
                        "jobs: the deploy has not ended, so the paused jobs were not restored"
                            .to_string();
                    ui.note(&message);
                    ui.note(&format!(
                        "jobs: once it has ended, run this Anonymous Apex (Developer Console, or `sf apex run`):\n{apex}"
                    ));
                    self.log.push(message);
                }
                return Ok(());
            }
            Ended::Deployed | Ended::NothingSaved => {}
        }
        if self.paused && !(deployed && self.mode == Mode::Abort) {
            let has_jobs_class = if deployed {
                class_exists(rest, &jobs::jobs_class(&self.prefix))
                    .map_err(|e| self.cannot_restore(e, self.found.has_jobs_class))?
            } else {
                self.found.has_jobs_class
            };
            let apex = self.restore_apex(has_jobs_class);
            jobs::run_apex(rest, &apex).map_err(|e| self.cannot_restore(e, has_jobs_class))?;
            self.restored = true;
            let message = format!(
                "jobs: restored the {} job(s) paused before the deploy",
                self.found.scheduled.len()
            );
            ui.note(&message);
            self.log.push(message);
        }
        if deployed && self.mode != Mode::Abort && self.first_deploy {
            self.schedule_sweeper(rest, ui)?;
        }
        Ok(())
    }

    fn schedule_sweeper(&mut self, rest: &RestClient, ui: &Ui) -> anyhow::Result<()> {
        let line = match class_exists(rest, &jobs::jobs_class(&self.prefix)) {
            Ok(true) => jobs::schedule_sweeper_apex(&self.prefix),
            // Code without the Jobs class (an older template) schedules through the sweeper.
            Ok(false) => format!("{}Sweeper.ensureScheduled();", self.prefix),
            Err(e) => return Err(self.cannot_schedule(e)),
        };
        self.schedule_line = Some(line.clone());
        if self.no_schedule {
            let message = format!(
                "jobs: --no-schedule: the sweeper is not scheduled; an admin (the user the jobs should run as) runs the Anonymous Apex `{line}`"
            );
            ui.note(&message);
            self.log.push(message);
            return Ok(());
        }
        jobs::run_apex(rest, &line).map_err(|e| self.cannot_schedule(e))?;
        self.scheduled_sweeper = true;
        let message = format!(
            "jobs: scheduled the sweeper as the deploying user (`{line}`); see docs/apex-design.md to move it to an integration user"
        );
        ui.note(&message);
        self.log.push(message);
        Ok(())
    }

    /// After an error between the pause and the deploy's end: restore what was paused (the old
    /// code is in the org), and return the error, with the Apex when even that failed.
    pub(super) fn restore_after_error(
        &mut self,
        rest: &RestClient,
        err: anyhow::Error,
    ) -> anyhow::Error {
        if !self.paused || self.restored {
            return err;
        }
        let apex = self.restore_apex(self.found.has_jobs_class);
        match jobs::run_apex(rest, &apex) {
            Ok(()) => {
                self.restored = true;
                err.context("the paused jobs were restored")
            }
            Err(restore_err) => {
                let code = if restore_err.session_ended() {
                    exit::AUTH
                } else {
                    exit::code_for(&err).max(exit::FAILURE)
                };
                Hinted {
                    message: format!(
                        "{}; and the paused jobs could not be restored: {}",
                        exit::message(&err),
                        exit::message_of(&restore_err)
                    ),
                    hint: format!("restore them with this Anonymous Apex (Developer Console, or `sf apex run`):\n{apex}"),
                    code,
                }
                .into()
            }
        }
    }

    /// After sfhooks lost track of a started deploy: the jobs stay paused (restoring while the
    /// deploy runs could fail it), and the error says how to restore them once it has ended.
    pub(super) fn leave_paused(&self, err: anyhow::Error) -> anyhow::Error {
        if !self.paused || self.mode == Mode::Abort {
            return err;
        }
        let apex = self.restore_apex(self.found.has_jobs_class);
        let mut hints = exit::hints(&err);
        hints.push(format!(
            "the paused jobs were not restored, since the deploy may still be running: once it has \
             ended, restore them with this Anonymous Apex (Developer Console, or `sf apex run`):\n{apex}"
        ));
        Hinted {
            message: exit::message(&err),
            hint: hints.join("\n"),
            code: exit::code_for(&err),
        }
        .into()
    }

    fn cannot_restore(&self, err: JobsError, has_jobs_class: bool) -> anyhow::Error {
        let apex = self.restore_apex(has_jobs_class);
        let code = if err.session_ended() {
            exit::AUTH
        } else {
            exit::FAILURE
        };
        Hinted {
            message: format!(
                "the deploy ended, but the jobs paused before it could not be restored: {}",
                exit::message_of(&err)
            ),
            hint: format!("restore them with this Anonymous Apex (Developer Console, or `sf apex run`):\n{apex}"),
            code,
        }
        .into()
    }

    fn cannot_schedule(&self, err: JobsError) -> anyhow::Error {
        let not_allowed = matches!(err, JobsError::NotAllowed { .. });
        let line = jobs::schedule_sweeper_apex(&self.prefix);
        Hinted {
            message: format!(
                "the deploy succeeded, but the sweeper could not be scheduled: {}",
                exit::message_of(&err)
            ),
            hint: if not_allowed {
                format!("the deploying user may not run Anonymous Apex: an admin runs `{line}` (Developer Console), or deploy again with --no-schedule")
            } else {
                format!("schedule it with the Anonymous Apex `{line}` (Developer Console, or `sf apex run`)")
            },
            code: exit::FAILURE,
        }
        .into()
    }

    /// The `jobs` object of `--json`.
    pub(super) fn to_json(&self) -> serde_json::Value {
        json!({
            "prefix": self.prefix,
            "mode": match self.mode { Mode::Pause => "pause", Mode::Abort => "abort", Mode::Leave => "leave" },
            "scheduled": self.found.scheduled,
            "async": self.found.async_jobs,
            "paused": self.paused,
            "restored": self.restored,
            "firstDeploy": self.first_deploy,
            "sweeperScheduled": self.scheduled_sweeper,
            "scheduleApex": if self.no_schedule { self.schedule_line.clone() } else { None },
            "restoreApex": (self.paused && !self.restored && self.mode != Mode::Abort).then(|| self.restore_apex(self.found.has_jobs_class)),
            "log": self.log,
        })
    }
}

fn class_exists(rest: &RestClient, name: &str) -> Result<bool, JobsError> {
    let query = format!(
        "SELECT Id FROM ApexClass WHERE Name = {}",
        sfhooks::salesforce::soql_literal::quoted(name)
    );
    Ok(!rest.query(&query)?.records.is_empty())
}

/// A jobs error before anything was paused, with the way out.
fn jobs_failed(err: JobsError, what: &str) -> anyhow::Error {
    match &err {
        JobsError::NotAllowed { .. } => Hinted {
            message: format!("cannot {what} the jobs of the generated classes before the deploy: {}", exit::message_of(&err)),
            hint: "Salesforce refuses to deploy classes whose jobs are scheduled or queued, and sfhooks pauses them \
                   with Anonymous Apex. Either give the deploying user the \"Author Apex\" permission (a permission \
                   set), or turn on Setup > Deployment Settings > \"Allow deployments of components when \
                   corresponding Apex jobs are pending or in progress\" and deploy with --allow-pending-jobs"
                .into(),
            code: exit::FAILURE,
        }
        .into(),
        e if e.session_ended() => Hinted {
            message: format!("cannot {what} the jobs of the generated classes: {}", exit::message_of(&err)),
            hint: "get a fresh access token, or authenticate with --sfdx-auth-url or the JWT flow, which sfhooks renews by itself".into(),
            code: exit::AUTH,
        }
        .into(),
        _ => anyhow::Error::new(err).context(format!("cannot {what} the jobs of the generated classes")),
    }
}

/// The prefix of the generated names in a zip: from its settings type,
/// `objects/<Prefix>_Settings__mdt.object`, or, in an uninstall zip, the same name among the
/// members of destructiveChanges.xml.
pub(super) fn prefix_in_zip(zip: &[u8]) -> Option<String> {
    use std::io::Read as _;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).ok()?;
    let suffix = mdapi::SETTINGS_SUFFIX;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).ok()?;
        let name = file.name().replace('\\', "/");
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        if let Some(prefix) = base
            .strip_suffix(".object")
            .and_then(|b| b.strip_suffix(suffix))
            .filter(|_| name.contains("objects/"))
        {
            return Some(prefix.to_string());
        }
        if base == mdapi::DESTRUCTIVE_CHANGES_XML {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            let found = text.split("<members>").skip(1).find_map(|rest| {
                let member = rest.split("</members>").next()?.trim();
                member.strip_suffix(suffix).map(str::to_string)
            });
            if found.is_some() {
                return found;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
