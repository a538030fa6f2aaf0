//! `sfhooks deploy` on day 2: the generated classes' jobs around the deploy, the first
//! schedule of the sweeper, and the org pin of the settings record. Every test drives the real
//! binary against the fake org, whose SOAP deploy refuses a class with jobs with Salesforce's
//! own text, so a deploy that forgot to pause fails here as it would in an org.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::fake_org::{self, FakeOrg, Poll, Script};
use crate::support::fake_rest::{self, Anonymous};
use crate::support::{code, run, stderr, stdout};

const SWEEPERS: [&str; 4] = [
    "SfhooksSweeper :00",
    "SfhooksSweeper :15",
    "SfhooksSweeper :30",
    "SfhooksSweeper :45",
];

/// What `Org_Id__c` looks like in the generated tree (the `apex` branch adds the field to the
/// templates; the pin tests add it to their tree so they run before and after that merge).
const ORG_ID_FIELD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
    <fullName>Org_Id__c</fullName>
    <externalId>false</externalId>
    <fieldManageability>SubscriberControlled</fieldManageability>
    <label>Org Id</label>
    <length>18</length>
    <required>false</required>
    <type>Text</type>
    <unique>false</unique>
</CustomField>
"#;

/// A project folder (sfhooks.toml, a secret) and the org, whose anonymous Apex plays the jobs.
struct World {
    org: FakeOrg,
    dir: tempfile::TempDir,
    secret: String,
}

impl World {
    fn new() -> Self {
        let org = FakeOrg::start();
        org.with_rest(|rest| rest.on_anonymous(fake_rest::simulate_jobs("Sfhooks")));
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("sfhooks.toml"),
            "objects = [\"Contact\"]\ncallback_url = \"https://hooks.example.com/salesforce\"\n",
        )
        .expect("sfhooks.toml");
        let secret = stdout(&run(crate::support::sfhooks(dir.path()).arg("secret")))
            .trim()
            .to_string();
        std::fs::write(dir.path().join("secret.txt"), &secret).expect("secret.txt");
        World { org, dir, secret }
    }

    /// The org as a previous deploy left it: the generated classes, the four sweeper jobs.
    fn deployed_before(self) -> Self {
        self.org.with_rest(|rest| {
            let classes: Vec<String> = ["SfhooksSweeper", "SfhooksDispatcher", "SfhooksSettings"]
                .iter()
                .map(|c| c.to_string())
                .collect();
            rest.classes_deployed(&classes, &[]);
            for (i, name) in SWEEPERS.iter().enumerate() {
                rest.schedule(name, &format!("0 {} * * * ?", i * 15), "SfhooksSweeper");
            }
            // The sweeper references the rest of the generated code: its lock reaches it.
            rest.lock_reaches = vec![
                "SfhooksDispatcher".into(),
                "SfhooksSettings".into(),
                "SfhooksBudget".into(),
            ];
        });
        self
    }

    /// `sfhooks deploy ARGS --secret-file secret.txt`, fast polling.
    fn deploy(&self, args: &[&str]) -> Command {
        let mut cmd = crate::support::sfhooks(self.dir.path());
        cmd.env("SFHOOKS_POLL_MS", "2")
            .arg("deploy")
            .args(args)
            .args(["--secret-file", "secret.txt"]);
        cmd
    }

    /// Signed in with the fake org's access token (cannot be renewed).
    fn deploy_with_token(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy(args);
        cmd.args(self.org.access_token_args());
        cmd
    }

    /// Signed in with an SFDX auth URL (renewable).
    fn deploy_with_refresh_token(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy(args);
        cmd.env(
            "SFDX_AUTH_URL",
            self.org.sfdx_auth_url(fake_org::REFRESH_TOKEN),
        );
        cmd
    }

    fn anonymous(&self) -> Vec<String> {
        self.org.with_rest(|rest| rest.anonymous.clone())
    }

    fn scheduled(&self) -> Vec<String> {
        self.org.with_rest(|rest| rest.scheduled_names())
    }

    /// No secret anywhere in what sfhooks printed.
    fn assert_clean(&self, out: &Output) {
        let all = format!("{}{}", stdout(out), stderr(out));
        for secret in [
            fake_org::ACCESS_TOKEN,
            fake_org::REFRESH_TOKEN,
            fake_org::CLIENT_SECRET,
            "00Dfake0000000001!AQ.session",
            self.secret.as_str(),
        ] {
            assert!(!all.contains(secret), "a secret was printed:\n{all}");
        }
    }
}

fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// The zip of the one deploy the org received.
fn deployed_zip_entry(org: &FakeOrg, suffix: &str) -> Option<String> {
    let deploys = org.deploys();
    assert_eq!(deploys.len(), 1, "one deploy request");
    deploys[0]
        .zip_entries()
        .into_iter()
        .find(|(name, _)| name.ends_with(suffix))
        .map(|(_, bytes)| String::from_utf8(bytes).expect("utf-8 entry"))
}

#[test]
fn a_first_deploy_schedules_the_sweeper_as_the_deploying_user() {
    let w = World::new();
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("no sweeper is scheduled: sfhooks schedules it after the deploy"),
        "{err}"
    );
    assert!(
        err.contains("scheduled the sweeper as the deploying user"),
        "{err}"
    );
    // One anonymous call, after the deploy: the schedule (nothing was there to pause).
    let bodies = w.anonymous();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0] == "SfhooksJobs.scheduleSweeper();"
            || bodies[0] == "SfhooksSweeper.ensureScheduled();",
        "{bodies:?}"
    );
    assert_eq!(w.scheduled(), SWEEPERS);
    w.assert_clean(&out);
}

#[test]
fn no_schedule_leaves_the_sweeper_to_the_admin_with_the_line_to_run() {
    let w = World::new();
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--no-schedule", "--json"]));
    assert_exit(&out, 0);
    assert!(w.anonymous().is_empty(), "{:?}", w.anonymous());
    assert!(w.scheduled().is_empty());
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(json["jobs"]["firstDeploy"], true, "{json}");
    assert_eq!(json["jobs"]["sweeperScheduled"], false, "{json}");
    // The line the org's new code takes: the Jobs class once the templates have it, else the
    // sweeper's own method.
    let line = json["jobs"]["scheduleApex"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        line == "SfhooksJobs.scheduleSweeper();" || line == "SfhooksSweeper.ensureScheduled();",
        "{json}"
    );
    assert!(stderr(&out).contains(&line), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--no-schedule: the sweeper is not scheduled; an admin"),
        "{err}"
    );
    w.assert_clean(&out);
}

