//! `sfhooks listen --forward-to nats://` against a real `nats-server -js` on 127.0.0.1: publish and
//! acknowledgement, one copy in the stream from two listeners, 503 while NATS is down and exactly
//! one copy once it is back, per-event subjects and ids, refused duplicate windows, and no
//! credential in any log.
use std::time::{Duration, Instant};

use crate::support::nats::{forward_flags, NatsServer};
use crate::support::receiver::*;
use crate::support::{code, listen_any_port, run, stderr};

/// The org id of [`envelope_body`], as a subject token.
const ORG: &str = "00D5g000004ABCDEAA";
const STREAM: &str = "SFHOOKS";

fn headers(id: &str, body: &str) -> Vec<(String, String)> {
    signed_headers(SPEC_SECRET, id, now(), body.as_bytes())
}

/// A listener forwarding to `nats` and creating the stream, with `extra` flags.
fn listener(nats: &NatsServer, extra: &[&str]) -> Listener {
    let url = nats.url();
    let mut args = forward_flags(&url, STREAM);
    args.extend_from_slice(extra);
    Listener::start(SPEC_SECRET, &args)
}

/// Polls `/healthz` until it answers `status` (at most 20 s).
fn wait_health(listener: &Listener, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = get(listener.addr, "/healthz");
        if reply.status == status {
            return;
        }
        assert!(Instant::now() < deadline, "healthz still {reply:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_delivery_is_answered_2xx_once_jetstream_acknowledged_it_byte_for_byte() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let listener = listener(&nats, &[]);
    assert!(
        listener.startup.iter().any(|l| l.contains(&format!(
            "stream {STREAM} (created, duplicate window 24h, 0 message(s))"
        ))),
        "{:?}",
        listener.startup
    );
    assert_eq!(get(listener.addr, "/healthz").status, 200);
    let body = envelope_body();
    let sent = headers("msg_nats_1", &body);
    let reply = post(listener.addr, &sent, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "ok\n");

    let messages = nats.messages(STREAM);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m.subject, format!("sfhooks.deliveries.{ORG}"));
    assert_eq!(m.payload, body.as_bytes(), "the exact signed bytes");
    assert_eq!(m.msg_id.as_deref(), Some("msg_nats_1"), "{:?}", m.headers);
    assert_eq!(m.webhook_id.as_deref(), Some("msg_nats_1"));
    assert_eq!(m.webhook_timestamp.as_deref(), Some(sent[1].1.as_str()));
    assert_eq!(m.header("sfhooks-org-id"), Some(ORG));
    assert_eq!(m.header("sfhooks-event-count"), Some("2"));
    assert_eq!(m.header("sfhooks-object-types"), Some("Contact,Account"));
    // The stream file storage and window are what was asked.
    let (storage, window) = nats.with_js(async |js| {
        let mut stream = js.get_stream(STREAM).await.expect("stream");
        let config = stream.info().await.expect("info").config.clone();
        (config.storage, config.duplicate_window)
    });
    assert_eq!(storage, async_nats::jetstream::stream::StorageType::File);
    assert_eq!(window, Duration::from_secs(86_400));
    // The events were printed as without forwarding.
    assert!(listener.stdout_line().starts_with("CREATED Contact"));
}

#[test]
fn the_same_delivery_through_two_listeners_lands_once() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let first = listener(&nats, &[]);
    let second = listener(&nats, &[]);
    assert!(
        second
            .startup
            .iter()
            .any(|l| l.contains("(exists, duplicate window 24h")),
        "{:?}",
        second.startup
    );
    let body = envelope_body();
    // The sender's retry (new timestamp, same id) reaches the other replica.
    let reply = post(first.addr, &headers("msg_twice", &body), body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = post(second.addr, &headers("msg_twice", &body), body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body,
        "duplicate: this delivery is already in the stream\n"
    );
    // And again on the second: its own memory now knows the id.
    let reply = post(second.addr, &headers("msg_twice", &body), body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.starts_with("duplicate"), "{reply:?}");

    let messages = nats.messages(STREAM);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].msg_id.as_deref(), Some("msg_twice"));
    let exited = second.interrupt();
    assert!(exited.stdout.is_empty(), "{:?}", exited.stdout);
    assert!(
        exited
            .stderr
            .iter()
            .any(|l| l
                == "JetStream: 0 stored, 1 already in the stream (acknowledged as duplicates)"),
        "{:?}",
        exited.stderr
    );
    assert_eq!(first.interrupt().code, Some(0));
}

