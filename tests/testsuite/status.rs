//! `sfhooks status` against the fake org: a healthy org, each kind of trouble with its
//! reason and exit code, the JSON shape, and what is never read or printed.
use std::process::Output;

use serde_json::{json, Value};

use crate::support::fake_org::{self, FakeOrg};
use crate::support::fake_status::{self, ago, dead_row, seed_healthy, update, OUTBOX};
use crate::support::{code, run, sfhooks, stderr, stdout};

const CALLBACK: &str = "https://hooks.example.com/salesforce";

fn status(org: &FakeOrg, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut cmd = sfhooks(dir.path());
    cmd.args([
        "status",
        "--objects",
        "Contact,Account",
        "--callback-url",
        CALLBACK,
    ])
    .args(org.access_token_args())
    .args(extra);
    run(&mut cmd)
}

/// Neither the secret, nor a payload, nor the token is ever selected or printed.
fn assert_nothing_secret(org: &FakeOrg, out: &Output) {
    let text = format!("{}{}", stdout(out), stderr(out));
    for secret in [
        "NEVERPRINTED",
        "PAYLOAD-NEVER-SHOWN",
        fake_org::ACCESS_TOKEN,
    ] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
    for soql in org.with_rest(|r| r.queries()) {
        let select = soql.split(" WHERE ").next().unwrap_or_default();
        assert!(!select.contains("Secret__c"), "secret selected: {soql}");
        assert!(!soql.contains("Payload__c"), "payload read: {soql}");
    }
}

#[test]
fn a_healthy_org_exits_0() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    let out = status(&org, &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("org         00Dfake0000000001AAA Acme"),
        "{text}"
    );
    assert!(
        text.contains("Pending 2 (oldest waiting 30 s) · Retrying 0 · Dead 0 · Delivered 3"),
        "{text}"
    );
    assert!(text.contains("sweeper     4 of 4 jobs scheduled, next 2026-12-07T12:00:00Z, owner admin@acme.example (active)"), "{text}");
    assert!(
        text.contains(
            "settings    Default record, secret set, pinned to this org; capture on, delivery on"
        ),
        "{text}"
    );
    assert!(
        text.contains("Sfhooks_Callback https://hooks.example.com active, allows the callback URL"),
        "{text}"
    );
    assert!(text.ends_with("\nhealthy\n"), "{text}");
    assert_nothing_secret(&org, &out);
    // The secret is found by a filter only.
    assert!(org
        .with_rest(|r| r.queries())
        .iter()
        .any(|q| q.ends_with("WHERE DeveloperName = 'Default' AND Secret__c != null")));
}

#[test]
fn dead_rows_and_a_missing_sweeper_exit_1_with_both_reasons() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| {
        for i in 0..3 {
            rest.insert(OUTBOX, "a00", dead_row("Contact", 90_000 + i));
        }
        rest.tables
            .records("CronTrigger")
            .retain(|j| j["CronJobDetail"]["Name"] != "SfhooksSweeper :30");
    });
    let out = status(&org, &[]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\n2 things need attention:\n"), "{text}");
    assert!(
        text.contains("  DEAD_ROWS: 3 Dead rows in the outbox (newest: HTTP 503: Service Unavailable): fix the receiver, then `sfhooks replay --dead`"),
        "{text}"
    );
    assert!(
        text.contains("  SWEEPER: 1 of the 4 sweeper jobs is not scheduled (SfhooksSweeper :30)"),
        "{text}"
    );
    assert!(text.contains("`SfhooksJobs.scheduleSweeper();`"), "{text}");
    assert!(
        text.contains("  dead      OB-0 Contact UPDATED after 17 attempts"),
        "{text}"
    );
    assert_nothing_secret(&org, &out);
}