#[test]
fn a_redeploy_pauses_the_scheduled_and_queued_jobs_and_restores_them() {
    let w = World::new().deployed_before();
    // A job an admin scheduled under another name: found through its class.
    let admin_job = w
        .org
        .with_rest(|rest| rest.schedule("Webhook safety net", "0 5 * * * ?", "SfhooksSweeper"));
    let queued = w
        .org
        .with_rest(|rest| rest.enqueue("SfhooksDispatcher", "Queueable", "Queued", None));
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--json"]));
    assert_exit(&out, 0);

    let err = stderr(&out);
    assert!(
        err.contains("jobs: will pause: SfhooksSweeper :00 (WAITING)"),
        "{err}"
    );
    assert!(err.contains("Webhook safety net (WAITING)"), "{err}");
    assert!(
        err.contains(&format!("SfhooksDispatcher Queueable {queued} (Queued)")),
        "{err}"
    );
    let bodies = w.anonymous();
    assert_eq!(bodies.len(), 2, "pause, restore: {bodies:?}");
    assert!(bodies[0].contains(&admin_job), "{}", bodies[0]);
    assert!(bodies[0].contains("System.abortJob"), "{}", bodies[0]);
    assert!(bodies[0].contains(&queued), "{}", bodies[0]);
    // Everything is back, and the queued dispatcher was aborted rather than left to the lock.
    // New code with the Jobs class restores the sweeper under its own four names (the admin's
    // extra sweeper job is not doubled); code without it reschedules each paused job by name.
    let mut expected: Vec<String> = SWEEPERS.iter().map(|s| s.to_string()).collect();
    if bodies[1].contains("SfhooksJobs.restore();") {
        assert!(!bodies[1].contains("Webhook safety net"), "{}", bodies[1]);
    } else {
        assert!(
            bodies[1].contains("System.schedule('Webhook safety net', '0 5 * * * ?'"),
            "{}",
            bodies[1]
        );
        expected.push("Webhook safety net".into());
        expected.sort();
    }
    assert_eq!(w.scheduled(), expected);
    let status = w.org.with_rest(|rest| {
        rest.tables
            .records("AsyncApexJob")
            .iter()
            .find(|j| j["Id"] == queued.as_str())
            .map(|j| j["Status"].clone())
    });
    assert_eq!(status, Some(serde_json::json!("Aborted")));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(json["jobs"]["paused"], true, "{json}");
    assert_eq!(json["jobs"]["restored"], true, "{json}");
    assert_eq!(
        json["jobs"]["scheduled"].as_array().map(Vec::len),
        Some(5),
        "{json}"
    );
    assert!(json["jobs"]["restoreApex"].is_null(), "{json}");
    w.assert_clean(&out);
}

#[test]
fn without_the_pause_salesforce_refuses_the_scheduled_class() {
    let w = World::new().deployed_before();
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--allow-pending-jobs"]));
    assert_exit(&out, 1);
    let report = stdout(&out);
    assert!(report.contains(fake_rest::SCHEDULED_LOCK), "{report}");
    assert!(report.contains("classes/SfhooksSweeper.cls"), "{report}");
    assert!(
        report.contains("Allow deployments of components when corresponding"),
        "{report}"
    );
    assert!(
        report.contains("classes/SfhooksDispatcher.cls"),
        "the lock reaches referenced classes: {report}"
    );
    assert!(w.anonymous().is_empty());
    assert!(
        stderr(&out).contains("will leave running (--allow-pending-jobs)"),
        "{}",
        stderr(&out)
    );
    w.assert_clean(&out);
}

#[test]
fn a_failed_deploy_restores_the_jobs_with_the_old_code() {
    let w = World::new().deployed_before();
    w.org.script(
        Script::polls(&[Poll::Status("InProgress"), Poll::Status("Failed")]).component_failure(
            "classes/SfhooksDispatcher.cls",
            3,
            7,
            "Variable does not exist: foo",
        ),
    );
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 1);
    let bodies = w.anonymous();
    assert_eq!(bodies.len(), 2, "pause, restore: {bodies:?}");
    assert!(
        bodies[1].contains("System.schedule('SfhooksSweeper :00', '0 0 * * * ?'"),
        "{}",
        bodies[1]
    );
    assert_eq!(w.scheduled(), SWEEPERS);
    assert!(
        stderr(&out).contains("jobs: restored the 4 job(s) paused before the deploy"),
        "{}",
        stderr(&out)
    );
    w.assert_clean(&out);
}

#[test]
fn a_canceled_deploy_restores_the_jobs() {
    let w = World::new().deployed_before();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::Status("Canceled"),
    ]));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 1);
    assert_eq!(w.anonymous().len(), 2);
    assert_eq!(w.scheduled(), SWEEPERS);
    w.assert_clean(&out);
}

#[test]
fn uninstall_aborts_the_jobs_and_restores_none() {
    let w = World::new().deployed_before();
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--uninstall"]));
    assert_exit(&out, 0);
    let bodies = w.anonymous();
    assert_eq!(bodies.len(), 1, "only the abort: {bodies:?}");
    assert!(bodies[0].contains("System.abortJob"), "{}", bodies[0]);
    assert!(
        !bodies[0].contains("SfhooksJobs.pause"),
        "no switch for classes about to go: {}",
        bodies[0]
    );
    assert!(w.scheduled().is_empty(), "{:?}", w.scheduled());
    let err = stderr(&out);
    assert!(
        err.contains("jobs: will abort: SfhooksSweeper :00"),
        "{err}"
    );
    assert!(err.contains("restore none after the uninstall"), "{err}");
    // The classes are gone from the org.
    let left = w
        .org
        .with_rest(|rest| rest.tables.records("ApexClass").len());
    assert_eq!(left, 0);
    w.assert_clean(&out);
}

