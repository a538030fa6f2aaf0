//! What `sfhooks deploy` shows: the live progress line on stderr, then the report on stdout and
//! the exit code, as the Salesforce CLI's deploy commands.

use std::io::IsTerminal as _;
use std::time::Duration;

use crate::exit;
use sfhooks::salesforce::metadata::{DeployResult, DeployStatus};

use super::plan::Plan;
use super::{Stop, Waited};

/// Exit code for a finished job, as the Salesforce CLI's deploy commands.
pub(super) fn verdict_code(result: &DeployResult) -> u8 {
    match result.status {
        DeployStatus::Succeeded => exit::OK,
        DeployStatus::SucceededPartial => exit::PARTIAL,
        DeployStatus::Failed | DeployStatus::Canceled => exit::FAILURE,
        _ if result.success => exit::OK,
        _ => exit::FAILURE,
    }
}

/// The human report: failures, warnings, then one verdict line (and the next command, if any).
pub(super) fn report(waited: &Waited, plan: &Plan, job_id: &str) -> String {
    let mut out = String::new();
    let result = match waited {
        Waited::Done(r) | Waited::StillRunning(r, _) => r,
    };
    let failures = &result.details.component_failures;
    if !failures.is_empty() {
        out.push_str(&format!("Component failures ({}):\n", failures.len()));
        for f in failures {
            let problem = f.problem.as_deref().unwrap_or("(no problem text)");
            match (f.line_number, f.column_number) {
                (Some(line), Some(col)) => {
                    out.push_str(&format!("  {}:{line}:{col} {problem}\n", f.file_name))
                }
                (Some(line), None) => {
                    out.push_str(&format!("  {}:{line} {problem}\n", f.file_name))
                }
                _ => out.push_str(&format!("  {}: {problem}\n", f.file_name)),
            }
        }
    }
    let locked = failures.iter().any(|f| {
        f.problem
            .as_deref()
            .is_some_and(|p| p.contains("jobs pending or in progress"))
    });
    if locked {
        out.push_str(
            "Salesforce refuses to deploy a class that has Apex jobs scheduled or pending, and \
             the classes a scheduled class references. sfhooks pauses the jobs of the generated \
             classes (unless --allow-pending-jobs); a job of another class that calls them locks \
             them too: abort it in Setup > Scheduled Jobs (or Apex Jobs) and deploy again, or turn \
             on Setup > Deployment Settings > \"Allow deployments of components when corresponding \
             Apex jobs are pending or in progress\".\n",
        );
    }
    if let Some(tests) = &result.details.run_test_result {
        if !tests.failures.is_empty() {
            out.push_str(&format!("Test failures ({}):\n", tests.failures.len()));
            for t in &tests.failures {
                let name = match &t.method_name {
                    Some(method) => format!("{}.{method}", t.name),
                    None => t.name.clone(),
                };
                out.push_str(&format!("  {name}: {}\n", t.message));
                for line in t.stack_trace.iter().flat_map(|s| s.lines()) {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
        if !tests.code_coverage_warnings.is_empty() {
            out.push_str("Code coverage warnings:\n");
            for w in &tests.code_coverage_warnings {
                match &w.name {
                    Some(name) => out.push_str(&format!("  {name}: {}\n", w.message)),
                    None => out.push_str(&format!("  {}\n", w.message)),
                }
            }
        }
    }
    if let Some(message) = &result.error_message {
        out.push_str(&format!("Salesforce: {message}\n"));
    }

    let noun = if result.check_only {
        "validation"
    } else {
        "deploy"
    };
    let counts = counts(result);
    match waited {
        Waited::StillRunning(_, stop) => {
            let why = match stop {
                Stop::WaitRanOut => format!("after --wait {} minutes", plan.wait.as_secs() / 60),
                Stop::SecondCtrlC => "when waiting was stopped (second Ctrl-C)".to_string(),
            };
            out.push_str(&format!(
                "{noun} {job_id} is still {} {why}{counts}\n",
                result.status
            ));
            out.push_str(&format!(
                "resume waiting with: sfhooks deploy --report {job_id}{} (with the same credentials)\n",
                plan.target.flag()
            ));
        }
        Waited::Done(_) => match result.status {
            DeployStatus::Succeeded => {
                out.push_str(&format!("{noun} {job_id} succeeded{counts}\n"));
                if result.check_only {
                    out.push_str(&format!(
                        "quick-deploy it within 10 days with: sfhooks deploy --production --quick {job_id}\n"
                    ));
                }
            }
            DeployStatus::SucceededPartial => {
                out.push_str(&format!("{noun} {job_id} partially succeeded{counts}\n"));
            }
            DeployStatus::Canceled => {
                let by = result
                    .canceled_by_name
                    .as_deref()
                    .map(|n| format!(" by {n}"))
                    .unwrap_or_default();
                out.push_str(&format!("{noun} {job_id} was canceled{by}{counts}\n"));
            }
            _ if result.success => out.push_str(&format!(
                "{noun} {job_id} ended {}{counts}\n",
                result.status
            )),
            _ => out.push_str(&format!("{noun} {job_id} failed{counts}\n")),
        },
    }
    out
}

/// `: 2/3 components deployed (1 error), 1/2 tests run (1 failure)`.
fn counts(r: &DeployResult) -> String {
    let mut parts = vec![format!(
        "{}/{} components deployed",
        r.number_components_deployed, r.number_components_total
    )];
    if r.number_component_errors > 0 {
        parts[0].push_str(&format!(
            " ({} {})",
            r.number_component_errors,
            plural(r.number_component_errors, "error")
        ));
    }
    if r.number_tests_total > 0 {
        let mut tests = format!(
            "{}/{} tests run",
            r.number_tests_completed, r.number_tests_total
        );
        if r.number_test_errors > 0 {
            tests.push_str(&format!(
                " ({} {})",
                r.number_test_errors,
                plural(r.number_test_errors, "failure")
            ));
        }
        parts.push(tests);
    }
    format!(": {}", parts.join(", "))
}

fn plural(n: i64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// Progress on stderr: a live spinner line on a terminal, one line per status change otherwise.
pub(super) struct Ui {
    bar: Option<indicatif::ProgressBar>,
    last_status: std::cell::RefCell<Option<String>>,
}

impl Ui {
    pub(super) fn new() -> Self {
        let bar = (std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Ui {
            bar,
            last_status: std::cell::RefCell::new(None),
        }
    }

    fn line(r: &DeployResult) -> String {
        let mut line = format!(
            "{}: components {}/{}",
            r.status, r.number_components_deployed, r.number_components_total
        );
        if r.number_tests_total > 0 {
            line.push_str(&format!(
                ", tests {}/{}",
                r.number_tests_completed, r.number_tests_total
            ));
        }
        if let Some(detail) = r.state_detail.as_deref().filter(|d| !d.is_empty()) {
            line.push_str(&format!(" ({detail})"));
        }
        line
    }

    pub(super) fn progress(&self, r: &DeployResult) {
        match &self.bar {
            Some(bar) => bar.set_message(Self::line(r)),
            None => {
                let status = r.status.to_string();
                let mut last = self.last_status.borrow_mut();
                if last.as_deref() != Some(status.as_str()) {
                    eprintln!("{}", Self::line(r));
                    *last = Some(status);
                }
            }
        }
    }

    pub(super) fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Ui {
    /// Clears the live line on every way out, errors included, so the error is not printed
    /// after a stale status.
    fn drop(&mut self) {
        self.finish();
    }
}
