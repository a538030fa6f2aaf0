//! One rule for the signing secret on both sides: surrounding whitespace is not part of it.
//! `package` writes the secret without it, and `verify` (like `listen`) reads it without it, so a
//! secret file with stray spaces still gives deliveries that verify.
use std::io::{Cursor, Read};
use std::path::Path;

use crate::support::{code, run, sfhooks, stderr};

const RECORD: &str = "customMetadata/Sfhooks_Settings.Default.md";
const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// Builds a package for Contact with `extra` arguments; returns the exit code, stderr and the zip.
fn package(dir: &Path, extra: &[&str], env: Option<&str>) -> (i32, String, Option<Vec<u8>>) {
    let out = dir.join("p.zip");
    let _ = std::fs::remove_file(&out);
    let mut cmd = sfhooks(dir);
    cmd.args([
        "package",
        "--objects",
        "Contact",
        "--callback-url",
        "https://hooks.example.com/salesforce",
        "--out",
    ])
    .arg(&out)
    .args(extra);
    if let Some(value) = env {
        cmd.env("SFHOOKS_SECRET", value);
    }
    let result = run(&mut cmd);
    (code(&result), stderr(&result), std::fs::read(&out).ok())
}

/// The settings record's text inside a zip.
fn record(zip: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("a readable zip");
    let mut entry = archive.by_name(RECORD).expect("the settings record");
    let mut text = String::new();
    entry.read_to_string(&mut text).expect("utf-8 record");
    text
}

fn value_element(secret: &str) -> String {
    format!("<value xsi:type=\"xsd:string\">{secret}</value>")
}

#[test]
fn package_removes_surrounding_whitespace_from_every_source() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let padded = tmp.path().join("padded.txt");
    std::fs::write(&padded, format!("\n  {SPEC_SECRET} \t\r\n\n")).expect("write");
    let plain = tmp.path().join("plain.txt");
    std::fs::write(&plain, format!("{SPEC_SECRET}\n")).expect("write");

    let file = padded.to_str().expect("utf-8 path");
    let (status, err, zip) = package(tmp.path(), &["--secret-file", file], None);
    assert_eq!(status, 0, "{err}");
    let from_padded = zip.expect("zip written");
    assert!(record(&from_padded).contains(&value_element(SPEC_SECRET)));

    let (status, err, zip) = package(
        tmp.path(),
        &["--secret-file", plain.to_str().expect("utf-8 path")],
        None,
    );
    assert_eq!(status, 0, "{err}");
    assert!(
        zip.as_deref() == Some(from_padded.as_slice()),
        "padded and plain files differ"
    );

    let (status, err, zip) = package(tmp.path(), &[], Some(&format!(" {SPEC_SECRET}  ")));
    assert_eq!(status, 0, "{err}");
    assert!(
        zip.as_deref() == Some(from_padded.as_slice()),
        "padded $SFHOOKS_SECRET differs"
    );

    // An Open Connectors key is free-form: inner spaces stay, surrounding ones go. (Before the
    // one rule, `package` kept the trailing spaces while `listen` removed them.)
    let key = tmp.path().join("key.txt");
    std::fs::write(&key, "  my signing key  \n").expect("write");
    let (status, err, zip) = package(
        tmp.path(),
        &[
            "--signature-scheme",
            "elements",
            "--secret-file",
            key.to_str().expect("utf-8 path"),
        ],
        None,
    );
    assert_eq!(status, 0, "{err}");
    assert!(record(&zip.expect("zip written")).contains(&value_element("my signing key")));
}

#[test]
fn a_secret_that_is_only_whitespace_is_refused_and_says_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (status, err, zip) = package(tmp.path(), &[], Some(" \t "));
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("the secret from $SFHOOKS_SECRET is empty (surrounding whitespace is not part of a secret)"),
        "{err}"
    );
    assert!(zip.is_none(), "no zip on a refused secret");
}

#[test]
fn verify_reads_a_padded_secret_file_as_package_wrote_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secrets = tmp.path().join("secrets.txt");
    std::fs::write(&secrets, format!("  {SPEC_SECRET}\t\n")).expect("write");
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    let body_file = tmp.path().join("body.json");
    std::fs::write(&body_file, body).expect("write");
    let secret: sfhooks::webhook::Secret = SPEC_SECRET.parse().expect("spec secret");
    let signature = sfhooks::webhook::sign(&secret, "msg_1", 1_649_367_553, body);
    let result = run(sfhooks(tmp.path())
        .args(["verify", "--secret-file"])
        .arg(&secrets)
        .args([
            "--id",
            "msg_1",
            "--timestamp",
            "1649367553",
            "--now",
            "1649367560",
        ])
        .arg("--signature")
        .arg(&signature)
        .arg("--body-file")
        .arg(&body_file));
    assert_eq!(code(&result), 0, "{}", stderr(&result));
}
