//! `sfhooks listen` through real HTTP on 127.0.0.1 (issue 5): valid, tampered, stale, duplicate,
//! oversized, slow client, forward target down, and a clean Ctrl-C.
use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::support::receiver::*;

fn json_headers(secret: &str, id: &str, ts: i64, body: &str) -> Vec<(String, String)> {
    signed_headers(secret, id, ts, body.as_bytes())
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
    let headers = json_headers(SPEC_SECRET, "msg_tampered", now(), &body);
    let tampered = body.replace("Doe", "Eve");
    let reply = post(listener.addr, &headers, tampered.as_bytes());
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.body.starts_with("no matching signature"), "{reply:?}");

    let reply = post(
        listener.addr,
        &json_headers(OTHER_SECRET, "msg_other", now(), &body),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");

    // The genuine delivery with the tampered one's id still goes through: a refused delivery does
    // not burn its id.
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    // Two events, printed once: nothing came from the refused deliveries.
    assert!(listener.stdout_line().starts_with("CREATED Contact"));
    assert!(listener.stdout_line().starts_with("UPDATED Account"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(listener.stdout_so_far().is_empty());
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
    let first = post(listener.addr, &headers, body.as_bytes());
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
    // Events are printed once, for the accepted delivery only.
    assert!(listener.stdout_line().starts_with("CREATED"));
    assert!(listener.stdout_line().starts_with("UPDATED"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(listener.stdout_so_far().is_empty());
}

#[test]
fn forward_target_down_is_502_and_the_retry_is_not_taken_for_a_duplicate() {
    let down = closed_port_addr();
    let listener = Listener::start(SPEC_SECRET, &["--forward-to", &format!("http://{down}/x")]);
    let body = envelope_body();
    let headers = json_headers(SPEC_SECRET, "msg_down", now(), &body);
    for attempt in 0..2 {
        let reply = post(listener.addr, &headers, body.as_bytes());
        assert_eq!(reply.status, 502, "attempt {attempt}: {reply:?}");
        assert!(reply.body.contains("unreachable"), "{reply:?}");
    }
    assert!(listener.stdout_so_far().is_empty());

    // A target that answers but refuses is a 502 too.
    let refusing = ForwardTarget::start(500);
    let listener = Listener::start(SPEC_SECRET, &["--forward-to", &refusing.url()]);
    let reply = post(listener.addr, &headers, body.as_bytes());
    assert_eq!(reply.status, 502, "{reply:?}");
    assert!(reply.body.contains("answered 500"), "{reply:?}");
    assert_eq!(refusing.requests().len(), 1);
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

    let started = Instant::now();
    let mut rest = Vec::new();
    use std::io::Read as _;
    let closed = stalled_head.read_to_end(&mut rest);
    assert!(closed.is_ok(), "connection not closed: {closed:?}");
    // The client's own read timeout is 15 s; being closed well before it is the point.
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "header timeout did not fire"
    );
    let reply = read_response(&mut stalled_body);
    assert_eq!(reply.status, 408, "{reply:?}");

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
    let (code, stderr) = listener.interrupt();
    assert_eq!(code, Some(0), "{stderr:?}");
    assert!(
        stderr.iter().any(|l| l.starts_with("shutting down")),
        "{stderr:?}"
    );
}

#[test]
fn bad_secret_or_forward_url_is_a_usage_error() {
    let dir = std::env::temp_dir();
    let out = crate::support::run(
        crate::support::sfhooks(&dir)
            .args([
                "listen",
                "--port",
                "0",
                "--secret-env",
                "SFHOOKS_TEST_SECRET",
            ])
            .env("SFHOOKS_TEST_SECRET", "whsec_short"),
    );
    assert_eq!(crate::support::code(&out), 2);
    assert!(
        !crate::support::stderr(&out).contains("short"),
        "secret echoed"
    );
    let out = crate::support::run(
        crate::support::sfhooks(&dir)
            .args([
                "listen",
                "--port",
                "0",
                "--secret-env",
                "SFHOOKS_TEST_SECRET",
            ])
            .args(["--forward-to", "ftp://example.com"])
            .env("SFHOOKS_TEST_SECRET", SPEC_SECRET),
    );
    assert_eq!(crate::support::code(&out), 2);
    assert!(crate::support::stderr(&out).contains("not an absolute http:// or https:// URL"));
}