#[test]
fn a_validation_pauses_and_then_restores_whatever_its_outcome() {
    let w = World::new().deployed_before();
    w.org.script(Script::succeeds().tests(3));
    let out = run(&mut w.deploy_with_token(&["--production", "--validate-only"]));
    assert_exit(&out, 0);
    let bodies = w.anonymous();
    assert_eq!(bodies.len(), 2, "pause, restore: {bodies:?}");
    assert_eq!(w.scheduled(), SWEEPERS);
    assert!(
        stderr(&out).contains("restore them after the validation, whatever its outcome"),
        "{}",
        stderr(&out)
    );
    w.assert_clean(&out);
}

#[test]
fn a_running_dispatcher_is_waited_for_with_progress() {
    let w = World::new().deployed_before();
    let running = w
        .org
        .with_rest(|rest| rest.enqueue("SfhooksDispatcher", "Queueable", "Processing", Some(3)));
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("1 running now cannot be stopped"), "{err}");
    assert!(
        err.contains(&format!(
            "jobs: waiting for SfhooksDispatcher {running} to end"
        )),
        "{err}"
    );
    assert!(
        err.contains("jobs: nothing of the generated classes is running"),
        "{err}"
    );
    // The running job was never aborted (it cannot be).
    assert!(!w.anonymous()[0].contains(&running), "{}", w.anonymous()[0]);
    w.assert_clean(&out);
}

#[test]
fn a_session_that_expires_after_the_pause_is_renewed() {
    let w = World::new().deployed_before();
    w.org
        .with_rest(|rest| rest.expire_after_anonymous = Some(1));
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_refresh_token(&["--sandbox"]));
    assert_exit(&out, 0);
    assert_eq!(
        w.org.received_for("token").len(),
        2,
        "the first login and one renewal"
    );
    assert_eq!(w.anonymous().len(), 2);
    assert_eq!(w.scheduled(), SWEEPERS);
    w.assert_clean(&out);
}

#[test]
fn a_session_that_ends_after_the_pause_for_good_prints_the_restore_apex() {
    let w = World::new().deployed_before();
    w.org
        .with_rest(|rest| rest.expire_after_anonymous = Some(1));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("the paused jobs could not be restored"),
        "{err}"
    );
    assert!(err.contains("System.schedule('SfhooksSweeper :00', '0 0 * * * ?', (Schedulable) Type.forName('SfhooksSweeper').newInstance());"), "{err}");
    // Nothing was deployed and the jobs are still paused: the printed Apex is the way back.
    assert!(err.contains("the access token expired"), "{err}");
    assert!(w.scheduled().is_empty());
    w.assert_clean(&out);
}

#[test]
fn a_user_without_author_apex_is_told_the_two_ways_out() {
    let w = World::new().deployed_before();
    w.org.with_rest(|rest| {
        rest.refuse_anonymous(Anonymous::Refused(
            403,
            "INSUFFICIENT_ACCESS".into(),
            "User does not have the permission \"Author Apex\"".into(),
        ))
    });
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("does not let this user run Anonymous Apex"),
        "{err}"
    );
    assert!(err.contains("\"Author Apex\" permission"), "{err}");
    assert!(err.contains("Allow deployments of components when corresponding Apex jobs are pending or in progress"), "{err}");
    assert!(err.contains("--allow-pending-jobs"), "{err}");
    assert!(w.org.deploys().is_empty(), "nothing is deployed");
    assert_eq!(w.scheduled(), SWEEPERS, "nothing was paused");
    w.assert_clean(&out);
}

