//! `sfhooks replay` against the fake org: batches of 200 with results matched by
//! position, a refused row, `--dry-run`, the confirmation, a session expiring mid-replay, the
//! selection flags and the dispatcher start.
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::support::fake_org::{self, FakeOrg};
use crate::support::fake_rest::Anonymous;
use crate::support::fake_status::{ago, dead_row, seed_healthy, OUTBOX};
use crate::support::{code, run, sfhooks, stderr, stdout};

fn replay_cmd(org: &FakeOrg, dir: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = sfhooks(dir);
    cmd.args(["replay", "--objects", "Contact,Account"])
        .args(["--callback-url", "https://hooks.example.com/salesforce"])
        .args(org.access_token_args())
        .args(extra);
    cmd
}

fn replay(org: &FakeOrg, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a temporary folder");
    run(&mut replay_cmd(org, dir.path(), extra))
}

/// Seeds `n` Dead rows (Contact, captured 25 h ago and older, oldest first by index); returns
/// their ids.
fn seed_dead(org: &FakeOrg, n: usize) -> Vec<String> {
    org.with_rest(|rest| {
        (0..n)
            .map(|i| rest.insert(OUTBOX, "a00", dead_row("Contact", 90_000 + (n - i) as u64)))
            .collect()
    })
}

fn rows_with(org: &FakeOrg, status: &str) -> Vec<Value> {
    org.with_rest(|rest| {
        rest.tables
            .records(OUTBOX)
            .iter()
            .filter(|r| r["Status__c"] == status)
            .cloned()
            .collect()
    })
}

fn patch_sizes(org: &FakeOrg) -> Vec<usize> {
    org.with_rest(|rest| rest.requests_to("/composite/sobjects"))
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).expect("a JSON body");
            assert_eq!(
                body["allOrNone"], false,
                "one refused row must not hold back the rest"
            );
            body["records"].as_array().expect("a records list").len()
        })
        .collect()
}

