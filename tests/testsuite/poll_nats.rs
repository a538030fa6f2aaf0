//! `sfhooks poll --forward-to nats://`: the poller publishes into a real
//! `nats-server -js` on 127.0.0.1 with the subjects, ids and headers of `listen --forward-to`,
//! against the fake org. Skipped when no server binary is found (CI installs one).
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::fake_org::{self, FakeOrg};
use crate::support::fake_records::t0;
use crate::support::fake_rest::ORG_ID;
use crate::support::nats::{NatsServer, StoredMessage};
use crate::support::{code, run, sfhooks, stderr, stdout};

const STREAM: &str = "SFHOOKS_POLL";
const NATS_PASSWORD: &str = "n4ts-pa55word-never-logged";

struct Setup {
    org: FakeOrg,
    nats: NatsServer,
    dir: TempDir,
}

fn setup_with(server_flags: &[&str]) -> Option<Setup> {
    let nats = NatsServer::start_with(server_flags)?;
    let org = FakeOrg::start();
    org.with_rest(|r| {
        r.set_clock(Some(t0()));
        r.define_object("Contact", &[("Email", "email"), ("LastName", "string")]);
    });
    let dir = tempfile::tempdir().expect("a temporary folder");
    Some(Setup { org, nats, dir })
}

fn setup() -> Option<Setup> {
    setup_with(&[])
}

impl Setup {
    /// `sfhooks poll --once` into this test's NATS, with no callback URL and no secret.
    fn cmd(&self, state: &str, extra: &[&str]) -> Command {
        let mut cmd = sfhooks(self.dir.path());
        cmd.args(["poll", "--once", "--objects", "Contact"])
            .args(["--access-token", fake_org::ACCESS_TOKEN])
            .args(["--instance-url", &self.org.url()])
            .args(["--state", state, "--retry-delay", "0s"])
            .args(["--forward-to", &self.nats.url(), "--nats-ack-timeout", "2"])
            .args(extra);
        cmd
    }

    fn once(&self, state: &str, extra: &[&str]) -> Output {
        let out = run(&mut self.cmd(state, extra));
        let text = text(&out);
        assert!(!text.contains(fake_org::ACCESS_TOKEN), "{text}");
        out
    }

    fn advance(&self, secs: u64) {
        self.org.with_rest(|r| r.advance(Duration::from_secs(secs)));
    }

