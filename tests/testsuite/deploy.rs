//! `sfhooks deploy` against the fake org (issue 4): every flow through the real binary, checking
//! stdout, stderr, the exit code, and what the org received.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::support::fake_org::{self, FakeOrg, Poll, Script};
use crate::support::{code, run, stderr, stdout};

const PACKAGE_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
    <types>
        <members>SfhooksDispatcher</members>
        <members>SfhooksDispatcherTest</members>
        <name>ApexClass</name>
    </types>
    <version>63.0</version>
</Package>
"#;
const CLASS_META: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>63.0</apiVersion>
    <status>Active</status>
</ApexClass>
"#;
const DISPATCHER: &str =
    "public with sharing class SfhooksDispatcher {\n    public static Integer sent = 0;\n}\n";
const DISPATCHER_TEST: &str = "@IsTest\nprivate class SfhooksDispatcherTest {\n    @IsTest static void sends() {\n        System.assertEquals(0, SfhooksDispatcher.sent);\n    }\n}\n";
const COVERAGE_WARNING: &str = "Average test coverage across all Apex Classes and Triggers is 25%, at least 75% test coverage is required.";

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry starts");
        w.write_all(body.as_bytes()).expect("zip entry written");
    }
    w.finish().expect("zip finished").into_inner()
}

/// package.xml, one class and its `@IsTest` test class.
fn sample_zip() -> Vec<u8> {
    zip_of(&[
        ("package.xml", PACKAGE_XML),
        ("classes/SfhooksDispatcher.cls", DISPATCHER),
        ("classes/SfhooksDispatcher.cls-meta.xml", CLASS_META),
        ("classes/SfhooksDispatcherTest.cls", DISPATCHER_TEST),
        ("classes/SfhooksDispatcherTest.cls-meta.xml", CLASS_META),
    ])
}

/// A temp folder holding a zip, and the org.
struct World {
    org: FakeOrg,
    dir: tempfile::TempDir,
    zip: PathBuf,
}

impl World {
    fn new() -> Self {
        Self::with(FakeOrg::start(), &sample_zip())
    }

    fn with(org: FakeOrg, zip: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sfhooks.zip");
        std::fs::write(&path, zip).expect("zip written");
        World {
            org,
            dir,
            zip: path,
        }
    }

    /// `sfhooks deploy ARGS`, fast polling, nothing from the developer's environment.
    fn deploy(&self, args: &[&str]) -> Command {
        let mut cmd = crate::support::sfhooks(self.dir.path());
        cmd.env("SFHOOKS_POLL_MS", "2").arg("deploy").args(args);
        cmd
    }

    /// `sfhooks deploy ARGS` signed in with the fake org's static access token.
    fn deploy_signed_in(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy(args);
        cmd.args(["--access-token", fake_org::ACCESS_TOKEN, "--instance-url"])
            .arg(self.org.url());
        cmd
    }

    /// `deploy ARGS --zip sfhooks.zip` signed in with an SFDX auth URL holding the fake org's
    /// refresh token, so an expired session can be renewed.
    fn deploy_with_refresh_token(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy(args);
        cmd.arg("--zip").arg(&self.zip).env(
            "SFDX_AUTH_URL",
            self.org.sfdx_auth_url(fake_org::REFRESH_TOKEN),
        );
        cmd
    }

    /// `deploy ARGS --access-token … --instance-url … --zip sfhooks.zip`.
    fn deploy_with_token(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy_signed_in(args);
        cmd.arg("--zip").arg(&self.zip);
        cmd
    }

    fn key(&self, name: &str) -> PathBuf {
        crate::support::repo_root()
            .join("fixtures/deploy")
            .join(name)
    }
}

/// The session id each `checkDeployStatus` carried, in order.
fn poll_sessions(org: &FakeOrg) -> Vec<Option<String>> {
    org.received_for("checkDeployStatus")
        .into_iter()
        .map(|r| r.session_id)
        .collect()
}

fn options_of(org: &FakeOrg) -> Vec<(String, String)> {
    let deploys = org.deploys();
    assert_eq!(deploys.len(), 1, "one deploy request");
    deploys[0].options.clone()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The job id on the verdict line, e.g. `deploy 0Af000000000000001 succeeded: …`.
fn job_id_in(out: &str, noun: &str) -> String {
    let start = out
        .find(&format!("{noun} 0Af"))
        .unwrap_or_else(|| panic!("no `{noun} 0Af…` in {out}"))
        + noun.len()
        + 1;
    out[start..start + 18].to_string()
}

/// Checks the exit code, and that no secret reached stdout or stderr: every test goes through
/// here, so every path is grepped for tokens.
fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    assert_no_secrets(&format!("{}{}", stdout(out), stderr(out)));
}

/// Pieces of every secret the tests use: the fake's access tokens (static and issued, all
/// `00Dfake…!AQ.…`), the refresh token, the consumer secret, a JWT assertion (its header
/// `{"alg":"RS256"}` in base64url) and the test private key.
fn assert_no_secrets(printed: &str) {
    let key =
        std::fs::read_to_string(crate::support::repo_root().join("fixtures/deploy/jwt-key.pem"))
            .expect("the test key");
    let key_line = key.lines().nth(1).expect("a PEM body line");
    for secret in [
        "!AQ.",
        fake_org::REFRESH_TOKEN,
        fake_org::CLIENT_SECRET,
        "eyJhbGciOiJSUzI1NiJ9",
        key_line,
    ] {
        assert!(
            !printed.contains(secret),
            "a secret ({secret}) was printed:\n{printed}"
        );
    }
}