#[test]
fn a_settings_record_pinned_to_another_org_needs_attention() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| {
        update(rest, "Sfhooks_Settings__mdt", |_| true, |r| {
            r["Org_Id__c"] = json!("00Dprod000000001AAA");
        });
        // What the Apex records while it holds delivery (branch apex, Settings.ORG_MISMATCH).
        rest.insert(
            "Sfhooks_State__c",
            "a01",
            json!({"SetupOwnerId": fake_status::ORG_ID, "Paused__c": false,
                   "Delivery_Off__c": false, "Delivery_Off_Reason__c": null,
                   "Held_Reason__c": "ORG_MISMATCH: the settings record was made for org 00Dprod000000001AAA"}),
        );
    });
    let out = status(&org, &[]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("pinned to ANOTHER org 00Dprod000000001AAA"),
        "{text}"
    );
    assert!(
        text.contains("  OTHER_ORG: the settings record is pinned to org 00Dprod000000001AAA, but this org is 00Dfake0000000001AAA: delivery is held"),
        "{text}"
    );
    assert!(
        text.contains("  HELD: the dispatcher holds delivery: ORG_MISMATCH"),
        "{text}"
    );
}

#[test]
fn a_remote_site_that_does_not_match_the_callback_url_needs_attention() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| {
        for site in rest.tables.tooling_records("RemoteProxy") {
            site["EndpointUrl"] = json!("https://old-hooks.example.com");
        }
    });
    let out = status(&org, &[]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("  REMOTE_SITE: the Remote Site Setting Sfhooks_Callback allows https://old-hooks.example.com, not the callback URL https://hooks.example.com/salesforce"),
        "{text}"
    );
    let sent = org.with_rest(|r| r.requests_to("/tooling/query"));
    assert_eq!(sent.len(), 1, "RemoteProxy is read through the Tooling API");
}

#[test]
fn json_has_one_object_with_every_part_and_coded_reasons() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| {
        rest.insert(OUTBOX, "a00", dead_row("Contact", 90_000));
        let mut gap = fake_status::outbox_row("Pending", "Contact", "GAP", 600);
        gap["Gap_From__c"] = json!(ago(700));
        gap["Gap_To__c"] = json!(ago(600));
        gap["Gap_Count__c"] = json!(10000);
        gap["Gap_Reason__c"] = json!("DML_ROWS");
        rest.insert(OUTBOX, "a00", gap);
        update(rest, "User", |_| true, |u| u["IsActive"] = json!(false));
        rest.insert(
            "AsyncApexJob",
            "707",
            json!({"Status": "Queued", "JobType": "Queueable", "CreatedDate": ago(5),
                   "ApexClass": {"attributes": {"type": "ApexClass"}, "Name": "SfhooksDispatcher"}}),
        );
    });
    let out = status(&org, &["--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(json["status"], 1);
    assert_eq!(json["healthy"], false);
    let codes: Vec<&str> = json["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["DEAD_ROWS", "GAPS", "JOB_OWNER_INACTIVE"]);
    assert_eq!(json["checkedAt"], "2026-12-07T12:00:00Z");
    assert_eq!(
        json["org"],
        json!({"id": "00Dfake0000000001AAA", "name": "Acme", "sandbox": false})
    );
    let outbox = &json["outbox"];
    assert_eq!(
        (
            outbox["pending"].clone(),
            outbox["dead"].clone(),
            outbox["delivered"].clone(),
            outbox["gaps"].clone()
        ),
        (json!(3), json!(1), json!(3), json!(1))
    );
    assert_eq!(outbox["lagSeconds"], 600);
    assert_eq!(outbox["newestDead"][0]["lastStatusCode"], 503);
    assert_eq!(
        outbox["newestGaps"][0],
        json!({"id": outbox["newestGaps"][0]["id"], "name": "OB-0", "objectType": "Contact",
               "status": "Pending", "createdAt": "2026-12-07T11:50:00Z",
               "from": "2026-12-07T11:48:20Z", "to": "2026-12-07T11:50:00Z",
               "count": 10000, "reason": "DML_ROWS"})
    );
    assert_eq!(json["settings"]["secretSet"], true);
    assert_eq!(json["settings"]["orgIdMatches"], true);
    assert_eq!(json["runtime"]["paused"], false);
    assert_eq!(json["scheduledJobs"].as_array().unwrap().len(), 4);
    assert_eq!(json["scheduledJobs"][0]["ownerActive"], false);
    assert_eq!(json["dispatchers"][0]["status"], "Queued");
    assert_eq!(json["remoteSite"]["matches"], true);
    assert_eq!(json["remoteSite"]["expected"], "https://hooks.example.com");
    assert!(json["apiUsage"]["max"].as_u64().is_some());
    assert_nothing_secret(&org, &out);
}

#[test]
fn an_org_without_the_outbox_says_sfhooks_is_not_deployed() {
    let org = FakeOrg::start();
    org.with_rest(|rest| {
        rest.insert(
            "Organization",
            "00D",
            json!({"Id": fake_status::ORG_ID, "Name": "Empty", "IsSandbox": true}),
        );
    });
    let out = status(&org, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("  NOT_DEPLOYED: sfhooks is not deployed in this org (no object Sfhooks_Outbox__c), or this user cannot see it: deploy with `sfhooks deploy`, or assign the permission set Sfhooks_Viewer"),
        "{text}"
    );
    assert!(text.contains("1 thing needs attention"), "{text}");
}

#[test]
fn switches_paused_and_off_are_reasons() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| {
        update(rest, "Sfhooks_Settings__mdt", |_| true, |r| r["Bypass_Delivery__c"] = json!(true));
        rest.insert(
            "Sfhooks_State__c",
            "a01",
            json!({"SetupOwnerId": fake_status::ORG_ID, "Paused__c": true, "Delivery_Off__c": true,
                   "Delivery_Off_Reason__c": "GONE: the receiver answered 410", "Held_Reason__c": null}),
        );
        // A user-level row is not the organization default and is ignored.
        rest.insert(
            "Sfhooks_State__c",
            "a01",
            json!({"SetupOwnerId": "005fake00000000009", "Paused__c": false, "Delivery_Off__c": false}),
        );
    });
    let out = status(&org, &["--json"]);
    assert_eq!(code(&out), 1);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let codes: Vec<&str> = json["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["DELIVERY_OFF", "PAUSED", "STOPPED_BY_APEX"]);
    assert_eq!(
        json["runtime"]["deliveryOffReason"],
        "GONE: the receiver answered 410"
    );
}

#[test]
fn an_expired_access_token_exits_3_without_printing_it() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| rest.expire_at_request = Some(2));
    let out = status(&org, &[]);
    assert_eq!(code(&out), 3, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("the access token expired or was revoked"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: get a fresh one"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    assert_nothing_secret(&org, &out);
}

#[test]
fn an_expired_session_is_renewed_through_the_sfdx_auth_url() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| rest.expire_at_request = Some(3));
    let dir = tempfile::tempdir().unwrap();
    let out = run(sfhooks(dir.path())
        .args(["status", "--objects", "Contact", "--callback-url", CALLBACK])
        .env("SFDX_AUTH_URL", org.sfdx_auth_url(fake_org::REFRESH_TOKEN)));
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        org.received_for("token").len(),
        2,
        "signed in, then renewed once"
    );
}

