//! `sfhooks poll` end to end: the real binary against the fake org (query pages,
//! composite, describe, the delete log, a controllable clock) and a real receiver that verifies
//! every signature with the library.
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::fake_org::{self, FakeOrg};
use crate::support::fake_records::{sf_time, t0};
use crate::support::poll_receiver::PollReceiver;
use crate::support::{code, run, sfhooks, stderr, stdout};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const OLD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Poll {
    org: FakeOrg,
    rx: PollReceiver,
    dir: TempDir,
}

fn define(org: &FakeOrg) {
    org.with_rest(|r| {
        r.set_clock(Some(t0()));
        r.define_object(
            "Contact",
            &[
                ("Email", "email"),
                ("Phone", "phone"),
                ("LastName", "string"),
            ],
        );
        r.define_object("Account", &[("Industry", "picklist")]);
    });
}

fn setup() -> Poll {
    let org = FakeOrg::start();
    define(&org);
    let rx = PollReceiver::start(&[SECRET]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("secret.txt"), format!("{SECRET}\n")).expect("write");
    Poll { org, rx, dir }
}

impl Poll {
    fn cmd(&self, extra: &[&str]) -> std::process::Command {
        self.cmd_at(&self.org.url(), extra)
    }

    /// `sfhooks poll` against the org at `instance_url`, with this test's receiver and state.
    fn cmd_at(&self, instance_url: &str, extra: &[&str]) -> std::process::Command {
        let mut cmd = sfhooks(self.dir.path());
        cmd.args([
            "poll",
            "--objects",
            "Contact",
            "--allow-insecure-http",
            "--secret-file",
            "secret.txt",
        ])
        .args(["--callback-url", &self.rx.url()])
        .args([
            "--access-token",
            fake_org::ACCESS_TOKEN,
            "--instance-url",
            instance_url,
        ])
        .args(["--state", "poll.db", "--retry-delay", "0s"])
        .args(extra);
        cmd
    }

    fn once(&self, extra: &[&str]) -> Output {
        let out = run(self.cmd(&["--once"]).args(extra));
        assert!(
            self.rx.refused().is_empty(),
            "bad signatures: {:?}",
            self.rx.refused()
        );
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !text.contains(fake_org::ACCESS_TOKEN) && !text.contains(SECRET),
            "{text}"
        );
        out
    }

    fn advance(&self, secs: u64) {
        self.org.with_rest(|r| r.advance(Duration::from_secs(secs)));
    }

    fn types(&self) -> Vec<String> {
        self.rx.events().into_iter().map(|e| e.0).collect()
    }
}

fn ok(out: &Output) {
    assert_eq!(code(out), 0, "{}{}", stdout(out), stderr(out));
}

/// Exit 2 with a sentence that says `want`.
fn refused(out: &Output, want: &str) {
    assert_eq!(code(out), 2, "{}", stderr(out));
    assert!(stderr(out).contains(want), "{}", stderr(out));
}

fn contact(p: &Poll, name: &str) -> String {
    p.org.with_rest(|r| {
        r.create(
            "Contact",
            json!({"LastName": name, "Email": format!("{name}@example.com")}),
        )
    })
}