#[test]
fn sandbox_deploy_sends_the_zip_with_wsdl_ordered_options_and_succeeds() {
    let w = World::new();
    w.org.script(Script::succeeds());
    // The access token from the environment, as `sf org display` users pass it.
    let mut cmd = w.deploy(&["--sandbox", "--zip"]);
    cmd.arg(&w.zip)
        .env("SF_ACCESS_TOKEN", fake_org::ACCESS_TOKEN)
        .env("SF_INSTANCE_URL", w.org.url());
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let id = job_id_in(&stdout(&out), "deploy");
    assert_eq!(
        stdout(&out),
        format!("deploy {id} succeeded: 2/2 components deployed\n")
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("started deploy {id} (test level NoTestRun)")),
        "{err}"
    );
    assert!(
        err.contains("Pending: components 0/2\n") && err.contains("InProgress: components 1/2"),
        "{err}"
    );
    // Not a terminal: plain lines, no live line (no carriage returns or escape sequences).
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");

    let deploys = w.org.deploys();
    assert_eq!(deploys.len(), 1);
    assert_eq!(
        deploys[0].zip,
        sample_zip(),
        "the zip is sent byte for byte"
    );
    assert_eq!(
        deploys[0].options,
        pairs(&[
            ("allowMissingFiles", "false"),
            ("autoUpdatePackage", "false"),
            ("checkOnly", "false"),
            ("ignoreWarnings", "false"),
            ("performRetrieve", "false"),
            ("purgeOnDelete", "false"),
            ("rollbackOnError", "true"),
            ("singlePackage", "true"),
            ("testLevel", "NoTestRun"),
        ])
    );
    let polls = w.org.received_for("checkDeployStatus");
    assert_eq!(polls.len(), 3, "Pending, InProgress, Succeeded");
    for poll in &polls {
        assert_eq!(poll.session_id.as_deref(), Some(fake_org::ACCESS_TOKEN));
        let op = poll.operation_element();
        assert_eq!(op.child("asyncProcessId").unwrap().text, id);
        assert_eq!(op.child("includeDetails").unwrap().text, "true");
    }
    assert!(w.org.received_for("token").is_empty());
    assert!(
        !format!("{}{err}", stdout(&out)).contains(fake_org::ACCESS_TOKEN),
        "the token is never printed"
    );
}

#[test]
fn sandbox_test_level_overrides_the_default() {
    let w = World::new();
    w.org.script(Script::succeeds().tests(1));
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--test-level", "RunSpecifiedTests"]));
    assert_exit(&out, 0);
    let options = options_of(&w.org);
    assert!(
        options.contains(&("runTests".into(), "SfhooksDispatcherTest".into())),
        "{options:?}"
    );
    assert!(
        options.contains(&("testLevel".into(), "RunSpecifiedTests".into())),
        "{options:?}"
    );
    assert!(
        stdout(&out).contains("2/2 components deployed, 1/1 tests run"),
        "{}",
        stdout(&out)
    );

    let w = World::new();
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--test-level", "RunLocalTests"]));
    assert_exit(&out, 0);
    let options = options_of(&w.org);
    assert!(
        options.contains(&("testLevel".into(), "RunLocalTests".into())),
        "{options:?}"
    );
    assert!(!options.iter().any(|(k, _)| k == "runTests"), "{options:?}");
}

