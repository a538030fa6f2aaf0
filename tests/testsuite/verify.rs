//! `sfhooks verify` and `sfhooks secret` through the real binary: the known-answer
//! vectors, rotation, every exit code, and that no secret ever reaches the output.
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use sfhooks::webhook::{sign, Secret};

use crate::support::receiver::*;
use crate::support::{code, run, sfhooks, stderr, stdout};

/// `sfhooks verify` in `dir` with `SFHOOKS_TEST_SECRET` set to `secret`.
fn verify(dir: &Path, secret: &str) -> Command {
    let mut cmd = sfhooks(dir);
    cmd.arg("verify").env("SFHOOKS_TEST_SECRET", secret);
    cmd
}

/// `sfhooks verify` of `body` signed with the spec secret as `id`, `age` seconds after it was signed.
fn verify_signed_at(id: &str, body: &str, age: i64) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "body.json", body.as_bytes());
    let ts = 1_700_000_000;
    let secret = Secret::parse(SPEC_SECRET).expect("spec secret");
    let signature = sign(&secret, id, ts, body.as_bytes());
    run(verify(dir.path(), SPEC_SECRET).args([
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--id",
        id,
        "--timestamp",
        &ts.to_string(),
        "--signature",
        &signature,
        "--body-file",
        &file,
        "--now",
        &(ts + age).to_string(),
    ]))
}

fn write(dir: &Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write test file");
    path.display().to_string()
}

fn spec_args(body_file: &str) -> Vec<&str> {
    vec![
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--id",
        SPEC_ID,
        "--timestamp",
        SPEC_TIMESTAMP,
        "--signature",
        SPEC_SIGNATURE,
        "--body-file",
        body_file,
    ]
}

/// Runs with `input` on stdin.
fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sfhooks");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("sfhooks output")
}

fn assert_no_secret(out: &Output, secret: &str) {
    let key = secret.trim_start_matches("whsec_");
    for text in [stdout(out), stderr(out)] {
        assert!(!text.contains(key), "secret leaked into output: {text}");
    }
}

#[test]
fn standard_webhooks_spec_vector_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let body = write(dir.path(), "body.json", SPEC_BODY.as_bytes());
    let out = run(verify(dir.path(), SPEC_SECRET)
        .args(spec_args(&body))
        .args(["--now", SPEC_TIMESTAMP]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // A valid signature over a body that is not an sfhooks envelope: still valid, and says so.
    assert!(
        stdout(&out).starts_with("valid: signature ok; body is not an sfhooks envelope"),
        "{}",
        stdout(&out)
    );
    assert_no_secret(&out, SPEC_SECRET);
}

#[test]
fn open_connectors_doc_vector_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let body = write(dir.path(), "body.txt", ELEMENTS_BODY.as_bytes());
    let out = run(verify(dir.path(), ELEMENTS_KEY).args([
        "--signature-scheme",
        "elements",
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--signature",
        ELEMENTS_SIGNATURE,
        "--body-file",
        &body,
    ]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("valid: "));
    assert_no_secret(&out, ELEMENTS_KEY);

    // One byte more in the body and it fails.
    let body = write(
        dir.path(),
        "body2.txt",
        format!("{ELEMENTS_BODY}\n").as_bytes(),
    );
    let out = run(verify(dir.path(), ELEMENTS_KEY).args([
        "--signature-scheme",
        "elements",
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--signature",
        ELEMENTS_SIGNATURE,
        "--body-file",
        &body,
    ]));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no matching signature"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn envelope_is_summarized_on_one_line() {
    let out = verify_signed_at("msg_env", &envelope_body(), 10);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "valid: 2 events (CREATED Contact 0035g00000AbCdEAAV, UPDATED Account 0015g00000XyZzYAAV)\n"
    );
}

#[test]
fn a_gap_envelope_verifies_and_is_summarised() {
    let out = verify_signed_at("msg_gap", &gap_envelope_body(), 0);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "valid: 2 events (DELETED Contact 0035g00000AbCdEAAV, GAP Contact from 2025-01-31T11:59:00.000Z to 2025-01-31T12:00:05.000Z (10200 changes not captured, DML_ROWS))\n"
    );
}

