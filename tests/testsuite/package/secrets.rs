//! Where the secret goes (exactly one entry, never printed), `--no-secret`, and bad secrets or
//! output paths (exit 2, no zip left).
use super::*;

/// The secret is in exactly one entry (the settings record), whichever source it came from,
/// and never on stdout or stderr.
#[test]
fn the_secret_appears_in_exactly_one_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secret = secret();
    let secret_file = tmp.path().join("secret.txt");
    std::fs::write(&secret_file, format!("{secret}\n")).expect("write secret");
    let instance = tmp.path().join("instance.json");
    std::fs::write(
        &instance,
        serde_json::json!({
            "element": {"key": "sfdc"},
            "name": "x",
            "configuration": {
                "event.notification.enabled": true,
                "event.vendor.type": "webhooks",
                "event.notification.callback.url": CALLBACK,
                "event.notification.signature.key": secret,
                "event.objects": "Contact,Account"
            }
        })
        .to_string(),
    )
    .expect("write instance");

    let scenario = default_scenario();
    let out = tmp.path().join("s.zip");
    let sources: Vec<(&str, Command)> = vec![
        ("env", {
            let mut c = scenario.command();
            c.env("SFHOOKS_SECRET", &secret);
            c
        }),
        ("--secret-file", {
            let mut c = scenario.command();
            c.arg("--secret-file").arg(&secret_file);
            c
        }),
        ("--instance", {
            let mut c = sfhooks(tmp.path());
            c.arg("package").arg("--instance").arg(&instance);
            c
        }),
    ];
    let mut zips = Vec::new();
    for (source, mut cmd) in sources {
        let result = run(cmd.arg("--out").arg(&out).arg("--production"));
        assert_eq!(code(&result), 0, "{source}: {}", stderr(&result));
        assert!(
            !stdout(&result).contains(&secret),
            "{source}: secret on stdout"
        );
        assert!(
            !stderr(&result).contains(&secret),
            "{source}: secret on stderr"
        );
        let zip = std::fs::read(&out).expect("zip");
        let key = secret.trim_start_matches("whsec_");
        let holding: Vec<String> = entries(&zip)
            .into_iter()
            .filter(|(_, content)| text(content).contains(key))
            .map(|(name, _)| name)
            .collect();
        assert_eq!(holding, [RECORD], "{source}: entries holding the secret");
        let record = text(
            &entries(&zip)
                .into_iter()
                .find(|(n, _)| n == RECORD)
                .expect("record")
                .1,
        );
        assert!(
            record.contains(&format!("<value xsi:type=\"xsd:string\">{secret}</value>")),
            "{source}: {record}"
        );
        // Nothing else on disk holds it: only the inputs given, and the zip (compressed, mode
        // 0600 because it holds the secret).
        for file in walk(tmp.path()) {
            if file == secret_file || file == instance {
                continue;
            }
            let bytes = std::fs::read(&file).expect("read");
            assert!(
                !String::from_utf8_lossy(&bytes).contains(key),
                "{source}: {} holds the secret",
                file.display()
            );
            assert_eq!(file, out, "{source}: an unexpected file {}", file.display());
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("zip").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{source}: zip mode");
        zips.push(zip);
    }
    // Same configuration, same secret: where the secret came from does not change the bytes.
    assert!(
        zips[0] == zips[1],
        "env and --secret-file give different zips"
    );
}

#[test]
fn no_secret_leaves_the_record_out_and_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("n.zip");
    let result = run(default_scenario()
        .command()
        .arg("--out")
        .arg(&out)
        .arg("--no-secret"));
    assert_eq!(code(&result), 0, "{}", stderr(&result));
    let zip = entries(&std::fs::read(&out).expect("zip"));
    assert!(zip
        .iter()
        .all(|(name, _)| !name.starts_with("customMetadata/")));
    let package = text(
        &zip.iter()
            .find(|(n, _)| n == "package.xml")
            .expect("manifest")
            .1,
    );
    assert!(
        !package.contains("<name>CustomMetadata</name>"),
        "{package}"
    );
    assert!(
        stderr(&result).contains("no secret record"),
        "{}",
        stderr(&result)
    );
}

#[test]
fn bad_output_paths_exit_2_and_leave_no_zip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let with_secret = |out: &Path| {
        let mut c = default_scenario().command();
        c.arg("--out").arg(out).env("SFHOOKS_SECRET", secret());
        c
    };
    let folder = tmp.path().join("already-a-folder");
    std::fs::create_dir(&folder).expect("mkdir");
    assert_refused(with_secret(&folder), tmp.path(), "is a folder");

    let missing = tmp.path().join("no-such-folder/x.zip");
    assert_refused(with_secret(&missing), tmp.path(), "does not exist");

    let locked = unwritable_folder(tmp.path());
    assert_refused(with_secret(&locked.join("x.zip")), &locked, "not writable");
}

#[test]
fn missing_or_malformed_secrets_exit_2_and_leave_no_zip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("x.zip");
    let package = |secret: Option<&str>| {
        let mut c = default_scenario().command();
        c.arg("--out").arg(&out);
        if let Some(s) = secret {
            c.env("SFHOOKS_SECRET", s);
        }
        c
    };
    let result = assert_refused(package(None), tmp.path(), "no signing secret");
    let err = stderr(&result);
    assert!(err.contains("sfhooks secret > secret.txt"), "{err}");
    assert!(err.contains("--secret-file secret.txt"), "{err}");

    assert_refused(
        package(Some("not-a-whsec-secret")),
        tmp.path(),
        "does not start with whsec_",
    );
    let short = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([1u8; 16])
    );
    assert_refused(package(Some(&short)), tmp.path(), "at least 24");
    assert_refused(package(Some("whsec_%%%")), tmp.path(), "base64");

    let long = "k".repeat(256);
    let mut elements = package(Some(&long));
    elements.args(["--signature-scheme", "elements"]);
    assert_refused(elements, tmp.path(), "longer than 255");

    let two = tmp.path().join("two-secrets.txt");
    std::fs::write(&two, format!("{}\n{}\n", secret(), secret())).expect("write");
    let mut file = package(None);
    file.arg("--secret-file").arg(&two);
    assert_refused(file, tmp.path(), "exactly one secret");
}