#[test]
fn an_unknown_test_level_is_a_usage_error_before_any_request() {
    let w = World::new();
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--test-level", "RunEverything"]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains(
            "unknown test level \"RunEverything\": expected NoTestRun, RunSpecifiedTests, RunLocalTests or RunAllTestsInOrg"
        ),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn production_runs_exactly_the_packages_test_classes() {
    let zip = zip_of(&[
        ("package.xml", PACKAGE_XML),
        ("classes/SfhooksDispatcher.cls", DISPATCHER),
        (
            "classes/SfhooksOutboxTest.cls",
            "@isTest(SeeAllData=false)\nprivate class SfhooksOutboxTest {\n    static testMethod void drains() {}\n}\n",
        ),
        ("classes/SfhooksDispatcherTest.cls", DISPATCHER_TEST),
        // @IsTest so it needs no coverage, but no test method: nothing to run, not named.
        (
            "classes/SfhooksTestSupport.cls",
            "@IsTest\npublic class SfhooksTestSupport {\n    public static Integer n = 0;\n}\n",
        ),
    ]);
    let w = World::with(FakeOrg::start(), &zip);
    w.org.script(Script::succeeds().tests(3));
    let out = run(&mut w.deploy_with_token(&["--production"]));
    assert_exit(&out, 0);
    assert_eq!(
        options_of(&w.org),
        pairs(&[
            ("allowMissingFiles", "false"),
            ("autoUpdatePackage", "false"),
            ("checkOnly", "false"),
            ("ignoreWarnings", "false"),
            ("performRetrieve", "false"),
            ("purgeOnDelete", "false"),
            ("rollbackOnError", "true"),
            ("runTests", "SfhooksDispatcherTest"),
            ("runTests", "SfhooksOutboxTest"),
            ("singlePackage", "true"),
            ("testLevel", "RunSpecifiedTests"),
        ])
    );
    assert!(stderr(&out)
        .contains("test level RunSpecifiedTests: SfhooksDispatcherTest, SfhooksOutboxTest"));
    assert!(
        stdout(&out).contains("succeeded: 4/4 components deployed, 3/3 tests run"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn production_refuses_any_other_test_level() {
    for level in ["NoTestRun", "RunLocalTests", "RunAllTestsInOrg"] {
        let w = World::new();
        let out = run(&mut w.deploy_with_token(&["--production", "--test-level", level]));
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains(&format!(
                "--test-level {level} is refused with --production"
            )),
            "{}",
            stderr(&out)
        );
        assert!(w.org.received().is_empty());
    }
}

#[test]
fn production_uninstall_refuses_a_test_level_it_could_not_honour() {
    let w = World::new();
    let out = run(&mut w.deploy_with_token(&[
        "--production",
        "--uninstall",
        "--test-level",
        "RunSpecifiedTests",
    ]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("refused with --production --uninstall"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn production_without_test_classes_is_a_usage_error() {
    let zip = zip_of(&[
        ("package.xml", PACKAGE_XML),
        ("classes/SfhooksDispatcher.cls", DISPATCHER),
    ]);
    let w = World::with(FakeOrg::start(), &zip);
    let out = run(&mut w.deploy_with_token(&["--production"]));
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("the package has no test class"), "{err}");
    assert!(
        err.contains("hint: ") && err.contains("--uninstall"),
        "{err}"
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn production_uninstall_runs_local_tests() {
    let zip = zip_of(&[
        ("package.xml", "<Package xmlns=\"http://soap.sforce.com/2006/04/metadata\"><version>63.0</version></Package>"),
        ("destructiveChanges.xml", PACKAGE_XML),
    ]);
    let w = World::with(FakeOrg::start(), &zip);
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--production", "--uninstall"]));
    assert_exit(&out, 0);
    let options = options_of(&w.org);
    assert!(
        options.contains(&("testLevel".into(), "RunLocalTests".into())),
        "{options:?}"
    );
    assert!(!options.iter().any(|(k, _)| k == "runTests"), "{options:?}");
}

#[test]
fn a_zip_without_package_xml_is_a_usage_error() {
    let zip = zip_of(&[("classes/SfhooksDispatcher.cls", DISPATCHER)]);
    let w = World::with(FakeOrg::start(), &zip);
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("the package has no package.xml"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn validate_only_then_quick_deploy() {
    let w = World::new();
    w.org.script(Script::succeeds().tests(1));
    let out = run(&mut w.deploy_with_token(&["--production", "--validate-only"]));
    assert_exit(&out, 0);
    let validation = job_id_in(&stdout(&out), "validation");
    assert_eq!(
        stdout(&out),
        format!(
            "validation {validation} succeeded: 2/2 components deployed, 1/1 tests run\n\
             quick-deploy it within 10 days with: sfhooks deploy --production --quick {validation}\n"
        )
    );
    assert!(options_of(&w.org).contains(&("checkOnly".into(), "true".into())));

    w.org.script(Script::succeeds());
    let mut cmd = w.deploy_signed_in(&["--production", "--quick", &validation]);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let quick = w.org.received_for("deployRecentValidation");
    assert_eq!(quick.len(), 1);
    assert_eq!(
        quick[0]
            .operation_element()
            .child("validationId")
            .unwrap()
            .text,
        validation
    );
    let deployed = job_id_in(&stdout(&out), "deploy");
    assert_ne!(deployed, validation, "the quick deploy is a new job");
    let last_poll = w.org.received_for("checkDeployStatus").pop().unwrap();
    assert_eq!(
        last_poll
            .operation_element()
            .child("asyncProcessId")
            .unwrap()
            .text,
        deployed
    );
    assert_eq!(w.org.deploys().len(), 1, "quick deploy uploads nothing");
}

#[test]
fn quick_deploy_of_an_unknown_id_reports_the_fault() {
    let w = World::new();
    let mut cmd = w.deploy_signed_in(&["--production", "--quick", "0Af000000000000999"]);
    let out = run(&mut cmd);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("cannot quick-deploy validation 0Af000000000000999"),
        "{err}"
    );
    assert!(
        err.contains("SOAP fault sf:INVALID_CROSS_REFERENCE_KEY: INVALID_CROSS_REFERENCE_KEY: invalid cross reference id"),
        "{err}"
    );
    assert!(
        err.contains("hint: ") && err.contains("--validate-only"),
        "{err}"
    );
}

#[test]
fn quick_deploy_of_a_validation_that_ran_no_tests_is_refused() {
    let w = World::new();
    let validation = w.org.seed_validation(false);
    let mut cmd = w.deploy_signed_in(&["--production", "--quick", &validation]);
    let out = run(&mut cmd);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("SOAP fault sf:INVALID_ID_FIELD"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received_for("checkDeployStatus").is_empty());
}

#[test]
fn component_failures_are_listed_with_line_and_column() {
    let w = World::new();
    w.org.script(
        Script::polls(&[
            Poll::Status("Pending"),
            Poll::Status("InProgress"),
            Poll::Status("Failed"),
        ])
        .component_failure(
            "classes/SfhooksDispatcher.cls",
            2,
            27,
            "Unexpected token '='.",
        ),
    );
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 1);
    let id = job_id_in(&stdout(&out), "deploy");
    assert_eq!(
        stdout(&out),
        format!(
            "Component failures (1):\n  classes/SfhooksDispatcher.cls:2:27 Unexpected token '='.\n\
             deploy {id} failed: 1/2 components deployed (1 error)\n"
        )
    );
}

#[test]
fn test_failures_and_coverage_warnings_are_reported() {
    let w = World::new();
    w.org.script(
        Script::polls(&[Poll::Status("InProgress"), Poll::Status("Failed")])
            .tests(1)
            .test_failure(
                "SfhooksDispatcherTest",
                "sends",
                "System.AssertException: Assertion Failed: Expected: 0, Actual: 1",
                "Class.SfhooksDispatcherTest.sends: line 4, column 1",
            )
            .coverage_warning(COVERAGE_WARNING),
    );
    let out = run(&mut w.deploy_with_token(&["--production"]));
    assert_exit(&out, 1);
    let id = job_id_in(&stdout(&out), "deploy");
    assert_eq!(
        stdout(&out),
        format!(
            "Test failures (1):\n  SfhooksDispatcherTest.sends: System.AssertException: Assertion Failed: Expected: 0, Actual: 1\n\
             \x20     Class.SfhooksDispatcherTest.sends: line 4, column 1\n\
             Code coverage warnings:\n  {COVERAGE_WARNING}\n\
             deploy {id} failed: 2/2 components deployed, 1/1 tests run (1 failure)\n"
        )
    );
}

#[test]
fn partial_success_exits_68() {
    let w = World::new();
    w.org.script(
        Script::polls(&[Poll::Status("InProgress"), Poll::Status("SucceededPartial")])
            .component_failure("classes/SfhooksDispatcher.cls", 1, 1, "Invalid type: Foo"),
    );
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 68);
    assert!(
        stdout(&out).contains("partially succeeded: 1/2 components deployed (1 error)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn wait_running_out_exits_69_and_report_resumes() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::Status("InProgress"),
        Poll::Status("Succeeded"),
    ]));
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--wait", "0"]));
    assert_exit(&out, 69);
    let id = job_id_in(&stdout(&out), "deploy");
    assert_eq!(
        stdout(&out),
        format!(
            "deploy {id} is still InProgress after --wait 0 minutes: 1/2 components deployed\n\
             resume waiting with: sfhooks deploy --report {id} --sandbox (with the same credentials)\n"
        )
    );

    let mut cmd = w.deploy_signed_in(&["--report", &id, "--sandbox"]);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("deploy {id} succeeded: 2/2 components deployed\n")
    );
    assert_eq!(w.org.deploys().len(), 1, "--report starts nothing");
}

#[test]
fn ctrl_c_cancels_the_deploy_and_waits_for_canceled() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("Pending"),
        Poll::UntilCanceled,
    ]));
    let child = w
        .deploy_with_token(&["--sandbox"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The second poll is answered by UntilCanceled: the job is running and the handler is in.
    w.org.wait_for("checkDeployStatus", 2);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 1);
    let id = job_id_in(&stdout(&out), "deploy");
    assert!(
        stderr(&out).contains(&format!("Ctrl-C: canceling {id}")),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!("deploy {id} was canceled by Fake Deployer")),
        "{}",
        stdout(&out)
    );
    let cancels = w.org.received_for("cancelDeploy");
    assert_eq!(cancels.len(), 1);
    assert_eq!(
        cancels[0].operation_element().child("String").unwrap().text,
        id
    );
    let statuses = stderr(&out);
    assert!(
        statuses.contains("Canceling") && statuses.contains("Canceled"),
        "{statuses}"
    );
}