#[test]
fn create_update_delete_undelete_each_arrive_once_with_their_type() {
    let p = setup();
    ok(&p.once(&[])); // a new cursor starts at the org's clock: nothing older is sent
    assert!(p.rx.delivered().is_empty());
    p.advance(30);
    let id = contact(&p, "ada");
    p.advance(150);
    ok(&p.once(&[]));
    assert_eq!(p.types(), ["CREATED"]);
    p.advance(30);
    p.org
        .with_rest(|r| r.update(&id, json!({"Email": "ada@new.example.com"})));
    p.advance(150);
    ok(&p.once(&[]));
    p.advance(30);
    p.org.with_rest(|r| r.delete(&id));
    p.advance(150);
    ok(&p.once(&[]));
    p.advance(30);
    p.org.with_rest(|r| r.undelete(&id));
    p.advance(150);
    ok(&p.once(&[]));
    ok(&p.once(&[])); // nothing new: the overlap is not sent again
    assert_eq!(p.types(), ["CREATED", "UPDATED", "DELETED", "UNDELETED"]);
    let events: Vec<_> =
        p.rx.delivered()
            .iter()
            .flat_map(|d| d.envelope.data.events.clone())
            .collect();
    assert!(events
        .iter()
        .all(|e| e.object_id == id && e.object_type == "Contact"));
    assert_eq!(
        events[1].changed_fields.as_deref(),
        Some(&["Email".to_string()][..])
    );
    assert_eq!(
        events[0].changed_fields, None,
        "a first sighting has no changedFields"
    );
    assert_eq!(events[2].record.get("Id"), Some(&json!(id)));
    assert_eq!(
        events[0].record.get("Email"),
        Some(&json!("ada@example.com"))
    );
    for d in p.rx.delivered() {
        assert!(d.id.starts_with("msg_") && d.id.len() == 36, "{}", d.id);
        assert_eq!(d.envelope.kind, "sfhooks.events");
        assert_eq!(d.envelope.data.org_id, crate::support::fake_rest::ORG_ID);
    }
    // One composite request per run signs in (the org's Id and the describes), one per cycle
    // carries the changes query and the deletes.
    let queries = p.org.with_rest(|r| r.poll_queries());
    assert!(
        queries.iter().all(|q| q == "SELECT Id FROM Organization"
            || (q.contains("WHERE SystemModstamp >= ")
                && q.ends_with("ORDER BY SystemModstamp, Id"))),
        "{queries:?}"
    );
    let sign_ins = p.org.with_rest(|r| {
        r.life
            .composites
            .iter()
            .filter(|urls| {
                urls.iter()
                    .any(|u| u.ends_with("/sobjects/Contact/describe"))
            })
            .count()
    });
    assert_eq!(
        sign_ins,
        queries
            .iter()
            .filter(|q| q.contains("Organization"))
            .count()
    );
    assert!(
        p.org.with_rest(|r| r.requests_to("/describe")).is_empty(),
        "no describe outside a composite"
    );
}

#[test]
fn a_row_committed_late_with_an_older_stamp_arrives_once() {
    let p = setup();
    ok(&p.once(&[]));
    p.advance(30);
    contact(&p, "first");
    p.advance(150); // 10:03:00, the window ends at 10:02:00
    ok(&p.once(&[]));
    p.advance(10);
    let late = contact(&p, "late");
    let older = sf_time(t0() + Duration::from_secs(90)); // 10:01:30: behind the cursor
    p.org.with_rest(|r| {
        r.set_field(&late, "SystemModstamp", json!(older));
        r.set_field(&late, "CreatedDate", json!(older));
    });
    p.advance(170);
    ok(&p.once(&[]));
    p.advance(180);
    ok(&p.once(&[]));
    let ids: Vec<String> = p.rx.events().into_iter().map(|e| e.2).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids.iter().filter(|i| **i == late).count(), 1);
    assert_eq!(p.types(), ["CREATED", "CREATED"]);
}

#[test]
fn equal_stamps_across_a_page_boundary_arrive_once_each() {
    let p = setup();
    p.org.with_rest(|r| r.page_size = 2);
    ok(&p.once(&[]));
    p.advance(30);
    let ids: Vec<String> = (0..5).map(|i| contact(&p, &format!("same{i}"))).collect();
    p.advance(150);
    ok(&p.once(&[]));
    p.advance(180);
    ok(&p.once(&[]));
    let mut seen: Vec<String> = p.rx.events().into_iter().map(|e| e.2).collect();
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want);
    assert!(
        !p.org.with_rest(|r| r.requests_to("-2")).is_empty(),
        "the answer was paged"
    );
}

#[test]
fn a_backdated_last_modified_date_is_still_seen() {
    let p = setup();
    ok(&p.once(&[]));
    p.advance(30);
    let id = contact(&p, "imported");
    p.org.with_rest(|r| {
        r.set_field(
            &id,
            "LastModifiedDate",
            json!("2019-01-01T00:00:00.000+0000"),
        )
    });
    p.advance(150);
    ok(&p.once(&[]));
    assert_eq!(p.rx.events().len(), 1);
    assert!(p
        .org
        .with_rest(|r| r.poll_queries())
        .iter()
        .all(|q| !q.contains("LastModifiedDate >")));
}

