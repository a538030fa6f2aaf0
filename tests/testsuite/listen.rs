//! `sfhooks listen` through real HTTP on 127.0.0.1: valid, tampered, stale, duplicate,
//! oversized, slow client, forward target down, and a clean Ctrl-C.
use std::io::Write as _;

use crate::support::receiver::*;

fn json_headers(secret: &str, id: &str, ts: i64, body: &str) -> Vec<(String, String)> {
    signed_headers(secret, id, ts, body.as_bytes())
}

/// The two lines the listener prints for [`envelope_body`] delivered under `webhook_id`.
fn event_lines(webhook_id: &str) -> Vec<String> {
    vec![
        format!("CREATED Contact 0035g00000AbCdEAAV at 2025-01-31T11:59:58.000Z (event evt-1, webhook-id {webhook_id})"),
        format!("UPDATED Account 0015g00000XyZzYAAV at 2025-01-31T11:59:59.000Z (event evt-2, webhook-id {webhook_id})"),
    ]
}

/// Neither the secret nor its key bytes appear in anything the listener printed.
fn assert_no_secret(lines: &[String], secret: &str) {
    let key = secret.trim_start_matches("whsec_");
    for line in lines {
        assert!(!line.contains(key), "secret leaked: {line}");
    }
}

#[test]
fn valid_delivery_is_acknowledged_and_each_event_printed() {
    let listener = Listener::start(SPEC_SECRET, &[]);
    let body = envelope_body();
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_valid", now(), &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        listener.stdout_line(),
        "CREATED Contact 0035g00000AbCdEAAV at 2025-01-31T11:59:58.000Z (event evt-1, webhook-id msg_valid)"
    );
    assert_eq!(
        listener.stdout_line(),
        "UPDATED Account 0015g00000XyZzYAAV at 2025-01-31T11:59:59.000Z (event evt-2, webhook-id msg_valid)"
    );
    let key = SPEC_SECRET.trim_start_matches("whsec_");
    assert!(listener.stderr_so_far().iter().all(|l| !l.contains(key)));
}

#[test]
fn json_lines_carry_the_event_with_its_ids() {
    let listener = Listener::start(SPEC_SECRET, &["--json"]);
    let body = envelope_body();
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_json", now(), &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let first: serde_json::Value =
        serde_json::from_str(&listener.stdout_line()).expect("a JSON line");
    assert_eq!(first["webhookId"], "msg_json");
    assert_eq!(first["orgId"], "00D5g000004ABCDEAA");
    assert_eq!(first["eventType"], "CREATED");
    assert_eq!(first["record"]["LastName"], "Doe");
    let second: serde_json::Value =
        serde_json::from_str(&listener.stdout_line()).expect("a JSON line");
    assert_eq!(second["changedFields"], serde_json::json!(["Name"]));
}

#[test]
fn tampered_or_wrongly_signed_deliveries_are_401_and_not_printed() {
    let listener = Listener::start(SPEC_SECRET, &[]);
    let body = envelope_body();
    let ts = now();
    let headers = json_headers(SPEC_SECRET, "msg_tampered", ts, &body);

    // The body changed in transit.
    let tampered = body.replace("Doe", "Eve");
    let reply = post(listener.addr, &headers, tampered.as_bytes());
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.body.starts_with("no matching signature"), "{reply:?}");

    // One character of the id, of the timestamp (still fresh), or of the signature changed.
    let signature = &headers[2].1;
    let flipped = |s: &str, at: usize| {
        let mut bytes = s.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ASCII")
    };
    for (field, value) in [
        (0, "msg_tamperee".to_string()),
        (1, (ts - 1).to_string()),
        (2, flipped(signature, 10)),
    ] {
        let mut changed = headers.clone();
        changed[field].1 = value;
        let reply = post(listener.addr, &changed, body.as_bytes());
        assert_eq!(reply.status, 401, "{}: {reply:?}", changed[field].0);
        assert!(reply.body.starts_with("no matching signature"), "{reply:?}");
    }

    // Signed with another secret.
    let reply = post(
        listener.addr,
        &json_headers(OTHER_SECRET, "msg_other", now(), &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");

    // The genuine delivery with the tampered ones' id still goes through: a refused delivery does
    // not burn its id.
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "ok\n");

    // Everything printed, read to the end after exit: the genuine delivery's two events only.
    let exited = listener.interrupt();
    assert_eq!(exited.stdout, event_lines("msg_tampered"));
    assert_eq!(
        exited
            .stderr
            .iter()
            .filter(|l| l.contains(": 401 no matching signature"))
            .count(),
        5,
        "{:?}",
        exited.stderr
    );
    assert_no_secret(&exited.stderr, SPEC_SECRET);
    assert_no_secret(&exited.stderr, OTHER_SECRET);
}