#[test]
fn server_errors_and_dropped_connections_are_retried() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Unavailable,
        Poll::Drop,
        Poll::Status("InProgress"),
        Poll::Unavailable,
        Poll::Status("Succeeded"),
    ]));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 0);
    assert_eq!(w.org.received_for("checkDeployStatus").len(), 5);
}

#[test]
fn a_lasting_outage_gives_up_after_five_tries() {
    let w = World::new();
    w.org.script(Script::polls(&[Poll::Unavailable; 5]));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("checkDeployStatus failed: HTTP 503"), "{err}");
    assert!(err.contains("(tried 5 times)"), "{err}");
    assert_eq!(w.org.deploys().len(), 1, "the deploy itself is not retried");
    assert!(
        err.contains("hint: the job may still be running")
            && err.contains("sfhooks deploy --report 0Af"),
        "{err}"
    );
}

#[test]
fn an_expired_session_is_renewed_with_the_refresh_token() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::ExpireSession,
        Poll::Status("Succeeded"),
    ]));
    let mut cmd = w.deploy_with_refresh_token(&["--sandbox"]);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let tokens = w.org.received_for("token");
    assert_eq!(tokens.len(), 2, "the first login and one renewal");
    for t in &tokens {
        assert_eq!(t.form_field("grant_type"), Some("refresh_token"));
        assert_eq!(t.form_field("client_id"), Some(fake_org::CLIENT_ID));
        assert_eq!(t.form_field("client_secret"), Some(fake_org::CLIENT_SECRET));
        assert_eq!(t.form_field("refresh_token"), Some(fake_org::REFRESH_TOKEN));
    }
    let sessions = poll_sessions(&w.org);
    assert_eq!(
        sessions.len(),
        3,
        "InProgress, expired, then the same poll again: Succeeded"
    );
    assert_eq!(sessions[0], sessions[1]);
    assert_ne!(
        sessions[1], sessions[2],
        "the poll after the fault uses the new session"
    );
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    for secret in [
        fake_org::REFRESH_TOKEN,
        fake_org::CLIENT_SECRET,
        "AQ.session",
    ] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
}

