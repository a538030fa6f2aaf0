//! `sfhooks deploy` as a job: the request, polling, failures and partial success, retries,
//! Ctrl-C, `--report`, `--json` and the progress line.
use super::*;

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
    assert_test_level_without_named_tests(&w.org, "RunLocalTests");
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