#[test]
fn stale_and_future_timestamps_are_401() {
    let listener = Listener::start(SPEC_SECRET, &["--tolerance", "60"]);
    let body = envelope_body();
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_old", now() - 600, &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.body.starts_with("timestamp too old by"), "{reply:?}");
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_new", now() + 600, &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.body.starts_with("timestamp too new by"), "{reply:?}");
}

#[test]
fn malformed_deliveries_are_400_and_other_methods_405() {
    let listener = Listener::start(SPEC_SECRET, &[]);
    let body = envelope_body();
    let mut headers = json_headers(SPEC_SECRET, "msg_m", now(), &body);
    headers.retain(|(n, _)| n != "webhook-id");
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(
        reply.body.starts_with("missing header webhook-id"),
        "{reply:?}"
    );

    let mut headers = json_headers(SPEC_SECRET, "msg_m", now(), &body);
    headers[2].1 = "sha256=abc".into();
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 400, "{reply:?}");

    // Correctly signed, but not an sfhooks envelope.
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_spec", now(), SPEC_BODY),
        SPEC_BODY.as_bytes(),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(
        reply.body.starts_with("body is not an sfhooks envelope"),
        "{reply:?}"
    );

    let reply = http_request(listener.addr, "GET", &[], b"");
    assert_eq!(reply.status, 405, "{reply:?}");
    assert!(
        reply.head.to_ascii_lowercase().contains("allow: post"),
        "{reply:?}"
    );
}

#[test]
fn duplicate_id_is_acknowledged_but_forwarded_once_with_headers_passed_through() {
    let target = ForwardTarget::start(200);
    let listener = Listener::start(SPEC_SECRET, &["--forward-to", &target.url()]);
    let body = envelope_body();
    let ts = now();
    let headers = json_headers(SPEC_SECRET, "msg_dup", ts, &body);
    // A header the sender names in Connection is for this hop only (RFC 9110 7.6.1).
    let mut first_headers = headers.clone();
    first_headers.push(("Connection".into(), "X-Hop-Only".into()));
    first_headers.push(("X-Hop-Only".into(), "1".into()));
    first_headers.push(("X-End-To-End".into(), "2".into()));
    let first = post(listener.addr, &first_headers, body.as_bytes());
    assert_eq!(first.status, 200, "{first:?}");
    // The same delivery again (a replay, or a retry after a lost answer), and a retry of the same
    // id with a newer timestamp.
    let second = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(second.status, 200, "{second:?}");
    assert!(second.body.starts_with("duplicate"), "{second:?}");
    let retry = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_dup", ts + 1, &body),
        body.as_bytes(),
    );
    assert_eq!(retry.status, 200, "{retry:?}");
    assert!(retry.body.starts_with("duplicate"), "{retry:?}");

    let received = target.requests();
    assert_eq!(received.len(), 1, "forwarded more than once: {received:?}");
    let request = &received[0];
    assert!(
        request.head.starts_with("POST /downstream "),
        "{}",
        request.head
    );
    assert_eq!(
        request.body,
        body.as_bytes(),
        "forwarded body differs from the raw body"
    );
    assert_eq!(request.header("webhook-id").as_deref(), Some("msg_dup"));
    assert_eq!(request.header("webhook-timestamp"), Some(ts.to_string()));
    assert_eq!(
        request.header("webhook-signature").as_deref(),
        Some(headers[2].1.as_str())
    );
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(request.header("x-end-to-end").as_deref(), Some("2"));
    assert_eq!(request.header("x-hop-only"), None, "{}", request.head);
    // Events are printed once, for the accepted delivery only; the repeats are logged.
    let exited = listener.interrupt();
    assert_eq!(exited.stdout, event_lines("msg_dup"));
    assert_eq!(
        exited
            .stderr
            .iter()
            .filter(|l| l.starts_with("duplicate webhook-id msg_dup"))
            .count(),
        2,
        "{:?}",
        exited.stderr
    );
}

