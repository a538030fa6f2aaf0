//! `sfhooks deploy` against the fake org: every flow through the real binary, checking
//! stdout, stderr, the exit code, and what the org received.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod auth;
mod jobs;
mod production;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::support::fake_org::{self, FakeOrg, Poll, Script};
use crate::support::{code, run, stderr, stdout};

const PACKAGE_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
    <types>
        <members>SfhooksDispatcher</members>
        <members>SfhooksDispatcherTest</members>
        <name>ApexClass</name>
    </types>
    <version>63.0</version>
</Package>
"#;
const CLASS_META: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>63.0</apiVersion>
    <status>Active</status>
</ApexClass>
"#;
const DISPATCHER: &str =
    "public with sharing class SfhooksDispatcher {\n    public static Integer sent = 0;\n}\n";
const DISPATCHER_TEST: &str = "@IsTest\nprivate class SfhooksDispatcherTest {\n    @IsTest static void sends() {\n        System.assertEquals(0, SfhooksDispatcher.sent);\n    }\n}\n";
const COVERAGE_WARNING: &str = "Average test coverage across all Apex Classes and Triggers is 25%, at least 75% test coverage is required.";

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry starts");
        w.write_all(body.as_bytes()).expect("zip entry written");
    }
    w.finish().expect("zip finished").into_inner()
}

/// package.xml, one class and its `@IsTest` test class.
fn sample_zip() -> Vec<u8> {
    zip_of(&[
        ("package.xml", PACKAGE_XML),
        ("classes/SfhooksDispatcher.cls", DISPATCHER),
        ("classes/SfhooksDispatcher.cls-meta.xml", CLASS_META),
        ("classes/SfhooksDispatcherTest.cls", DISPATCHER_TEST),
        ("classes/SfhooksDispatcherTest.cls-meta.xml", CLASS_META),
    ])
}

/// A temp folder holding a zip, and the org.
struct World {
    org: FakeOrg,
    dir: tempfile::TempDir,
    zip: PathBuf,
}

impl World {
    fn new() -> Self {
        Self::with(FakeOrg::start(), &sample_zip())
    }

    fn with(org: FakeOrg, zip: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sfhooks.zip");
        std::fs::write(&path, zip).expect("zip written");
        World {
            org,
            dir,
            zip: path,
        }
    }

    /// `sfhooks deploy ARGS`, fast polling, nothing from the developer's environment.
    fn deploy(&self, args: &[&str]) -> Command {
        let mut cmd = crate::support::sfhooks(self.dir.path());
        cmd.env("SFHOOKS_POLL_MS", "2").arg("deploy").args(args);
        cmd
    }

    /// `sfhooks deploy ARGS` signed in with the fake org's static access token.
    fn deploy_signed_in(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy(args);
        cmd.args(self.org.access_token_args());
        cmd
    }

    /// `deploy ARGS --zip sfhooks.zip` signed in with an SFDX auth URL holding the fake org's
    /// refresh token, so an expired session can be renewed.
    fn deploy_with_refresh_token(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy(args);
        cmd.arg("--zip").arg(&self.zip).env(
            "SFDX_AUTH_URL",
            self.org.sfdx_auth_url(fake_org::REFRESH_TOKEN),
        );
        cmd
    }

    /// `deploy ARGS --access-token … --instance-url … --zip sfhooks.zip`.
    fn deploy_with_token(&self, args: &[&str]) -> Command {
        let mut cmd = self.deploy_signed_in(args);
        cmd.arg("--zip").arg(&self.zip);
        cmd
    }

    fn key(&self, name: &str) -> PathBuf {
        crate::support::repo_root()
            .join("fixtures/deploy")
            .join(name)
    }
}

/// The session id each `checkDeployStatus` carried, in order.
fn poll_sessions(org: &FakeOrg) -> Vec<Option<String>> {
    org.received_for("checkDeployStatus")
        .into_iter()
        .map(|r| r.session_id)
        .collect()
}