#[test]
fn restoring_that_fails_after_a_successful_deploy_exits_1_with_the_apex() {
    let w = World::new().deployed_before();
    w.org.with_rest(|rest| {
        rest.script_anonymous(&[
            Anonymous::Handled,
            Anonymous::Exception(
                "System.AsyncException: Maximum number of scheduled jobs exceeded".into(),
                "AnonymousBlock: line 6, column 1".into(),
            ),
        ])
    });
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--json"]));
    assert_exit(&out, 1);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("one JSON object on stdout");
    assert_eq!(json["status"], 1, "{json}");
    assert_eq!(
        json["deployStatus"], 0,
        "the deploy itself succeeded: {json}"
    );
    assert_eq!(json["result"]["status"], "Succeeded", "{json}");
    let hints = json["hints"].to_string();
    assert!(
        hints.contains("System.schedule('SfhooksSweeper :00'")
            || hints.contains("SfhooksJobs.restore();"),
        "{json}"
    );
    assert!(
        json["message"]
            .as_str()
            .unwrap_or("")
            .contains("Maximum number of scheduled jobs exceeded"),
        "{json}"
    );
    w.assert_clean(&out);
}

/// A generated tree with the `Org_Id__c` field, in `dir/tree`.
fn tree_with_org_field(w: &World) -> PathBuf {
    let tree = w.dir.path().join("tree");
    let out = run(crate::support::sfhooks(w.dir.path())
        .args(["generate", "--out"])
        .arg(&tree));
    assert_exit(&out, 0);
    let fields = tree.join("objects/Sfhooks_Settings__mdt/fields");
    std::fs::create_dir_all(&fields).expect("fields folder");
    let field = fields.join("Org_Id__c.field-meta.xml");
    if !field.exists() {
        std::fs::write(field, ORG_ID_FIELD).expect("Org_Id__c field");
    }
    tree
}

fn package(w: &World, tree: &Path, out: &str, extra: &[&str]) -> Output {
    run(crate::support::sfhooks(w.dir.path())
        .args(["package", "--from"])
        .arg(tree)
        .args(["--secret-file", "secret.txt", "--out", out])
        .args(extra))
}

#[test]
fn deploy_zip_pins_an_unpinned_record_and_refuses_one_for_another_org() {
    let w = World::new();
    let tree = tree_with_org_field(&w);
    let out = package(&w, &tree, "unpinned.zip", &[]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("the settings record is not pinned to an org"),
        "{}",
        stderr(&out)
    );
    w.org.script(Script::succeeds());
    let out =
        run(&mut w.deploy_with_token(&["--sandbox", "--zip", "unpinned.zip", "--no-schedule"]));
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!(
            "pinned the settings record to this org ({})",
            fake_rest::ORG_ID
        )),
        "{}",
        stderr(&out)
    );
    let record =
        deployed_zip_entry(&w.org, "Sfhooks_Settings.Default.md").expect("the record was deployed");
    assert!(
        record.contains(&format!(
            "<field>Org_Id__c</field>\n        <value xsi:type=\"xsd:string\">{}</value>",
            fake_rest::ORG_ID
        )),
        "{record}"
    );
    w.assert_clean(&out);

    let w2 = World::new();
    let tree = tree_with_org_field(&w2);
    let out = package(&w2, &tree, "other.zip", &["--org-id", "00Dother0000001AAA"]);
    assert_exit(&out, 0);
    let out = run(&mut w2.deploy_with_token(&["--sandbox", "--zip", "other.zip"]));
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("is pinned to org 00Dother0000001AAA, and this is org 00Dfake00000001AAA"),
        "{err}"
    );
    assert!(w2.org.deploys().is_empty(), "nothing is deployed");
    assert!(w2.anonymous().is_empty(), "nothing is paused");
}