#[test]
fn watch_needs_a_terminal() {
    let org = FakeOrg::start();
    let out = status(&org, &["--watch"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--watch redraws a terminal"),
        "{}",
        stderr(&out)
    );
    assert!(org.with_rest(|r| r.requests.is_empty()));
}

#[test]
fn watch_redraws_the_report_on_a_terminal() {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let org = FakeOrg::start();
    seed_healthy(&org);
    let dir = tempfile::tempdir().unwrap();
    let line = format!(
        "'{}' status --watch --interval 2 --objects Contact --callback-url {CALLBACK} \
         --access-token '{}' --instance-url {}",
        env!("CARGO_BIN_EXE_sfhooks"),
        fake_org::ACCESS_TOKEN,
        org.url()
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir.path())
        .env("TERM", "xterm")
        .env_remove("HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script runs");
    let mut stdout = child.stdout.take().expect("a stdout pipe");
    let mut screen = Vec::new();
    let mut buf = [0u8; 4096];
    // Two redraws: the report, then the same report again after the interval.
    while String::from_utf8_lossy(&screen)
        .matches("\nhealthy")
        .count()
        < 2
    {
        let n = stdout.read(&mut buf).expect("read the terminal");
        assert!(
            n > 0,
            "the watch ended: {}",
            String::from_utf8_lossy(&screen)
        );
        screen.extend_from_slice(&buf[..n]);
    }
    child.kill().expect("stop script");
    let _ = child.wait();
    let screen = String::from_utf8_lossy(&screen);
    assert!(
        screen.contains("\x1b[2J\x1b[Hsfhooks status · every 2 s · API requests today "),
        "{screen:?}"
    );
    assert!(!screen.contains(fake_org::ACCESS_TOKEN), "{screen:?}");
    let organization_reads = org
        .with_rest(|r| r.queries())
        .iter()
        .filter(|q| q.contains("FROM Organization"))
        .count();
    assert!(organization_reads >= 2, "read again for the redraw");
}

#[test]
fn an_org_deployed_by_an_older_sfhooks_is_told_to_redeploy() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    // Older trees have no run-time state setting.
    org.with_rest(|rest| rest.tables.data.remove("Sfhooks_State__c"));
    let out = status(&org, &["--json"]);
    assert_eq!(code(&out), 1);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["reasons"][0]["code"], "OUTDATED");
    let message = json["reasons"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("cannot read the run-time switches: INVALID_TYPE: sObject type 'Sfhooks_State__c' is not supported"), "{message}");
    assert!(
        message.ends_with("the org has an older sfhooks: redeploy with `sfhooks deploy`"),
        "{message}"
    );
    assert_eq!(json["runtime"]["error"], "missing");
    assert_eq!(json["reasons"].as_array().unwrap().len(), 1);
}