fn options_of(org: &FakeOrg) -> Vec<(String, String)> {
    let deploys = org.deploys();
    assert_eq!(deploys.len(), 1, "one deploy request");
    deploys[0].options.clone()
}

/// The one deploy request ran at `level` and named no tests.
fn assert_test_level_without_named_tests(org: &FakeOrg, level: &str) {
    let options = options_of(org);
    assert!(
        options.contains(&("testLevel".into(), level.into())),
        "{options:?}"
    );
    assert!(!options.iter().any(|(k, _)| k == "runTests"), "{options:?}");
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The job id on the verdict line, e.g. `deploy 0Af000000000000001 succeeded: …`.
fn job_id_in(out: &str, noun: &str) -> String {
    let start = out
        .find(&format!("{noun} 0Af"))
        .unwrap_or_else(|| panic!("no `{noun} 0Af…` in {out}"))
        + noun.len()
        + 1;
    out[start..start + 18].to_string()
}

/// Checks the exit code, and that no secret reached stdout or stderr: every test goes through
/// here, so every path is grepped for tokens.
fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    assert_no_secrets(&format!("{}{}", stdout(out), stderr(out)));
}

/// Pieces of every secret the tests use: the fake's access tokens (static and issued, all
/// `00Dfake…!AQ.…`), the refresh token, the consumer secret, a JWT assertion (its header
/// `{"alg":"RS256"}` in base64url) and the test private key.
fn assert_no_secrets(printed: &str) {
    let key =
        std::fs::read_to_string(crate::support::repo_root().join("fixtures/deploy/jwt-key.pem"))
            .expect("the test key");
    let key_line = key.lines().nth(1).expect("a PEM body line");
    for secret in [
        "!AQ.",
        fake_org::REFRESH_TOKEN,
        fake_org::CLIENT_SECRET,
        "eyJhbGciOiJSUzI1NiJ9",
        key_line,
    ] {
        assert!(
            !printed.contains(secret),
            "a secret ({secret}) was printed:\n{printed}"
        );
    }
}

fn jwt_claims(org: &FakeOrg) -> serde_json::Value {
    let tokens = org.received_for("token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].form_field("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let assertion = tokens[0].form_field("assertion").expect("an assertion");
    let claims = assertion.split('.').nth(1).expect("a JWT has three parts");
    let claims = URL_SAFE_NO_PAD
        .decode(claims)
        .expect("claims are base64url");
    serde_json::from_slice(&claims).expect("claims are JSON")
}

fn jwt_args<'a>(w: &'a World, key: &'a Path) -> Vec<std::ffi::OsString> {
    vec![
        "--zip".into(),
        w.zip.clone().into(),
        "--client-id".into(),
        fake_org::CLIENT_ID.into(),
        "--username".into(),
        fake_org::USERNAME.into(),
        "--jwt-key-file".into(),
        key.into(),
        "--login-url".into(),
        w.org.url().into(),
    ]
}

/// `--objects Contact --callback-url …`: the package is built in memory.
const INPUTS: [&str; 4] = [
    "--objects",
    "Contact",
    "--callback-url",
    "https://hooks.example.com/salesforce",
];

/// A Standard Webhooks secret for the in-memory builds (32 bytes of 0x5a).
fn test_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32])
    )
}

/// `sfhooks package ARGS --out FILE` from the same inputs; returns the zip and its stdout.
fn package(w: &World, extra: &[&str]) -> (Vec<u8>, String) {
    let out_file = w.dir.path().join("packaged.zip");
    let mut cmd = crate::support::sfhooks(w.dir.path());
    cmd.arg("package")
        .args(INPUTS)
        .args(extra)
        .arg("--out")
        .arg(&out_file)
        .env("SFHOOKS_SECRET", test_secret());
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    (std::fs::read(&out_file).expect("the zip"), stdout(&out))
}

/// Quotes a word for `sh -c`.
fn sh_quote(word: &std::ffi::OsStr) -> String {
    format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"))
}