#[test]
fn package_org_id_pins_the_record_and_checks_the_id() {
    let w = World::new();
    let tree = tree_with_org_field(&w);
    let out = package(&w, &tree, "pinned.zip", &["--org-id", fake_rest::ORG_ID]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("not pinned"), "{}", stderr(&out));
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--sandbox", "--zip", "pinned.zip", "--json"]));
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(json["settings"]["pin"], "already", "{json}");
    assert_eq!(json["settings"]["orgId"], fake_rest::ORG_ID, "{json}");

    let out = package(&w, &tree, "bad.zip", &["--org-id", "001000000000001AAA"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("is not an org Id"),
        "{}",
        stderr(&out)
    );
    assert!(!w.dir.path().join("bad.zip").exists(), "nothing is written");
    let out = package(
        &w,
        &tree,
        "bad.zip",
        &["--org-id", fake_rest::ORG_ID, "--no-secret"],
    );
    assert_exit(&out, 2);
    w.assert_clean(&out);
}

#[test]
fn a_quick_deploy_pauses_and_restores_with_the_configured_prefix() {
    let w = World::new().deployed_before();
    let validation = w.org.seed_validation(true);
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--production", "--quick", &validation]));
    assert_exit(&out, 0);
    let bodies = w.anonymous();
    assert_eq!(bodies.len(), 2, "pause, restore: {bodies:?}");
    assert!(bodies[0].contains("System.abortJob"), "{}", bodies[0]);
    assert_eq!(w.scheduled(), SWEEPERS);
    // The lookup used the prefix of sfhooks.toml (the default), since a quick deploy has no zip.
    let queries = w.org.with_rest(|rest| rest.queries());
    assert!(
        queries
            .iter()
            .any(|q| q.contains("CronJobDetail.Name LIKE 'Sfhooks%'")),
        "{queries:?}"
    );
    w.assert_clean(&out);
}

#[test]
fn a_dispatcher_that_keeps_running_stops_the_deploy_and_restores_the_jobs() {
    let w = World::new().deployed_before();
    let running = w
        .org
        .with_rest(|rest| rest.enqueue("SfhooksDispatcher", "Queueable", "Processing", None));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("SfhooksDispatcher {running} still running after")),
        "{err}"
    );
    assert!(err.contains("nothing was deployed"), "{err}");
    assert!(err.contains("the paused jobs were restored"), "{err}");
    assert!(w.org.deploys().is_empty(), "no deploy was started");
    assert_eq!(w.anonymous().len(), 2, "pause, restore");
    assert_eq!(w.scheduled(), SWEEPERS);
    w.assert_clean(&out);
}

#[test]
fn an_org_with_the_jobs_class_is_paused_and_restored_through_it() {
    let w = World::new().deployed_before();
    w.org
        .with_rest(|rest| rest.classes_deployed(&["SfhooksJobs".to_string()], &[]));
    w.org
        .script(Script::polls(&[Poll::Status("Failed")]).component_failure(
            "classes/SfhooksDispatcher.cls",
            1,
            1,
            "Invalid type: Foo",
        ));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 1);
    let bodies = w.anonymous();
    assert_eq!(bodies.len(), 2, "pause, restore: {bodies:?}");
    // The switch a running dispatcher's chain obeys, then the aborts (which tolerate the jobs
    // pause() already aborted).
    assert!(bodies[0].contains("SfhooksJobs.pause();"), "{}", bodies[0]);
    assert!(
        bodies[0].contains("catch (Exception alreadyEnded)"),
        "{}",
        bodies[0]
    );
    // The old code is still in the org after the failure: its restore() clears the switch and
    // schedules the sweeper under its own names.
    assert!(
        bodies[1].contains("SfhooksJobs.restore();"),
        "{}",
        bodies[1]
    );
    assert!(
        !bodies[1].contains("System.schedule('SfhooksSweeper"),
        "{}",
        bodies[1]
    );
    assert!(
        !w.org.with_rest(|rest| rest.paused()),
        "the switch is cleared"
    );
    assert_eq!(w.scheduled(), SWEEPERS);
    w.assert_clean(&out);
}