/// The names `status` and `replay` look for are the ones `generate` writes, and the Remote
/// Site origin they expect is the one the generated Remote Site Setting allows.
#[test]
fn the_names_looked_for_are_the_generated_ones() {
    use sfhooks::pipeline::health::{remote_site_allows, remote_site_origin};
    use sfhooks::pipeline::names::{Names, SETTINGS_RECORD, SWEEPER_MINUTES};
    for callback in [
        "https://hooks.example.com/salesforce",
        "https://hooks.example.com:8443/a/b?x=1",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run(sfhooks(dir.path())
            .args(["generate", "--objects", "Contact", "--prefix", "Acme"])
            .args(["--callback-url", callback, "--out", "tree"]));
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let tree = dir.path().join("tree");
        let read = |path: &str| {
            std::fs::read_to_string(tree.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        let names = Names::new("Acme");
        for path in [
            format!("objects/{0}/{0}.object-meta.xml", names.outbox),
            format!("objects/{0}/{0}.object-meta.xml", names.settings),
            format!("classes/{}.cls", names.dispatcher),
            format!(
                "permissionsets/{}.permissionset-meta.xml",
                names.viewer_permission_set
            ),
            format!(
                "permissionsets/{}.permissionset-meta.xml",
                names.admin_permission_set
            ),
        ] {
            assert!(tree.join(&path).is_file(), "{path} is not generated");
        }
        let sweeper = read(&format!("classes/{}.cls", names.sweeper));
        assert!(
            sweeper.contains(&format!("JOB_NAME = '{}'", names.sweeper)),
            "{sweeper}"
        );
        assert!(
            sweeper.contains("JOB_NAME + ' :' + String.valueOf(minute).leftPad(2, '0')"),
            "the sweeper's job names changed: update Names::sweeper_job"
        );
        for minute in SWEEPER_MINUTES {
            assert!(
                sweeper.contains(&format!("    {minute},"))
                    || sweeper.contains(&format!("    {minute}\n"))
            );
        }
        let settings = read(&format!("classes/{}Settings.cls", names.prefix));
        assert!(settings.contains(&format!("RECORD_NAME = '{SETTINGS_RECORD}'")));
        // The run-time state and the jobs class come with the day-2 Apex: checked once
        // the templates have them.
        let jobs = tree.join(format!("classes/{}.cls", names.jobs));
        if jobs.is_file() {
            assert!(tree
                .join(format!("objects/{0}/{0}.object-meta.xml", names.state))
                .is_file());
            let jobs = std::fs::read_to_string(jobs).unwrap();
            assert!(jobs.contains("public static void scheduleSweeper()"));
            assert!(jobs.contains("public static void restore()"));
        }
        let site = read(&format!(
            "remoteSiteSettings/{}.remoteSite-meta.xml",
            names.remote_site
        ));
        let url = url::Url::parse(callback).unwrap();
        let origin = remote_site_origin(&url);
        assert!(site.contains(&format!("<url>{origin}</url>")), "{site}");
        assert!(remote_site_allows(&origin, &url));
    }
}
