//! Shared test support: running the binary in a clean environment, golden files, fake servers.
#![allow(dead_code)]

pub mod fake_org;
pub mod fake_records;
pub mod fake_rest;
pub mod fake_status;
pub mod nats;
pub mod nats_creds;
pub mod poll_receiver;
pub mod receiver;

use std::path::Path;
use std::process::{Command, Output};

/// The `sfhooks` binary with a clean environment: no HOME, no SF_*/SFDX_*/SFHOOKS_* variables,
/// so a developer's own Salesforce login can never leak into a test.
/// `sfhooks listen --port 0 --secret-env SFHOOKS_TEST_SECRET`, to which a test adds its flags and
/// the secret's value.
pub fn listen_any_port(cwd: &Path) -> Command {
    let mut cmd = sfhooks(cwd);
    cmd.args([
        "listen",
        "--port",
        "0",
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
    ]);
    cmd
}

pub fn sfhooks(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sfhooks"));
    cmd.current_dir(cwd).env_remove("HOME");
    for (key, _) in std::env::vars() {
        if key.starts_with("SF_") || key.starts_with("SFDX_") || key.starts_with("SFHOOKS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs a command and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the sfhooks binary runs")
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit code (panics on a signal, which is always a test failure).
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally, not by a signal")
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// True when golden files should be rewritten instead of compared (`SNAPSHOTS=overwrite`).
pub fn overwrite_snapshots() -> bool {
    std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite")
}