#[test]
fn a_large_envelope_streams_through_and_is_still_summarised() {
    // 8 MiB of record data in one event: hashed block by block, parsed alongside.
    let dir = tempfile::tempdir().unwrap();
    let pad = "x".repeat(8 * 1024 * 1024);
    let body = envelope_body().replace(r#""LastName":"Doe""#, &format!(r#""Description":"{pad}""#));
    let file = write(dir.path(), "big.json", body.as_bytes());
    let key = ElementsKeyArg::new("MySecretEventSignatureKey");
    let signature = key.sign(body.as_bytes());
    let out = run(verify(dir.path(), key.0).args([
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--signature-scheme",
        "elements",
        "--signature",
        &signature,
        "--body-file",
        &file,
    ]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "valid: 2 events (CREATED Contact 0035g00000AbCdEAAV, UPDATED Account 0015g00000XyZzYAAV)\n"
    );
    // One byte changed at the very end is caught.
    let mut tampered = body.into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = b'X';
    let file = write(dir.path(), "big.json", &tampered);
    let out = run(verify(dir.path(), key.0).args([
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--signature-scheme",
        "elements",
        "--signature",
        &signature,
        "--body-file",
        &file,
    ]));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no matching signature"),
        "{}",
        stderr(&out)
    );
}

/// An Open Connectors key for the tests above.
struct ElementsKeyArg(&'static str);

impl ElementsKeyArg {
    fn new(key: &'static str) -> Self {
        ElementsKeyArg(key)
    }

    fn sign(&self, body: &[u8]) -> String {
        sfhooks::webhook::sign_elements(
            &sfhooks::webhook::ElementsKey::new(self.0).expect("key"),
            body,
        )
    }
}

#[test]
fn body_is_read_from_stdin_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = verify(dir.path(), SPEC_SECRET);
    cmd.args([
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--id",
        SPEC_ID,
        "--timestamp",
        SPEC_TIMESTAMP,
        "--signature",
        SPEC_SIGNATURE,
        "--now",
        SPEC_TIMESTAMP,
    ]);
    let out = run_with_stdin(&mut cmd, SPEC_BODY.as_bytes());
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // The same JSON with a trailing newline is a different body: the classic re-serialisation bug.
    let mut cmd = verify(dir.path(), SPEC_SECRET);
    cmd.args(spec_args("-").into_iter().take(8))
        .args(["--now", SPEC_TIMESTAMP]);
    let out = run_with_stdin(&mut cmd, format!("{SPEC_BODY}\n").as_bytes());
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("error: invalid: no matching signature"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: check the body"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rotation_accepts_any_secret_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let body = write(dir.path(), "body.json", SPEC_BODY.as_bytes());
    // File: one per line, blank lines ignored; the matching secret is the second one.
    let secrets = write(
        dir.path(),
        "secrets",
        format!("{OTHER_SECRET}\n\n{SPEC_SECRET}\n").as_bytes(),
    );
    let mut args = spec_args(&body);
    args[0] = "--secret-file";
    args[1] = &secrets;
    let out = run(sfhooks(dir.path())
        .arg("verify")
        .args(&args)
        .args(["--now", SPEC_TIMESTAMP]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Environment: space-separated.
    let out = run(verify(dir.path(), &format!("{OTHER_SECRET} {SPEC_SECRET}"))
        .args(spec_args(&body))
        .args(["--now", SPEC_TIMESTAMP]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Only the other secret: refused, and the message counts what was tried.
    let out = run(verify(dir.path(), OTHER_SECRET)
        .args(spec_args(&body))
        .args(["--now", SPEC_TIMESTAMP]));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("none of the 1 signature(s) matches any of the 1 secret(s)"),
        "{}",
        stderr(&out)
    );
    assert_no_secret(&out, OTHER_SECRET);
}

#[test]
fn stale_and_future_timestamps_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let body = write(dir.path(), "body.json", SPEC_BODY.as_bytes());
    let ts: i64 = SPEC_TIMESTAMP.parse().unwrap();

    // No --now: the real clock says 2022 is long gone.
    let out = run(verify(dir.path(), SPEC_SECRET).args(spec_args(&body)));
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("error: invalid: timestamp too old by"),
        "{err}"
    );
    assert!(
        err.contains("hint: to check a recorded delivery, pass --now"),
        "{err}"
    );

    let out = run(verify(dir.path(), SPEC_SECRET)
        .args(spec_args(&body))
        .args(["--now", &(ts - 301).to_string()]));
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("timestamp too new by 301 s (tolerance 300 s)"),
        "{}",
        stderr(&out)
    );

    // --tolerance widens the window.
    let out = run(verify(dir.path(), SPEC_SECRET)
        .args(spec_args(&body))
        .args(["--now", &(ts + 400).to_string(), "--tolerance", "400"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn malformed_headers_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let body = write(dir.path(), "body.json", SPEC_BODY.as_bytes());
    for (flag, value, expected) in [
        (
            "--signature",
            "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
            "malformed header webhook-signature",
        ),
        ("--timestamp", "1649367553000", "looks like milliseconds"),
        ("--id", "msg 1", "malformed header webhook-id"),
    ] {
        let mut args = spec_args(&body);
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
        let out = run(verify(dir.path(), SPEC_SECRET)
            .args(&args)
            .args(["--now", SPEC_TIMESTAMP]));
        assert_eq!(code(&out), 1, "{flag} {value}");
        assert!(stderr(&out).contains(expected), "{flag}: {}", stderr(&out));
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let body = write(dir.path(), "body.json", SPEC_BODY.as_bytes());

    // Missing --id with the standard scheme.
    let out = run(verify(dir.path(), SPEC_SECRET).args([
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--timestamp",
        SPEC_TIMESTAMP,
        "--signature",
        SPEC_SIGNATURE,
        "--body-file",
        &body,
    ]));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--id and --timestamp are required"),
        "{}",
        stderr(&out)
    );

    // Unreadable body file.
    let missing = dir.path().join("nope.json").display().to_string();
    let out = run(verify(dir.path(), SPEC_SECRET).args(spec_args(&missing)));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read body file"),
        "{}",
        stderr(&out)
    );

    // Empty and unset variables.
    let out = run(verify(dir.path(), "  ").args(spec_args(&body)));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("SFHOOKS_TEST_SECRET is empty"),
        "{}",
        stderr(&out)
    );
    let out = run(sfhooks(dir.path()).arg("verify").args(spec_args(&body)));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("SFHOOKS_TEST_SECRET is not set"),
        "{}",
        stderr(&out)
    );

    // Unreadable secret file.
    let mut args = spec_args(&body);
    args[0] = "--secret-file";
    args[1] = &missing;
    let out = run(sfhooks(dir.path()).arg("verify").args(&args));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read secret file"),
        "{}",
        stderr(&out)
    );

    // Malformed and short secrets, without echoing them.
    let no_prefix = "C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let out = run(verify(dir.path(), no_prefix).args(spec_args(&body)));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("does not start with whsec_"),
        "{}",
        stderr(&out)
    );
    assert_no_secret(&out, no_prefix);
    let short = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([9u8; 16])
    );
    let out = run(verify(dir.path(), &short).args(spec_args(&body)));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("secret key is 16 bytes, at least 24"),
        "{}",
        stderr(&out)
    );
    assert_no_secret(&out, &short);

    // A secret as an argument does not exist (process lists leak arguments), and clap's refusal
    // does not echo the value; both sources at once is refused too.
    for flag in [
        vec!["--secret", SPEC_SECRET],
        vec![&format!("--secret={SPEC_SECRET}")],
    ] {
        let out = run(sfhooks(dir.path())
            .arg("verify")
            .args(&flag)
            .args(&spec_args(&body)[2..]));
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("unexpected argument '--secret"),
            "{}",
            stderr(&out)
        );
        assert_no_secret(&out, SPEC_SECRET);
    }
    let mut args = spec_args(&body);
    args.extend(["--secret-file", "x"]);
    let out = run(verify(dir.path(), SPEC_SECRET).args(&args));
    assert_eq!(code(&out), 2);

    // --id with the elements scheme.
    let out = run(verify(dir.path(), ELEMENTS_KEY)
        .args(spec_args(&body))
        .args(["--signature-scheme", "elements"]));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("do not apply to --signature-scheme elements"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn secret_prints_a_fresh_32_byte_whsec_secret_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(sfhooks(dir.path()).arg("secret"));
    let second = run(sfhooks(dir.path()).arg("secret"));
    assert_eq!(code(&first), 0);
    let secret = stdout(&first).trim_end().to_string();
    assert_ne!(
        secret,
        stdout(&second).trim_end(),
        "two secrets in a row are equal"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64");
    assert_eq!(key.len(), 32);

    // It is usable as is: sign with it, verify with the binary.
    let body = b"{}";
    let signature = sign(&Secret::parse(&secret).unwrap(), "msg_new", 1_000, body);
    let file = write(dir.path(), "body.json", body);
    let out = run(verify(dir.path(), &secret).args([
        "--secret-env",
        "SFHOOKS_TEST_SECRET",
        "--id",
        "msg_new",
        "--timestamp",
        "1000",
        "--signature",
        &signature,
        "--body-file",
        &file,
        "--now",
        "1000",
    ]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