#[test]
fn forward_target_down_is_502_and_the_retry_is_not_taken_for_a_duplicate() {
    let down = closed_port_addr();
    // A password in the URL is a credential: it must not reach the sender or the log.
    let url = format!("http://relay:hunter2@{down}/x");
    let listener = Listener::start(SPEC_SECRET, &["--forward-to", &url]);
    let body = envelope_body();
    let headers = json_headers(SPEC_SECRET, "msg_down", now(), &body);
    for attempt in 0..2 {
        let reply = post(listener.addr, &headers, body.as_bytes());
        assert_eq!(reply.status, 502, "attempt {attempt}: {reply:?}");
        assert!(reply.body.contains("unreachable"), "{reply:?}");
        assert!(!reply.body.contains("hunter2"), "{reply:?}");
        assert!(
            reply.body.contains(&format!("http://relay:***@{down}/x")),
            "{reply:?}"
        );
    }
    let exited = listener.interrupt();
    assert!(exited.stdout.is_empty(), "{:?}", exited.stdout);
    // Both attempts were forwarded (and failed): the first did not leave its id behind.
    let refusals: Vec<_> = exited
        .stderr
        .iter()
        .filter(|l| l.contains(": 502 forward target"))
        .collect();
    assert_eq!(refusals.len(), 2, "{:?}", exited.stderr);
    assert!(exited.stderr.iter().all(|l| !l.contains("hunter2")));

    // A target that answers but refuses is a 502 too; the sender's retry, once the target
    // accepts, is forwarded and acknowledged; a repeat after that is not forwarded again.
    let flaky = ForwardTarget::start_with(&[500, 204]);
    let listener = Listener::start(SPEC_SECRET, &["--forward-to", &flaky.url()]);
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 502, "{reply:?}");
    assert!(reply.body.contains("answered 500"), "{reply:?}");
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "ok\n");
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.starts_with("duplicate"), "{reply:?}");
    assert_eq!(flaky.requests().len(), 2);
    assert_eq!(listener.interrupt().stdout, event_lines("msg_down"));
}

#[test]
fn oversized_bodies_are_413_whether_declared_or_chunked() {
    let listener = Listener::start(SPEC_SECRET, &["--max-body", "1024"]);
    let body = "x".repeat(2000);
    let headers = json_headers(SPEC_SECRET, "msg_big", now(), &body);

    // Declared: refused on the Content-Length alone, before the body is read.
    let mut stream = connect(listener.addr);
    write!(
        stream,
        "POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nwebhook-id: msg_big\r\n\r\n"
    )
    .unwrap();
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 413, "{reply:?}");

    // Chunked: refused once the limit is passed.
    let mut stream = connect(listener.addr);
    let mut request =
        String::from("POST /hooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n");
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    for _ in 0..4 {
        request.push_str(&format!("1f4\r\n{}\r\n", &body[..500]));
    }
    request.push_str("0\r\n\r\n");
    // The server may close before reading everything; its answer is what matters.
    let _ = stream.write_all(request.as_bytes());
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(reply.body.contains("--max-body 1024"), "{reply:?}");

    // Just under the limit is read and verified (here: refused as not an envelope, not as too big).
    let small = "y".repeat(1000);
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_small", now(), &small),
        small.as_bytes(),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
}