#[test]
fn four_hundred_fifty_dead_rows_go_in_three_batches_and_one_refused_row_is_named() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    let ids = seed_dead(&org, 450);
    org.with_rest(|rest| {
        rest.patch_failures.insert(
            ids[207].clone(),
            (
                "UNABLE_TO_LOCK_ROW".into(),
                "unable to obtain exclusive access to this record".into(),
            ),
        );
    });
    let out = replay(&org, &["--dead", "--yes"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(patch_sizes(&org), [200, 200, 50]);
    let text = stdout(&out);
    assert!(
        text.starts_with("replayed 449 of 450 Dead rows in 3 requests; 1 refused:\n"),
        "{text}"
    );
    // The fake answers a failed record without an id: the id comes from the request, by position.
    assert!(
        text.contains(&format!(
            "  {}: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record\n",
            ids[207]
        )),
        "{text}"
    );
    assert!(
        text.contains("started a dispatcher (SfhooksDispatcher.requestRun())"),
        "{text}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("450 Dead rows of Sfhooks_Outbox__c (Contact 450)"),
        "{err}"
    );
    assert!(
        err.contains("batch 3/3: 449 replayed, 1 refused so far"),
        "{err}"
    );
    let pending = rows_with(&org, "Pending");
    let replayed: Vec<&Value> = pending
        .iter()
        .filter(|r| r["Last_Status_Code__c"] == 503)
        .collect();
    assert_eq!(replayed.len(), 449);
    assert!(replayed
        .iter()
        .all(|r| r["Attempts__c"] == 0 && r["Next_Attempt_At__c"] == "2026-12-07T12:00:00Z"));
    let dead = rows_with(&org, "Dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["Id"], ids[207].as_str());
    assert_eq!(
        org.with_rest(|r| r.anonymous.clone()),
        ["SfhooksDispatcher.requestRun();"]
    );
}

#[test]
fn dry_run_changes_nothing() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    seed_dead(&org, 450);
    let out = replay(&org, &["--dead", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "--dry-run: would replay 450 Dead rows of Sfhooks_Outbox__c (Contact 450); nothing was changed\n"
    );
    assert!(patch_sizes(&org).is_empty());
    assert!(org.with_rest(|r| r.anonymous.is_empty()));
    assert_eq!(rows_with(&org, "Dead").len(), 450);
    let out = replay(&org, &["--dead", "--dry-run", "--json"]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["dryRun"], true);
    assert_eq!(json["selected"], 450);
    assert_eq!(json["replayed"], 0);
    assert!(patch_sizes(&org).is_empty());
}

#[test]
fn many_rows_need_yes_without_a_terminal() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    seed_dead(&org, 101);
    let out = replay(&org, &["--dead"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("replaying 101 rows (more than 100) needs --yes"),
        "{}",
        stderr(&out)
    );
    assert!(patch_sizes(&org).is_empty());
    // At the threshold no question is asked.
    let org = FakeOrg::start();
    seed_healthy(&org);
    seed_dead(&org, 100);
    let out = replay(&org, &["--dead", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (
            json["selected"].clone(),
            json["replayed"].clone(),
            json["requests"].clone(),
            json["failed"].clone()
        ),
        (json!(100), json!(100), json!(1), json!([]))
    );
}

#[test]
fn an_expired_session_mid_replay_prints_what_was_done_and_exits_3() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    seed_dead(&org, 450);
    // Request 0 reads the rows, 1 is the first batch; the second batch finds the session gone.
    org.with_rest(|rest| rest.expire_at_request = Some(2));
    let out = replay(&org, &["--dead", "--yes"]);
    assert_eq!(code(&out), 3, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "replayed 200 of 450 Dead rows in 1 request\n");
    let err = stderr(&out);
    assert!(
        err.contains("error: replay stopped after 200 of 450 rows: the access token expired"),
        "{err}"
    );
    assert!(
        err.contains("hint: the rows not reached are unchanged; run the same command again"),
        "{err}"
    );
    assert!(!format!("{}{err}", stdout(&out)).contains(fake_org::ACCESS_TOKEN));
    assert_eq!(rows_with(&org, "Pending").len(), 2 + 200);
    assert_eq!(rows_with(&org, "Dead").len(), 250);
    assert!(org.with_rest(|r| r.anonymous.is_empty()));
}

#[test]
fn an_expired_session_mid_replay_is_renewed_with_an_sfdx_auth_url() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    seed_dead(&org, 450);
    org.with_rest(|rest| rest.expire_at_request = Some(2));
    let dir = tempfile::tempdir().unwrap();
    let out = run(sfhooks(dir.path())
        .args(["replay", "--dead", "--yes", "--objects", "Contact"])
        .args(["--callback-url", "https://hooks.example.com/salesforce"])
        .env("SFDX_AUTH_URL", org.sfdx_auth_url(fake_org::REFRESH_TOKEN)));
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("replayed 450 of 450 Dead rows in 3 requests\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(org.received_for("token").len(), 2);
    assert_eq!(rows_with(&org, "Dead").len(), 0);
}

#[test]
fn object_since_and_limit_narrow_the_selection() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    org.with_rest(|rest| {
        rest.insert(OUTBOX, "a00", dead_row("Contact", 3 * 3600)); // too old for --since 2h
        rest.insert(OUTBOX, "a00", dead_row("Account", 3600)); // another object
        for age in [3000, 2000, 1000] {
            rest.insert(OUTBOX, "a00", dead_row("Contact", age));
        }
    });
    let out = replay(
        &org,
        &[
            "--dead", "--object", "Contact", "--since", "2h", "--limit", "2",
        ],
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let soql = org
        .with_rest(|r| r.queries())
        .into_iter()
        .find(|q| q.contains("Status__c = 'Dead'"))
        .unwrap();
    assert_eq!(
        soql,
        "SELECT Id, Object_Type__c, Event_Type__c, CreatedDate FROM Sfhooks_Outbox__c WHERE \
         Status__c = 'Dead' AND Object_Type__c = 'Contact' AND CreatedDate >= 2026-12-07T10:00:00Z \
         ORDER BY CreatedDate LIMIT 2"
    );
    let replayed: Vec<String> = rows_with(&org, "Pending")
        .iter()
        .filter(|r| r["Last_Status_Code__c"] == 503)
        .map(|r| r["CreatedDate"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        replayed,
        [ago(3000), ago(2000)],
        "the two oldest Contact rows of the last 2 h"
    );
    assert_eq!(rows_with(&org, "Dead").len(), 3);
}

#[test]
fn delivered_rows_are_resent_with_the_same_webhook_id_said_out_loud() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    let out = replay(&org, &["--delivered"]);
    assert_eq!(code(&out), 2, "--delivered needs --since");
    assert!(stderr(&out).contains("--since"), "{}", stderr(&out));
    let out = replay(&org, &["--delivered", "--since", "2026-12-07"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("sent again with the same webhook-id"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with("replayed 3 of 3 Delivered rows in 1 request\n"),
        "{}",
        stdout(&out)
    );
    assert!(rows_with(&org, "Delivered").is_empty());
}

#[test]
fn without_author_apex_the_sweeper_takes_over() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    seed_dead(&org, 3);
    org.with_rest(|rest| {
        rest.refuse_anonymous(Anonymous::Refused(
            403,
            "INSUFFICIENT_ACCESS".into(),
            "insufficient access rights on cross-reference id".into(),
        ))
    });
    let out = replay(&org, &["--dead"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("running Anonymous Apex needs \"Author Apex\"): the sweeper starts one within 15 minutes"), "{}", stdout(&out));
    assert_eq!(rows_with(&org, "Dead").len(), 0);
}

#[test]
fn nothing_to_replay_and_not_deployed() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    let out = replay(&org, &["--dead"]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        "nothing to replay: no Dead rows of Sfhooks_Outbox__c\n"
    );
    let empty = FakeOrg::start();
    let out = replay(&empty, &["--dead"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("error: sfhooks is not deployed in this org (no object Sfhooks_Outbox__c)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(
            "hint: deploy with `sfhooks deploy`, or assign the permission set Sfhooks_Admin"
        ),
        "{}",
        stderr(&out)
    );
    let out = replay(&org, &["--dead", "--since", "last tuesday"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--since: cannot read the time \"last tuesday\""),
        "{}",
        stderr(&out)
    );
}

/// Runs `cmd` on a pseudo-terminal (util-linux `script`), typing `input`; `None` when `script`
/// is not installed.
fn on_a_terminal(cmd: &Command, dir: &std::path::Path, input: &str) -> Option<Output> {
    use std::io::Write as _;
    use std::process::Stdio;
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let quote = |w: &std::ffi::OsStr| format!("'{}'", w.to_string_lossy().replace('\'', r"'\''"));
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut child = script.spawn().expect("script runs");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(input.as_bytes())
        .expect("typed");
    Some(child.wait_with_output().expect("script ends"))
}

#[test]
fn on_a_terminal_many_rows_are_replayed_only_after_a_yes() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    seed_dead(&org, 150);
    let dir = tempfile::tempdir().unwrap();
    let cmd = replay_cmd(&org, dir.path(), &["--dead"]);
    let Some(out) = on_a_terminal(&cmd, dir.path(), "n\n") else {
        return;
    };
    let screen = stdout(&out);
    assert!(
        screen.contains("replay 150 Dead rows of Sfhooks_Outbox__c (Contact 150)? [y/N]"),
        "{screen:?}"
    );
    assert!(
        screen.contains("replay canceled: nothing was changed"),
        "{screen:?}"
    );
    assert!(patch_sizes(&org).is_empty());
    let out = on_a_terminal(&cmd, dir.path(), "y\n").expect("script is installed");
    let screen = stdout(&out);
    assert!(
        screen.contains("replayed 150 of 150 Dead rows in 1 request"),
        "{screen:?}"
    );
    assert_eq!(patch_sizes(&org), [150]);
}

#[test]
fn rows_refused_for_access_name_the_permission_set() {
    let org = FakeOrg::start();
    seed_healthy(&org);
    let ids = seed_dead(&org, 2);
    org.with_rest(|rest| {
        for id in &ids {
            rest.patch_failures.insert(
                id.clone(),
                (
                    "INSUFFICIENT_ACCESS_OR_READONLY".into(),
                    "insufficient access rights on object id".into(),
                ),
            );
        }
    });
    let out = replay(&org, &["--dead"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("replayed 0 of 2 Dead rows in 1 request; 2 refused:\n"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out)
            .contains("hint: rows refused for access: assign the permission set Sfhooks_Admin"),
        "{}",
        stderr(&out)
    );
    assert!(
        org.with_rest(|r| r.anonymous.is_empty()),
        "nothing to deliver, no dispatcher"
    );
}