#[test]
fn an_expired_access_token_is_an_auth_error_with_the_way_out() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::ExpireSession,
    ]));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("error: the access token expired or was revoked"),
        "{err}"
    );
    assert!(err.contains("INVALID_SESSION_ID"), "{err}");
    assert!(
        err.contains("sf org display") && err.contains("sfhooks deploy --report 0Af"),
        "{err}"
    );
}

#[test]
fn a_rejected_refresh_token_is_an_auth_error() {
    let w = World::new();
    let mut cmd = w.deploy(&["--sandbox", "--zip"]);
    cmd.arg(&w.zip)
        .arg("--sfdx-auth-url")
        .arg(w.org.sfdx_auth_url("5Aep861revoked.token"));
    let out = run(&mut cmd);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("refresh-token flow (SFDX auth URL) failed: Salesforce answered invalid_grant: expired access/refresh token"),
        "{err}"
    );
    assert!(
        !err.contains("5Aep861revoked") && !err.contains(fake_org::CLIENT_SECRET),
        "{err}"
    );
    assert!(w.org.received_for("deploy").is_empty());
}

fn jwt_claims(org: &FakeOrg) -> serde_json::Value {
    let tokens = org.received_for("token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].form_field("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let assertion = tokens[0].form_field("assertion").expect("an assertion");
    let claims = assertion.split('.').nth(1).expect("a JWT has three parts");
    let claims = URL_SAFE_NO_PAD
        .decode(claims)
        .expect("claims are base64url");
    serde_json::from_slice(&claims).expect("claims are JSON")
}

fn jwt_args<'a>(w: &'a World, key: &'a Path) -> Vec<std::ffi::OsString> {
    vec![
        "--zip".into(),
        w.zip.clone().into(),
        "--client-id".into(),
        fake_org::CLIENT_ID.into(),
        "--username".into(),
        fake_org::USERNAME.into(),
        "--jwt-key-file".into(),
        key.into(),
        "--login-url".into(),
        w.org.url().into(),
    ]
}

#[test]
fn jwt_bearer_flow_for_a_sandbox() {
    let w = World::new();
    w.org.script(Script::succeeds());
    let key = w.key("jwt-key.pem");
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 0);
    let claims = jwt_claims(&w.org);
    assert_eq!(claims["iss"], fake_org::CLIENT_ID);
    assert_eq!(claims["sub"], fake_org::USERNAME);
    assert_eq!(claims["aud"], "https://test.salesforce.com");
    assert!(claims["exp"].is_u64());
}