#[test]
fn nats_down_is_503_with_retry_after_and_the_retry_lands_exactly_once() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let listener = listener(&nats, &[]);
    let body = envelope_body();
    let reply = post(
        listener.addr,
        &headers("msg_before", &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");

    nats.stop();
    wait_health(&listener, 503);
    let retry = headers("msg_during", &body);
    let reply = post(listener.addr, &retry, body.as_bytes());
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        reply.head.to_ascii_lowercase().contains("retry-after: 30"),
        "{reply:?}"
    );
    assert!(reply.body.contains("unreachable"), "{reply:?}");

    nats.restart();
    wait_health(&listener, 200);
    // The sender's retry: same id, a fresh timestamp.
    let reply = post(
        listener.addr,
        &headers("msg_during", &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "ok\n");
    let reply = post(
        listener.addr,
        &headers("msg_during", &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.starts_with("duplicate"), "{reply:?}");

    let ids: Vec<_> = nats
        .messages(STREAM)
        .into_iter()
        .map(|m| m.msg_id.unwrap_or_default())
        .collect();
    assert_eq!(
        ids,
        ["msg_before", "msg_during"],
        "nothing lost, nothing twice"
    );
    let exited = listener.interrupt();
    assert!(
        exited
            .stderr
            .iter()
            .any(|l| l.contains(": 503 NATS at nats://")),
        "{:?}",
        exited.stderr
    );
}

#[test]
fn per_event_publishes_each_event_on_its_subject_with_its_event_id() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let listener = listener(&nats, &["--per-event"]);
    let body = r#"{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z","data":{"orgId":"00D000000000001","events":[{"eventId":"evt-a","eventType":"CREATED","objectType":"Contact","objectId":"0035g00000AbCdEAAV","occurredAt":"2025-01-31T11:59:58.000Z","record":{"LastName":"Doe"}},{"eventId":"evt-b","eventType":"DELETED","objectType":"odd.Type*","objectId":"a005g00000XyZzYAAV","occurredAt":"2025-01-31T11:59:59.000Z"},{"eventId":"gap-c","eventType":"GAP","objectType":"Contact","occurredAt":"2025-01-31T12:00:00.000Z","gap":{"from":"2025-01-31T11:00:00.000Z","to":"2025-01-31T12:00:00.000Z","count":null,"reason":"SOMETHING_NEW"}}]}}"#;
    let reply = post(listener.addr, &headers("msg_events", body), body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    // A retry of the same delivery stores nothing more.
    let reply = post(listener.addr, &headers("msg_events", body), body.as_bytes());
    assert!(reply.body.starts_with("duplicate"), "{reply:?}");

    let messages = nats.messages(STREAM);
    let seen: Vec<_> = messages
        .iter()
        .map(|m| (m.subject.as_str(), m.msg_id.as_deref().unwrap_or("")))
        .collect();
    // The 15-character org id is published under its 18-character form.
    assert_eq!(
        seen,
        [
            ("sfhooks.events.00D000000000001EAA.Contact.CREATED", "evt-a"),
            (
                "sfhooks.events.00D000000000001EAA.odd%2EType%2A.DELETED",
                "evt-b"
            ),
            ("sfhooks.events.00D000000000001EAA.Contact.GAP", "gap-c"),
        ]
    );
    let created: serde_json::Value = serde_json::from_slice(&messages[0].payload).expect("JSON");
    assert_eq!(created["eventId"], "evt-a");
    assert_eq!(created["record"]["LastName"], "Doe");
    assert_eq!(
        messages[0].header("sfhooks-object-id"),
        Some("0035g00000AbCdEAAV")
    );
    assert_eq!(messages[0].header("sfhooks-event-type"), Some("CREATED"));
    assert_eq!(messages[0].webhook_id.as_deref(), Some("msg_events"));
    let gap: serde_json::Value = serde_json::from_slice(&messages[2].payload).expect("JSON");
    assert_eq!(gap["gap"]["reason"], "SOMETHING_NEW");
    assert_eq!(gap["gap"]["count"], serde_json::Value::Null);
    assert!(gap.get("objectId").is_none(), "{gap}");
    assert_eq!(messages[2].header("sfhooks-object-id"), None);
    assert_eq!(messages[2].header("sfhooks-object-type"), Some("Contact"));
}

#[test]
fn a_duplicate_window_shorter_than_the_tolerance_is_refused_naming_it() {
    // Refused before connecting: no server needed.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", "nats://127.0.0.1:1", "--nats-stream", "S"])
        .args(["--nats-duplicate-window", "60s"])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("stream S: duplicate window 1m is shorter than the signature tolerance 5m"),
        "{}",
        stderr(&out)
    );
    // A window longer than the max age: JetStream would refuse it, so sfhooks says so first.
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", "nats://127.0.0.1:1", "--nats-stream", "S"])
        .args(["--nats-max-age", "1h"])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "duplicate window 24h is longer than the stream's max age 1h, which JetStream refuses"
        ),
        "{}",
        stderr(&out)
    );

    // An existing stream with a short window.
    let Some(nats) = NatsServer::start() else {
        return;
    };
    nats.create_stream("SHORT", Duration::from_secs(30));
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &nats.url(), "--nats-stream", "SHORT"])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "stream SHORT: duplicate window 30s is shorter than the signature tolerance 5m"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn credentials_never_reach_a_log_or_an_answer() {
    let password = "pa55-w0rd-not-for-logs";
    let Some(nats) = NatsServer::start_with(&["--user", "svc", "--pass", password]) else {
        return;
    };
    // In the URL: refused, and not echoed.
    let dir = tempfile::tempdir().expect("temp dir");
    let with_password = format!("nats://svc:{password}@{}", nats.addr);
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &with_password])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("carries credentials"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(password), "{}", stderr(&out));

    // A wrong password: an authentication failure (3), the attempted password not shown.
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &nats.url(), "--nats-user", "svc"])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET)
        .env("SFHOOKS_NATS_PASSWORD", "wrong-guess-not-for-logs"));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-guess"), "{}", stderr(&out));

    // A user without its password in the environment: a usage error that names the variable.
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &nats.url(), "--nats-user", "svc"])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("$SFHOOKS_NATS_PASSWORD"),
        "{}",
        stderr(&out)
    );

    // The right password works, and nothing the listener prints contains it.
    let url = nats.url();
    let listener = Listener::start_with_env(
        SPEC_SECRET,
        &[
            "--forward-to",
            &url,
            "--nats-user",
            "svc",
            "--nats-stream",
            STREAM,
        ],
        &[("SFHOOKS_NATS_PASSWORD", password)],
    );
    let body = envelope_body();
    let reply = post(listener.addr, &headers("msg_auth", &body), body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(!reply.head.contains(password) && !reply.body.contains(password));
    assert_eq!(nats.messages(STREAM).len(), 1);
    let startup = listener.startup.clone();
    let exited = listener.interrupt();
    for line in startup.iter().chain(&exited.stderr).chain(&exited.stdout) {
        assert!(!line.contains(password), "password leaked: {line}");
    }
}

#[test]
fn nats_flags_without_a_nats_target_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", "http://127.0.0.1:9/x", "--per-event"])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--per-event applies to --forward-to nats://"),
        "{}",
        stderr(&out)
    );
    // NATS not running at start-up: exit 1 with a hint, before listening.
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &format!("nats://{}", closed_port_addr())])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("is unreachable"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("hint: start the NATS server"),
        "{}",
        stderr(&out)
    );
}