    fn contact(&self, name: &str) -> String {
        self.org.with_rest(|r| {
            r.create(
                "Contact",
                json!({"LastName": name, "Email": format!("{name}@example.com")}),
            )
        })
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

fn ok(out: &Output) {
    assert_eq!(code(out), 0, "{}", text(out));
}

fn events_of(message: &StoredMessage) -> Vec<Value> {
    let body: Value = serde_json::from_slice(&message.payload).expect("the payload is JSON");
    body["data"]["events"]
        .as_array()
        .expect("an envelope with events")
        .clone()
}

#[test]
fn deliveries_land_in_jetstream_with_the_listeners_subject_id_and_bytes() {
    let Some(s) = setup() else { return };
    let first = s.once("poll.db", &["--nats-stream", STREAM]);
    ok(&first);
    assert!(
        stderr(&first).contains(&format!("stream {STREAM} (created, duplicate window 24h")),
        "{}",
        stderr(&first)
    );
    s.advance(30);
    let id = s.contact("ada");
    s.advance(150);
    let out = s.once("poll.db", &["--nats-stream", STREAM]);
    ok(&out);
    assert!(
        text(&out).contains("acknowledged by JetStream"),
        "{}",
        text(&out)
    );
    let messages = s.nats.messages(STREAM);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m.subject, format!("sfhooks.deliveries.{ORG_ID}"));
    assert!(
        m.msg_id.as_deref().is_some_and(|i| i.starts_with("msg_")),
        "{m:?}"
    );
    assert_eq!(m.msg_id, m.webhook_id, "Nats-Msg-Id is the webhook-id");
    assert!(m.webhook_timestamp.is_some(), "{m:?}");
    assert_eq!(
        m.header("sfhooks-event-count"),
        Some("1"),
        "{:?}",
        m.headers
    );
    let events = events_of(m);
    assert_eq!(events[0]["eventType"], "CREATED");
    assert_eq!(events[0]["objectId"], id.as_str());
    // The payload is the envelope the poller stored: the same bytes it would have POSTed.
    let body: Value = serde_json::from_slice(&m.payload).expect("json");
    assert_eq!(body["data"]["orgId"], ORG_ID);
    // Nothing is left to send.
    let again = s.once("poll.db", &[]);
    ok(&again);
    assert_eq!(s.nats.messages(STREAM).len(), 1);
}

#[test]
fn two_pollers_of_one_org_store_each_change_once() {
    let Some(s) = setup() else { return };
    ok(&s.once("a.db", &["--nats-stream", STREAM]));
    ok(&s.once("b.db", &[]));
    s.advance(30);
    s.contact("ada");
    s.contact("grace");
    s.advance(150);
    ok(&s.once("a.db", &[]));
    let second = s.once("b.db", &[]);
    ok(&second);
    assert!(
        stderr(&second).contains("1 of them JetStream had already"),
        "{}",
        stderr(&second)
    );
    let messages = s.nats.messages(STREAM);
    assert_eq!(
        messages.len(),
        1,
        "the ids are derived from content: {messages:?}"
    );
    assert_eq!(events_of(&messages[0]).len(), 2);
}

#[test]
fn per_event_publishes_each_event_on_its_subject_with_its_event_id() {
    let Some(s) = setup() else { return };
    let flags = ["--nats-stream", STREAM, "--per-event"];
    ok(&s.once("poll.db", &flags));
    s.advance(30);
    let ada = s.contact("ada");
    let grace = s.contact("grace");
    s.advance(150);
    ok(&s.once("poll.db", &flags));
    let messages = s.nats.messages(STREAM);
    assert_eq!(messages.len(), 2, "{messages:?}");
    let mut ids = Vec::new();
    for m in &messages {
        assert_eq!(
            m.subject,
            format!("sfhooks.events.{ORG_ID}.Contact.CREATED")
        );
        let event: Value = serde_json::from_slice(&m.payload).expect("an event");
        assert_eq!(m.msg_id.as_deref(), event["eventId"].as_str(), "{m:?}");
        assert_eq!(m.header("sfhooks-object-id"), event["objectId"].as_str());
        ids.push(event["objectId"].as_str().expect("id").to_owned());
    }
    ids.sort();
    let mut want = vec![ada, grace];
    want.sort();
    assert_eq!(ids, want);
}

#[test]
fn a_delivery_no_stream_captures_is_retried_and_lands_once_when_one_does() {
    let Some(s) = setup() else { return };
    ok(&s.once("poll.db", &[]));
    s.advance(30);
    s.contact("ada");
    s.advance(150);
    let failed = s.once("poll.db", &[]);
    assert_eq!(code(&failed), 1, "{}", text(&failed));
    assert!(
        text(&failed).contains("no JetStream stream captures sfhooks.deliveries."),
        "{}",
        text(&failed)
    );
    // The delivery waits in the state, with its id and bytes.
    let status =
        run(sfhooks(s.dir.path()).args(["poll", "status", "--state", "poll.db", "--json"]));
    ok(&status);
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(status["orgs"][0]["retrying"], 1, "{status}");
    s.nats.create_stream(STREAM, Duration::from_secs(3600));
    ok(&s.once("poll.db", &[]));
    ok(&s.once("poll.db", &[]));
    let messages = s.nats.messages(STREAM);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(events_of(&messages[0])[0]["eventType"], "CREATED");
}

#[test]
fn an_unreachable_server_stops_the_run_before_anything_is_read() {
    let Some(mut s) = setup() else { return };
    s.nats.stop();
    let out = s.once("poll.db", &[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("start the NATS server"),
        "{}",
        text(&out)
    );
    assert!(
        s.org.with_rest(|r| r.poll_queries()).is_empty(),
        "no query before JetStream is there"
    );
}

#[test]
fn user_and_password_come_from_the_environment_and_never_reach_a_log() {
    let Some(s) = setup_with(&["--user", "sfhooks", "--pass", NATS_PASSWORD]) else {
        return;
    };
    let flags = ["--nats-user", "sfhooks", "--nats-stream", STREAM];
    let out = run(s
        .cmd("poll.db", &flags)
        .env("SFHOOKS_NATS_PASSWORD", NATS_PASSWORD));
    ok(&out);
    assert!(!text(&out).contains(NATS_PASSWORD), "{}", text(&out));
    let wrong = run(s
        .cmd("poll.db", &flags)
        .env("SFHOOKS_NATS_PASSWORD", "not-the-password"));
    assert_eq!(code(&wrong), 3, "{}", text(&wrong));
    assert!(
        !text(&wrong).contains("not-the-password"),
        "{}",
        text(&wrong)
    );
    let missing = run(&mut s.cmd("poll.db", &flags));
    assert_eq!(code(&missing), 2, "{}", text(&missing));
    assert!(
        stderr(&missing).contains("SFHOOKS_NATS_PASSWORD"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn bad_forwarding_flags_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let poll = |extra: &[&str]| {
        run(sfhooks(dir.path())
            .args([
                "poll",
                "--once",
                "--objects",
                "Contact",
                "--state",
                "poll.db",
            ])
            .args([
                "--access-token",
                "t",
                "--instance-url",
                "https://x.my.salesforce.com",
            ])
            .args(extra))
    };
    let cases: [(&[&str], &str); 5] = [
        (
            &["--forward-to", "https://hooks.example.com/x"],
            "deliveries to an HTTP receiver go to --callback-url",
        ),
        (
            &["--nats-stream", "S"],
            "--nats-stream applies to --forward-to nats://",
        ),
        (
            &[
                "--forward-to",
                "nats://127.0.0.1:1",
                "--nats-stream",
                "S",
                "--nats-duplicate-window",
                "1m",
            ],
            "duplicate window",
        ),
        (
            &["--forward-to", "nats://u:secret@127.0.0.1:1"],
            "carries credentials",
        ),
        (&[], "no callback URL"),
    ];
    for (extra, want) in cases {
        let out = poll(extra);
        assert_eq!(code(&out), 2, "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{extra:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("secret@"), "{}", stderr(&out));
        assert!(
            !dir.path().join("poll.db").exists(),
            "{extra:?} wrote a state"
        );
    }
}

#[test]
fn a_token_from_the_environment_authenticates_and_never_reaches_a_log() {
    const TOKEN: &str = "t0ken-never-logged";
    let Some(s) = setup_with(&["--auth", TOKEN]) else {
        return;
    };
    let flags = ["--nats-stream", STREAM];
    let out = run(s.cmd("poll.db", &flags).env("SFHOOKS_NATS_TOKEN", TOKEN));
    ok(&out);
    assert!(
        stderr(&out).contains(&format!("stream {STREAM} (created")),
        "{}",
        stderr(&out)
    );
    assert!(!text(&out).contains(TOKEN), "{}", text(&out));
    let wrong = run(s
        .cmd("poll.db", &flags)
        .env("SFHOOKS_NATS_TOKEN", "not-the-t0ken"));
    assert_eq!(code(&wrong), 3, "{}", text(&wrong));
    assert!(!text(&wrong).contains("not-the-t0ken"), "{}", text(&wrong));
}