#[test]
fn slow_clients_are_cut_off_and_others_still_served() {
    let listener = Listener::start(SPEC_SECRET, &["--read-timeout", "1"]);

    // Headers that never finish: the connection is closed.
    let mut stalled_head = connect(listener.addr);
    stalled_head
        .write_all(b"POST /hooks HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Headers complete, body promised but never sent: 408.
    let mut stalled_body = connect(listener.addr);
    stalled_body
        .write_all(b"POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"partial\":")
        .unwrap();

    // The server closes it: end of stream (Ok). Were it left open, the client's own 15 s read
    // timeout would end the read with an error instead.
    let mut rest = Vec::new();
    use std::io::Read as _;
    let closed = stalled_head.read_to_end(&mut rest);
    assert!(closed.is_ok(), "connection not closed: {closed:?}");
    assert!(
        rest.is_empty() || String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408"),
        "unexpected answer to a stalled head: {:?}",
        String::from_utf8_lossy(&rest)
    );
    let reply = read_response(&mut stalled_body);
    assert_eq!(reply.status, 408, "{reply:?}");
    assert!(
        reply.body.starts_with("body not received within 1 s"),
        "{reply:?}"
    );

    let body = envelope_body();
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_after", now(), &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[test]
fn elements_scheme_verifies_the_body_signature() {
    let listener = Listener::start(ELEMENTS_KEY, &["--signature-scheme", "elements"]);
    let body = envelope_body();
    let key = sfhooks::webhook::ElementsKey::new(ELEMENTS_KEY).unwrap();
    let signature = sfhooks::webhook::sign_elements(&key, body.as_bytes());
    let headers = vec![("Elements-Webhook-Signature".to_string(), signature)];
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(listener.stdout_line().ends_with("(event evt-1)"));
    let reply = post(
        listener.addr,
        &headers,
        body.replace("Doe", "Eve").as_bytes(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
    let reply = post(listener.addr, &[], body.as_bytes());
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(
        reply
            .body
            .contains("missing header Elements-Webhook-Signature"),
        "{reply:?}"
    );
}

#[test]
fn ctrl_c_shuts_down_cleanly() {
    let listener = Listener::start(SPEC_SECRET, &[]);
    let body = envelope_body();
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_bye", now(), &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200);
    let exited = listener.interrupt();
    assert_eq!(exited.code, Some(0), "{exited:?}");
    assert!(
        exited.stderr.iter().any(|l| l.starts_with("shutting down")),
        "{exited:?}"
    );
    // The delivery answered before Ctrl-C was printed in full.
    assert_eq!(exited.stdout, event_lines("msg_bye"));
}

#[test]
fn bad_secret_or_forward_url_is_a_usage_error() {
    let dir = std::env::temp_dir();
    let out = crate::support::run(
        crate::support::listen_any_port(&dir).env("SFHOOKS_TEST_SECRET", "whsec_short"),
    );
    assert_eq!(crate::support::code(&out), 2);
    assert!(
        !crate::support::stderr(&out).contains("short"),
        "secret echoed"
    );
    let out = crate::support::run(
        crate::support::listen_any_port(&dir)
            .args(["--forward-to", "ftp://example.com"])
            .env("SFHOOKS_TEST_SECRET", SPEC_SECRET),
    );
    assert_eq!(crate::support::code(&out), 2);
    assert!(crate::support::stderr(&out)
        .contains("not an absolute http://, https://, nats:// or tls:// URL"));
}

#[test]
fn other_orgs_are_403_and_15_or_18_character_ids_both_match() {
    // gap_envelope_body comes from 00D000000000001EAA; envelope_body from another org.
    let listener = Listener::start(
        SPEC_SECRET,
        &[
            "--org-id",
            "00D000000000001",
            "--org-id",
            "00D000000000002EAA",
        ],
    );
    let gap = gap_envelope_body();
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_org_ok", now(), &gap),
        gap.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    // The GAP event is printed like any other, with its range.
    assert_eq!(
        listener.stdout_line(),
        "DELETED Contact 0035g00000AbCdEAAV at 2025-01-31T11:59:58.000Z (event evt-9, webhook-id msg_org_ok)"
    );
    assert_eq!(
        listener.stdout_line(),
        "GAP Contact from 2025-01-31T11:59:00.000Z to 2025-01-31T12:00:05.000Z (10200 changes not captured, DML_ROWS) at 2025-01-31T12:00:05.000Z (event gap-1, webhook-id msg_org_ok)"
    );
    let other = envelope_body();
    let reply = post(
        listener.addr,
        &json_headers(SPEC_SECRET, "msg_org_other", now(), &other),
        other.as_bytes(),
    );
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        reply
            .body
            .contains("org \"00D5g000004ABCDEAA\" is not accepted here (--org-id)"),
        "{reply:?}"
    );
    // Refused, so not remembered: once the org is accepted, the sender's retry goes through.
    let exited = listener.interrupt();
    assert!(exited.stdout.is_empty(), "{:?}", exited.stdout);
    assert!(
        exited.stderr.iter().any(|l| l.contains(": 403 org")),
        "{:?}",
        exited.stderr
    );

    // A malformed --org-id is a usage error naming the fix.
    let dir = std::env::temp_dir();
    let out = crate::support::run(
        crate::support::listen_any_port(&dir)
            .args(["--org-id", "00D000000000001AAA"])
            .env("SFHOOKS_TEST_SECRET", SPEC_SECRET),
    );
    assert_eq!(crate::support::code(&out), 2);
    assert!(
        crate::support::stderr(&out).contains("wrong 18-character suffix (expected EAA)"),
        "{}",
        crate::support::stderr(&out)
    );
}

#[test]
fn healthz_answers_200_without_a_nats_target() {
    let listener = Listener::start(SPEC_SECRET, &[]);
    let reply = get(listener.addr, "/healthz");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "ok\n");
    // Any other GET is still refused.
    assert_eq!(get(listener.addr, "/hooks").status, 405);
}