#[test]
fn jwt_bearer_flow_for_production_uses_the_login_audience() {
    let w = World::with(
        FakeOrg::start_with_audience("https://login.salesforce.com"),
        &sample_zip(),
    );
    w.org.script(Script::succeeds().tests(1));
    // The PKCS#1 form of the same key works too.
    let key = w.key("jwt-key-pkcs1.pem");
    let out = run(w.deploy(&["--production"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 0);
    assert_eq!(jwt_claims(&w.org)["aud"], "https://login.salesforce.com");

    // The same org refuses a sandbox assertion: the audience is checked.
    let w = World::with(
        FakeOrg::start_with_audience("https://login.salesforce.com"),
        &sample_zip(),
    );
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains(
            "JWT bearer flow failed: Salesforce answered invalid_grant: audience is invalid"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn jwt_signed_with_an_untrusted_key_is_an_auth_error() {
    let w = World::new();
    let key = w.key("other-key.pem");
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("JWT bearer flow failed: Salesforce answered invalid_grant: invalid assertion signature"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received_for("deploy").is_empty());
}

#[test]
fn incomplete_jwt_flags_and_missing_credentials_are_usage_errors() {
    let w = World::new();
    let mut cmd = w.deploy(&["--sandbox", "--client-id", fake_org::CLIENT_ID, "--zip"]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("missing --username, --jwt-key-file"),
        "{}",
        stderr(&out)
    );

    let mut cmd = w.deploy(&["--sandbox", "--zip"]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("error: no Salesforce credentials"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: pass --access-token"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn plain_http_is_refused_for_hosts_other_than_loopback() {
    let w = World::new();
    let mut cmd = w.deploy(&[
        "--sandbox",
        "--access-token",
        "00Dx!token",
        "--instance-url",
        "http://acme.my.salesforce.com",
        "--zip",
    ]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("instance URL http://acme.my.salesforce.com must use https"),
        "{}",
        stderr(&out)
    );

    let mut cmd = w.deploy(&[
        "--sandbox",
        "--sfdx-auth-url",
        "force://id:secret:token@http://acme.my.salesforce.com",
        "--zip",
    ]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("must use https"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("id:secret:token"),
        "{}",
        stderr(&out)
    );

    let key = w.key("jwt-key.pem");
    let mut cmd = w.deploy(&[
        "--sandbox",
        "--client-id",
        fake_org::CLIENT_ID,
        "--username",
        fake_org::USERNAME,
        "--login-url",
        "http://login.example.com",
        "--jwt-key-file",
    ]);
    cmd.arg(&key).arg("--zip").arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("login URL http://login.example.com must use https"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn json_puts_exactly_one_object_on_stdout() {
    let w = World::new();
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--json"]));
    assert_exit(&out, 0);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("stdout is one JSON value");
    assert_eq!(json["status"], 0);
    let result = &json["result"];
    assert_eq!(result["status"], "Succeeded");
    assert_eq!(result["success"], true);
    assert_eq!(result["done"], true);
    assert_eq!(result["numberComponentsTotal"], 2);
    assert_eq!(
        result["details"]["componentSuccesses"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(result["details"]["runTestResult"].is_object());
    assert_eq!(result["id"].as_str().unwrap().len(), 18);

    let w = World::new();
    w.org
        .script(Script::polls(&[Poll::Status("Failed")]).component_failure(
            "classes/SfhooksDispatcher.cls",
            2,
            27,
            "Unexpected token '='.",
        ));
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--json"]));
    assert_exit(&out, 1);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("stdout is one JSON value");
    assert_eq!(json["status"], 1);
    let failure = &json["result"]["details"]["componentFailures"][0];
    assert_eq!(failure["lineNumber"], 2);
    assert_eq!(failure["columnNumber"], 27);
    assert_eq!(failure["problem"], "Unexpected token '='.");

    // Errors too: one object, with the exit code as status.
    let w = World::new();
    let mut cmd = w.deploy(&["--sandbox", "--json", "--zip"]);
    cmd.arg(&w.zip)
        .arg("--sfdx-auth-url")
        .arg(w.org.sfdx_auth_url("5Aep861revoked.token"));
    let out = run(&mut cmd);
    assert_exit(&out, 3);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("stdout is one JSON value");
    assert_eq!(json["status"], 3);
    assert_eq!(json["name"], "AuthError");
    assert!(
        json["message"].as_str().unwrap().contains("invalid_grant"),
        "{json}"
    );
}

#[test]
fn the_fake_org_rejects_deploy_options_out_of_wsdl_order() {
    // Guards the guard: if the fake accepted any order, the option-order assertions above would
    // prove nothing about what real Salesforce's schema expects.
    let org = FakeOrg::start();
    let envelope = format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:met=\"http://soap.sforce.com/2006/04/metadata\">\
         <soapenv:Header><met:SessionHeader><met:sessionId>{}</met:sessionId></met:SessionHeader></soapenv:Header>\
         <soapenv:Body><met:deploy><met:ZipFile>UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==</met:ZipFile><met:DeployOptions>\
         <met:allowMissingFiles>false</met:allowMissingFiles><met:autoUpdatePackage>false</met:autoUpdatePackage>\
         <met:checkOnly>false</met:checkOnly><met:ignoreWarnings>false</met:ignoreWarnings>\
         <met:performRetrieve>false</met:performRetrieve><met:purgeOnDelete>false</met:purgeOnDelete>\
         <met:testLevel>NoTestRun</met:testLevel><met:rollbackOnError>true</met:rollbackOnError>\
         <met:singlePackage>true</met:singlePackage></met:DeployOptions></met:deploy></soapenv:Body></soapenv:Envelope>",
        fake_org::ACCESS_TOKEN
    );
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/services/Soap/m/63.0", org.url()))
        .header("Content-Type", "text/xml; charset=UTF-8")
        .body(envelope)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let body = response.text().unwrap();
    assert!(
        body.contains("Element {http://soap.sforce.com/2006/04/metadata}rollbackOnError invalid at this location"),
        "{body}"
    );
    assert_eq!(
        org.take_unexpected(),
        vec!["DeployOptions element rollbackOnError out of WSDL order".to_string()]
    );
}

#[test]
fn the_first_applicable_credentials_win() {
    // An access token beats an SFDX auth URL and the JWT flags: no token request at all.
    let w = World::new();
    w.org.script(Script::succeeds());
    let key = w.key("other-key.pem");
    let mut cmd = w.deploy(&["--sandbox"]);
    cmd.args(jwt_args(&w, &key))
        .env("SF_ACCESS_TOKEN", fake_org::ACCESS_TOKEN)
        .env("SF_INSTANCE_URL", w.org.url())
        .env("SFDX_AUTH_URL", w.org.sfdx_auth_url("5Aep861revoked.token"));
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    assert!(w.org.received_for("token").is_empty());
    let polls = w.org.received_for("checkDeployStatus");
    assert!(polls
        .iter()
        .all(|p| p.session_id.as_deref() == Some(fake_org::ACCESS_TOKEN)));

    // An SFDX auth URL beats the JWT flags (whose key the org would refuse).
    let w = World::new();
    w.org.script(Script::succeeds());
    let mut cmd = w.deploy(&["--sandbox"]);
    cmd.args(jwt_args(&w, &key)).env(
        "SFDX_AUTH_URL",
        w.org.sfdx_auth_url(fake_org::REFRESH_TOKEN),
    );
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let tokens = w.org.received_for("token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].form_field("grant_type"), Some("refresh_token"));
    assert_eq!(tokens[0].form_field("assertion"), None);
}

#[test]
fn an_unreachable_token_endpoint_says_which_flow_failed() {
    let w = World::new();
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut cmd = w.deploy(&["--sandbox", "--zip"]);
    cmd.arg(&w.zip).env(
        "SFDX_AUTH_URL",
        format!(
            "force://{}:{}:{}@http://{closed}",
            fake_org::CLIENT_ID,
            fake_org::CLIENT_SECRET,
            fake_org::REFRESH_TOKEN
        ),
    );
    let out = run(&mut cmd);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains(&format!(
            "authentication with Salesforce failed: refresh-token flow (SFDX auth URL) failed: \
             cannot reach http://{closed}/services/oauth2/token"
        )),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn an_expired_session_is_renewed_with_the_jwt_flow() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("Pending"),
        Poll::ExpireSession,
        Poll::Status("Succeeded"),
    ]));
    let key = w.key("jwt-key.pem");
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 0);
    let tokens = w.org.received_for("token");
    assert_eq!(tokens.len(), 2, "the first login and one renewal");
    assert!(
        tokens
            .iter()
            .all(|t| t.form_field("grant_type")
                == Some("urn:ietf:params:oauth:grant-type:jwt-bearer"))
    );
    let sessions = poll_sessions(&w.org);
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0], sessions[1]);
    assert_ne!(sessions[1], sessions[2]);
}

#[test]
fn report_of_an_unknown_job_reports_the_fault_code_and_string() {
    let w = World::new();
    let mut cmd = w.deploy_signed_in(&["--report", "0Af000000000000999"]);
    let out = run(&mut cmd);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(
            "checkDeployStatus failed with SOAP fault sf:INVALID_CROSS_REFERENCE_KEY: \
             INVALID_CROSS_REFERENCE_KEY: invalid cross reference id"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        w.org.received_for("checkDeployStatus").len(),
        1,
        "a fault is not retried"
    );
}

#[test]
fn a_long_job_is_polled_with_a_growing_pause() {
    // With a 10 ms base the schedule is the real one (0.5 s, growing by half, up to 12 s) at
    // 1/50 scale: this job lasts what would be 2 minutes. Polling at the first interval all along
    // would take 240 polls; the backoff takes about 17.
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::InProgressFor(std::time::Duration::from_millis(2400)),
        Poll::Status("Succeeded"),
    ]));
    let mut cmd = w.deploy_with_token(&["--sandbox"]);
    cmd.env("SFHOOKS_POLL_MS", "10");
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let polls = w.org.received_for("checkDeployStatus").len();
    assert!((3..=25).contains(&polls), "{polls} polls");
}

#[test]
fn a_deploy_answered_503_is_resent() {
    let w = World::new();
    w.org.script(Script::succeeds().deploy_unavailable(2));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 0);
    let deploys = w.org.deploys();
    assert_eq!(deploys.len(), 3, "two 503s, then the job starts");
    assert!(deploys.iter().all(|d| d.zip == sample_zip()));
}

/// `--objects Contact --callback-url …`: the package is built in memory.
const INPUTS: [&str; 4] = [
    "--objects",
    "Contact",
    "--callback-url",
    "https://hooks.example.com/salesforce",
];

/// A Standard Webhooks secret for the in-memory builds (32 bytes of 0x5a).
fn test_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32])
    )
}