#[test]
fn watched_fields_and_changed_fields() {
    let p = setup();
    std::fs::write(
        p.dir.path().join("sfhooks.toml"),
        "[objects_config.Contact]\nfields = [\"Email\", \"Phone\"]\nwatched_fields = [\"Email\"]\n",
    )
    .unwrap();
    // A record created before polling began, updated after: a first sighting, UPDATED without
    // changedFields.
    let old = contact(&p, "old");
    p.advance(600);
    ok(&p.once(&[]));
    p.advance(30);
    p.org
        .with_rest(|r| r.update(&old, json!({"Email": "old@new.example.com"})));
    let id = contact(&p, "bob");
    p.advance(150);
    ok(&p.once(&[]));
    p.advance(30);
    p.org
        .with_rest(|r| r.update(&id, json!({"Phone": "+1 555 0100"}))); // not watched
    p.advance(150);
    ok(&p.once(&[]));
    p.advance(30);
    p.org.with_rest(|r| r.touch(&id)); // a system update: only SystemModstamp moves
    p.advance(150);
    ok(&p.once(&[]));
    p.advance(30);
    p.org
        .with_rest(|r| r.update(&id, json!({"Email": "bob@new.example.com"})));
    p.advance(150);
    ok(&p.once(&[]));
    let events: Vec<_> =
        p.rx.delivered()
            .iter()
            .flat_map(|d| d.envelope.data.events.clone())
            .collect();
    let summary: Vec<(String, String, Option<Vec<String>>)> = events
        .iter()
        .map(|e| {
            (
                e.event_type.as_str().to_string(),
                e.object_id.clone(),
                e.changed_fields.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("UPDATED".to_string(), old.clone(), None),
            ("CREATED".to_string(), id.clone(), None),
            (
                "UPDATED".to_string(),
                id.clone(),
                Some(vec!["Email".to_string()])
            ),
        ],
        "{summary:?}"
    );
    // With `fields`, the record carries Id and exactly those fields.
    let keys: Vec<&String> = events[2].record.keys().collect();
    assert_eq!(keys, ["Email", "Id", "Phone"]);
}

#[test]
fn receiver_down_then_up_resends_the_same_id_and_bytes() {
    let p = setup();
    ok(&p.once(&[]));
    p.advance(30);
    contact(&p, "ada");
    p.advance(150);
    p.rx.answer_with(503);
    let out = p.once(&[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("retrying msg_"), "{}", stderr(&out));
    let first = p.rx.verified();
    assert_eq!(first.len(), 1);
    p.rx.answer_with(200);
    ok(&p.once(&[]));
    let delivered = p.rx.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, first[0].0);
    assert_eq!(delivered[0].body, first[0].1, "byte-identical");
}

#[test]
fn kill_9_in_the_middle_loses_nothing_and_keeps_the_ids() {
    let p = setup();
    p.org.with_rest(|r| r.page_size = 300);
    let ids: Vec<String> = (0..3000).map(|i| contact(&p, &format!("c{i}"))).collect();
    p.advance(180);
    let mut child = p
        .cmd(&["--interval", "1s", "--backfill", "1h", "--max-events", "50"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("poll starts");
    for _ in 0..3000 {
        if p.rx.delivered().len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let before = p.rx.delivered().len();
    assert!(before >= 3, "delivered {before} before the kill");
    ok(&p.once(&[]));
    let events: Vec<_> =
        p.rx.delivered()
            .iter()
            .flat_map(|d| d.envelope.data.events.clone())
            .collect();
    let mut seen: Vec<String> = events.iter().map(|e| e.object_id.clone()).collect();
    seen.sort();
    seen.dedup();
    let mut want = ids;
    want.sort();
    assert_eq!(seen, want, "every record arrived");
    // The same record and stamp always carries the same eventId.
    let mut by_record = std::collections::HashMap::new();
    for e in &events {
        let id = by_record
            .entry((e.object_id.clone(), e.occurred_at.clone()))
            .or_insert(e.event_id.clone());
        assert_eq!(*id, e.event_id);
    }
}

#[test]
fn an_expired_access_token_is_exit_3_and_an_auth_url_is_renewed() {
    let p = setup();
    ok(&p.once(&[]));
    p.org
        .with_rest(|r| r.expire_at_request = Some(r.requests.len()));
    let out = p.once(&[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("session expired"), "{}", stderr(&out));

    let p = setup();
    let auth = p.org.sfdx_auth_url(fake_org::REFRESH_TOKEN);
    let once = |p: &Poll| {
        let mut cmd = sfhooks(p.dir.path());
        cmd.args([
            "poll",
            "--once",
            "--objects",
            "Contact",
            "--allow-insecure-http",
            "--secret-file",
            "secret.txt",
        ])
        .args(["--callback-url", &p.rx.url(), "--state", "poll.db"])
        .env("SFDX_AUTH_URL", &auth);
        run(&mut cmd)
    };
    ok(&once(&p));
    p.advance(30);
    contact(&p, "ada");
    p.advance(150);
    p.org
        .with_rest(|r| r.expire_at_request = Some(r.requests.len() + 1));
    ok(&once(&p));
    assert_eq!(p.types(), ["CREATED"]);
}

#[test]
fn a_purged_delete_log_is_a_gap_event_and_a_loud_warning() {
    let p = setup();
    ok(&p.once(&[]));
    p.advance(180);
    let now = p.org.with_rest(|r| r.now());
    p.org.with_rest(|r| r.purge_delete_log_before(now));
    let out = p.once(&[]);
    ok(&out);
    let events: Vec<_> =
        p.rx.delivered()
            .iter()
            .flat_map(|d| d.envelope.data.events.clone())
            .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type.as_str(), "GAP");
    let gap = events[0].gap.as_ref().expect("a gap");
    assert_eq!(gap.reason.as_str(), "DELETE_LOG_PURGED");
    assert_eq!(gap.count, None);
    let err = stderr(&out);
    assert!(
        err.contains("deletions of Contact in org \"default\""),
        "{err}"
    );
    assert!(err.contains("--backfill"), "{err}");
    p.advance(180);
    ok(&p.once(&[]));
    assert_eq!(p.rx.delivered().len(), 1, "one purge, one GAP");
}

fn orgs_toml(dir: &Path, rx: &PollReceiver, orgs: &[(&str, &FakeOrg)]) {
    let mut text = format!(
        "objects = [\"Contact\"]\ncallback_url = \"{}\"\nallow_insecure_http = true\n[poll]\nstate = \"many.db\"\nretry_delay = \"0s\"\n",
        rx.url()
    );
    for (name, org) in orgs {
        text.push_str(&format!(
            "[[poll.orgs]]\nname = \"{name}\"\ninstance_url = \"{}\"\naccess_token_env = \"TOKEN_{}\"\nsecret_file = \"secret.txt\"\n",
            org.url(),
            name.to_uppercase()
        ));
    }
    std::fs::write(dir.join("sfhooks.toml"), text).expect("write sfhooks.toml");
}

#[test]
fn three_orgs_in_one_process_one_failing() {
    let p = setup();
    let (b, c) = (FakeOrg::start(), FakeOrg::start());
    define(&b);
    define(&c);
    for (org, id) in [(&b, "00Dglobex000001AAA"), (&c, "00Dinitech00001AAA")] {
        org.with_rest(|r| {
            r.insert("Organization", "00D", json!({"Id": id, "Name": id}));
        });
    }
    orgs_toml(
        p.dir.path(),
        &p.rx,
        &[("acme", &p.org), ("globex", &b), ("initech", &c)],
    );
    let run_all = |globex_token: &str| {
        let mut cmd = sfhooks(p.dir.path());
        cmd.args(["poll", "--once"])
            .env("TOKEN_ACME", fake_org::ACCESS_TOKEN)
            .env("TOKEN_GLOBEX", globex_token)
            .env("TOKEN_INITECH", fake_org::ACCESS_TOKEN);
        run(&mut cmd)
    };
    ok(&run_all(fake_org::ACCESS_TOKEN));
    for org in [&p.org, &b, &c] {
        org.with_rest(|r| {
            r.advance(Duration::from_secs(30));
            r.create("Contact", json!({"LastName": "x"}));
            r.advance(Duration::from_secs(150));
        });
    }
    let out = run_all("revoked");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("org \"globex\""), "{}", stderr(&out));
    assert_eq!(p.rx.events().len(), 2, "acme and initech delivered");
    assert!(!stderr(&out).contains("revoked"));
}

#[test]
fn above_the_api_threshold_the_org_pauses() {
    let p = setup();
    ok(&p.once(&[]));
    p.advance(180);
    p.org.with_rest(|r| r.set_api_usage(81, 100));
    // Composites that read a window (the sign-in's carries only the org's Id and describes).
    let windows_read = |p: &Poll| {
        p.org.with_rest(|r| {
            r.life
                .composites
                .iter()
                .filter(|urls| urls.iter().any(|u| u.contains("SystemModstamp")))
                .count()
        })
    };
    let composites = windows_read(&p);
    let out = p.once(&[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("org \"default\" paused: its API usage 82/100"),
        "{}",
        stderr(&out)
    );
    assert_eq!(windows_read(&p), composites, "no window was read");
}

#[test]
fn bad_input_is_exit_2_with_a_sentence() {
    let p = setup();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--objects", "Nope__c"], "has no object \"Nope__c\""),
        (
            vec!["--interval", "5x"],
            "--interval \"5x\" is not a duration",
        ),
        (vec!["--max-events", "500"], "1 to 200 events"),
        (vec!["--backfill", "soon"], "--backfill \"soon\""),
    ];
    for (extra, want) in cases {
        let out = p.once(&extra);
        assert_eq!(code(&out), 2, "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{extra:?}: {}", stderr(&out));
    }
    std::fs::write(
        p.dir.path().join("sfhooks.toml"),
        "[objects_config.Contact]\nfields = [\"Secret__c\"]\n",
    )
    .unwrap();
    let out = p.once(&[]);
    refused(&out, "Contact.Secret__c (in objects_config.Contact.fields)");
    p.org.with_rest(|r| r.hide_field("Contact", "Phone"));
    std::fs::write(
        p.dir.path().join("sfhooks.toml"),
        "[objects_config.Contact]\nfields = [\"Phone\"]\n",
    )
    .unwrap();
    let out = p.once(&[]);
    refused(&out, "field-level security");
    std::fs::write(
        p.dir.path().join("sfhooks.toml"),
        "[[poll.orgs]]\nname = \"a\"\nsfdx_auth_url_file = \"x\"\n[[poll.orgs]]\nname = \"a\"\nsfdx_auth_url_file = \"y\"\n",
    )
    .unwrap();
    let out = p.once(&[]);
    refused(&out, "two [[poll.orgs]] are named \"a\"");
}

#[test]
fn a_state_in_use_or_made_for_another_org_is_refused() {
    let p = setup();
    ok(&p.once(&[]));
    let before = p.org.with_rest(|r| r.requests.len());
    let mut running = p
        .cmd(&["--interval", "1h"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // It holds the lock before its first request.
    for _ in 0..500 {
        if p.org.with_rest(|r| r.requests.len()) > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let lock = p.dir.path().join("poll.db.lock");
    let mut in_use = None;
    for _ in 0..400 {
        let out = p.once(&[]);
        if code(&out) == 2 {
            in_use = Some(stderr(&out));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    running.kill().unwrap();
    running.wait().unwrap();
    let message = in_use.expect("the second poller was refused");
    assert!(
        message.contains("is in use by another sfhooks poll"),
        "{message}"
    );
    assert!(lock.exists());

    let other = FakeOrg::start();
    define(&other);
    other.with_rest(|r| {
        r.insert(
            "Organization",
            "00D",
            json!({"Id": "00Dother0000001AAA", "Name": "Other"}),
        );
    });
    let out = run(&mut p.cmd_at(&other.url(), &["--once"]));
    refused(&out, "belongs to another configuration");
}

#[test]
fn status_json_dead_deliveries_and_replay() {
    let p = setup();
    std::fs::write(
        p.dir.path().join("sfhooks.toml"),
        "[poll]\nretry_for = \"0s\"\n",
    )
    .unwrap();
    ok(&p.once(&[]));
    p.advance(30);
    contact(&p, "ada");
    p.advance(150);
    p.rx.answer_with(503);
    let out = p.once(&[]);
    assert_eq!(code(&out), 1);
    let status = |args: &[&str]| {
        run(sfhooks(p.dir.path())
            .args(["poll", "status", "--state", "poll.db"])
            .args(args))
    };
    let out = status(&["--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let org = &doc["orgs"][0];
    assert_eq!(org["name"], "default");
    assert_eq!(org["orgId"], crate::support::fake_rest::ORG_ID);
    assert_eq!(
        (org["dead"].as_i64(), org["pending"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(org["lastDeliveryError"], "the receiver answered HTTP 503");
    assert_eq!(org["objects"][0]["object"], "Contact");
    assert_eq!(org["objects"][0]["lagSeconds"], 60);
    assert!(org["objects"][0]["cursor"]
        .as_str()
        .unwrap()
        .ends_with(":00.000Z"));
    let text = stdout(&status(&[]));
    assert!(
        text.contains("dead 1") && text.contains("sfhooks poll replay --dead"),
        "{text}"
    );
    let out = run(sfhooks(p.dir.path()).args(["poll", "replay", "--dead", "--state", "poll.db"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("1 dead deliveries put back"),
        "{}",
        stdout(&out)
    );
    p.rx.answer_with(200);
    ok(&p.once(&[]));
    assert_eq!(p.rx.delivered()[0].id, p.rx.verified()[0].0);
    assert_eq!(code(&status(&[])), 0);
    let out = run(sfhooks(p.dir.path()).args(["poll", "status", "--state", "missing.db"]));
    refused(&out, "there is no poll state at missing.db");
}

#[test]
fn sigterm_finishes_and_exits_0() {
    let p = setup();
    ok(&p.once(&[]));
    let child = p
        .cmd(&["--interval", "1s"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for its first cycle to have read the org.
    let before = p.org.with_rest(|r| r.requests.len());
    for _ in 0..500 {
        if p.org.with_rest(|r| r.requests.len()) > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_lines_and_a_rotation_with_two_signatures() {
    let p = setup();
    let rx_old = PollReceiver::start(&[OLD_SECRET]);
    std::fs::write(p.dir.path().join("old.txt"), OLD_SECRET).unwrap();
    let mut cmd = sfhooks(p.dir.path());
    let base = |cmd: &mut std::process::Command| {
        cmd.args([
            "poll",
            "--once",
            "--json",
            "--objects",
            "Contact",
            "--allow-insecure-http",
        ])
        .args([
            "--secret-file",
            "secret.txt",
            "--previous-secret-file",
            "old.txt",
        ])
        .args(["--callback-url", &rx_old.url(), "--state", "poll.db"])
        .args([
            "--access-token",
            fake_org::ACCESS_TOKEN,
            "--instance-url",
            &p.org.url(),
        ]);
    };
    base(&mut cmd);
    ok(&run(&mut cmd));
    p.advance(30);
    contact(&p, "ada");
    p.advance(150);
    let mut cmd = sfhooks(p.dir.path());
    base(&mut cmd);
    let out = run(&mut cmd);
    ok(&out);
    assert!(rx_old.refused().is_empty());
    let d = rx_old.delivered();
    assert_eq!(
        d.len(),
        1,
        "a receiver that knows only the previous secret accepts it"
    );
    assert_eq!(d[0].signatures, 2);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["window", "delivery", "summary"], "{lines:?}");
    assert_eq!(lines[0]["rows"], 1);
    assert_eq!(lines[1]["status"], "delivered");
    assert_eq!(lines[1]["webhookId"], json!(d[0].id));
    assert_eq!(lines[2]["delivered"], 1);
}

#[test]
fn instance_json_picks_the_mode_and_each_refuses_the_other() {
    let p = setup();
    let instance = |vendor: &str| {
        let path = p.dir.path().join(format!("{vendor}.json"));
        std::fs::write(
            &path,
            json!({"element": {"key": "sfdc"}, "configuration": {"event.vendor.type": vendor,
                "event.objects": "Contact", "event.notification.callback.url": p.rx.url(),
                "event.notification.signature.key": SECRET, "event.poller.refresh_interval": "5"}})
            .to_string(),
        )
        .unwrap();
        path
    };
    let (polling, webhooks) = (instance("polling"), instance("webhooks"));
    let mut cmd = sfhooks(p.dir.path());
    cmd.args([
        "poll",
        "--once",
        "--allow-insecure-http",
        "--state",
        "poll.db",
        "--instance",
    ])
    .arg(&polling)
    .args([
        "--access-token",
        fake_org::ACCESS_TOKEN,
        "--instance-url",
        &p.org.url(),
    ]);
    ok(&run(&mut cmd));
    let out = run(sfhooks(p.dir.path())
        .args(["poll", "--once", "--allow-insecure-http", "--instance"])
        .arg(&webhooks));
    refused(&out, "run `sfhooks generate`");
    let out = run(sfhooks(p.dir.path())
        .args(["generate", "--allow-insecure-http", "--instance"])
        .arg(&polling));
    refused(&out, "run `sfhooks poll`");
}

mod scheme_and_width;