/// `sfhooks package ARGS --out FILE` from the same inputs; returns the zip and its stdout.
fn package(w: &World, extra: &[&str]) -> (Vec<u8>, String) {
    let out_file = w.dir.path().join("packaged.zip");
    let mut cmd = crate::support::sfhooks(w.dir.path());
    cmd.arg("package")
        .args(INPUTS)
        .args(extra)
        .arg("--out")
        .arg(&out_file)
        .env("SFHOOKS_SECRET", test_secret());
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    (std::fs::read(&out_file).expect("the zip"), stdout(&out))
}

#[test]
fn production_without_zip_deploys_the_package_and_names_exactly_its_tests() {
    let w = World::new();
    let (packaged, printed) = package(&w, &["--production"]);
    // `package --production` prints the sf command with the package's own test list.
    let sf_line = printed
        .lines()
        .find(|l| l.starts_with("sf project deploy start"))
        .unwrap_or_else(|| panic!("no sf command in {printed}"));
    let expected: Vec<&str> = sf_line
        .split(" --tests ")
        .skip(1)
        .map(|t| t.split_whitespace().next().expect("a test name"))
        .collect();
    assert!(!expected.is_empty(), "{sf_line}");

    w.org.script(Script::succeeds().tests(3));
    let mut cmd = w.deploy_signed_in(&["--production"]);
    cmd.args(INPUTS).env("SFHOOKS_SECRET", test_secret());
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let deploys = w.org.deploys();
    assert_eq!(deploys.len(), 1);
    assert_eq!(
        deploys[0].zip, packaged,
        "the same bytes as `sfhooks package`"
    );
    assert_eq!(deploys[0].option("runTests"), expected);
    assert_eq!(deploys[0].option("testLevel"), ["RunSpecifiedTests"]);
    assert_eq!(deploys[0].option("rollbackOnError"), ["true"]);
    assert_eq!(deploys[0].option("checkOnly"), ["false"]);
}

#[test]
fn uninstall_without_zip_deploys_the_destructive_package() {
    let w = World::new();
    let (packaged, _) = package(&w, &["--uninstall"]);
    w.org.script(Script::succeeds());
    let mut cmd = w.deploy_signed_in(&["--sandbox", "--uninstall"]);
    cmd.args(INPUTS);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let deploys = w.org.deploys();
    assert_eq!(deploys.len(), 1);
    assert_eq!(deploys[0].zip, packaged);
    let names: Vec<String> = deploys[0]
        .zip_entries()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["destructiveChanges.xml", "package.xml"]);
    assert_eq!(deploys[0].option("testLevel"), ["NoTestRun"]);
}

#[test]
fn deploy_help_documents_the_exit_codes_auth_order_and_wait_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(crate::support::sfhooks(dir.path()).args(["deploy", "--help"]));
    assert_exit(&out, 0);
    let help = stdout(&out);
    for needle in [
        "[default: 33]",
        "the first of --access-token",
        "0   Succeeded",
        "1   Failed or Canceled",
        "2   usage",
        "3   authentication",
        "68  SucceededPartial",
        "69  still running when --wait ran out",
    ] {
        assert!(help.contains(needle), "{needle:?} not in:\n{help}");
    }
    let readme =
        std::fs::read_to_string(crate::support::repo_root().join("README.md")).expect("README.md");
    for row in ["| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 68 |", "| 69 |"] {
        assert!(readme.contains(row), "README has no {row} row");
    }
}

#[test]
fn json_reports_partial_success_and_a_running_job_with_their_exit_codes() {
    let w = World::new();
    w.org.script(
        Script::polls(&[Poll::Status("SucceededPartial")]).component_failure(
            "classes/SfhooksDispatcher.cls",
            1,
            1,
            "Invalid type: Foo",
        ),
    );
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--json"]));
    assert_exit(&out, 68);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("stdout is one JSON value");
    assert_eq!(json["status"], 68);
    assert_eq!(json["result"]["status"], "SucceededPartial");
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["jobs", "result", "settings", "status"], "{json}");

    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::Status("Succeeded"),
    ]));
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--json", "--wait", "0"]));
    assert_exit(&out, 69);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("stdout is one JSON value");
    assert_eq!(json["status"], 69);
    assert_eq!(json["result"]["status"], "InProgress");
    assert_eq!(json["result"]["done"], false);
    // Pending or running, details/runTestResult is there (as Salesforce sends it).
    assert!(
        json["result"]["details"]["runTestResult"].is_object(),
        "{json}"
    );
    let id = json["result"]["id"].as_str().expect("an id").to_string();
    let mut cmd = w.deploy_signed_in(&["--report", &id, "--json"]);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("stdout is one JSON value");
    assert_eq!(json["result"]["status"], "Succeeded");
}

/// Quotes a word for `sh -c`.
fn sh_quote(word: &std::ffi::OsStr) -> String {
    format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"))
}

#[test]
fn the_live_progress_line_is_drawn_on_a_terminal() {
    // util-linux `script` runs the binary on a pseudo-terminal.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("Pending"),
        Poll::Status("InProgress"),
        Poll::Status("InProgress"),
        Poll::Status("InProgress"),
        Poll::Status("InProgress"),
        Poll::Status("Succeeded"),
    ]));
    let mut inner = w.deploy_with_token(&["--sandbox"]);
    // Slow enough for the spinner (120 ms tick) to draw a few frames.
    inner.env("SFHOOKS_POLL_MS", "100");
    let line = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(sh_quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(w.dir.path())
        .env("TERM", "xterm")
        .env("SFHOOKS_POLL_MS", "100")
        .stdin(Stdio::null());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let screen = stdout(&out);
    assert!(screen.contains("InProgress: components 1/2"), "{screen:?}");
    // Redrawn in place (escape sequences), not printed as one line per status.
    assert!(screen.contains('\x1b'), "{screen:?}");
    assert!(
        screen.contains("succeeded: 2/2 components deployed"),
        "{screen:?}"
    );
}

#[test]
fn a_session_refused_again_after_renewal_is_an_auth_error_not_a_loop() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::ExpireSession,
        Poll::ExpireSession,
    ]));
    let mut cmd = w.deploy_with_refresh_token(&["--sandbox"]);
    let out = run(&mut cmd);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains(
            "Salesforce refused the session that the refresh-token flow (SFDX auth URL) just issued"
        ),
        "{err}"
    );
    assert!(err.contains("sfhooks deploy --report 0Af"), "{err}");
    assert_eq!(
        w.org.received_for("token").len(),
        2,
        "renewed once, not again"
    );
    assert_eq!(w.org.received_for("checkDeployStatus").len(), 3);
}
