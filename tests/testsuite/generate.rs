//! `sfhooks generate`: golden trees per scenario, Apex that parses, XML with the right roots,
//! `--check`, atomic writes, and hostile input.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{code, overwrite_snapshots, repo_root, run, sfhooks, stderr, stdout};

const CALLBACK: &str = "https://hooks.example.com/salesforce";
const MDAPI_NS: &str = "http://soap.sforce.com/2006/04/metadata";

/// Every file below `root`, relative path -> content.
fn read_tree(root: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("below root")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(rel, std::fs::read_to_string(&path).expect("utf-8 file"));
            }
        }
    }
    files
}

fn generate(cwd: &Path, args: &[&str]) -> std::process::Output {
    run(sfhooks(cwd).arg("generate").args(args))
}

fn generate_default(out: &Path) -> BTreeMap<String, String> {
    let dir = out.parent().expect("parent");
    let out_arg = out.to_str().expect("utf-8 temp path");
    let result = generate(
        dir,
        &[
            "--objects",
            "Contact,Account",
            "--callback-url",
            CALLBACK,
            "--out",
            out_arg,
        ],
    );
    assert_eq!(code(&result), 0, "generate failed: {}", stderr(&result));
    read_tree(out)
}

fn scenarios() -> Vec<PathBuf> {
    let root = repo_root().join("fixtures/scenarios");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/scenarios exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("sfhooks.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Golden trees: one folder per scenario with its sfhooks.toml and the `expected/` tree.
/// `SNAPSHOTS=overwrite cargo test --test testsuite generate` rewrites them.
#[test]
fn scenarios_match_their_golden_trees() {
    let scenarios = scenarios();
    assert!(
        scenarios.len() >= 5,
        "expected the five scenarios, found {scenarios:?}"
    );
    for scenario in scenarios {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        let result = run(sfhooks(&scenario)
            .args(["generate", "--config", "sfhooks.toml", "--out"])
            .arg(&out));
        assert_eq!(
            code(&result),
            0,
            "{}: {}",
            scenario.display(),
            stderr(&result)
        );
        let actual = read_tree(&out);
        let expected_dir = scenario.join("expected");
        if overwrite_snapshots() {
            let _ = std::fs::remove_dir_all(&expected_dir);
            for (rel, content) in &actual {
                let path = expected_dir.join(rel);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(path, content).expect("write golden");
            }
            continue;
        }
        let expected = read_tree(&expected_dir);
        let names = |t: &BTreeMap<String, String>| t.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&actual),
            names(&expected),
            "{}: file list",
            scenario.display()
        );
        for (rel, content) in &actual {
            assert!(
                &expected[rel] == content,
                "{}: {rel} differs from its golden file; run SNAPSHOTS=overwrite cargo test --test testsuite generate and review the diff",
                scenario.display()
            );
        }
        // The golden tree passes --check, so a reviewed tree is what CI compares against.
        let check = run(sfhooks(&scenario)
            .args(["generate", "--config", "sfhooks.toml", "--check", "--out"])
            .arg(&expected_dir));
        assert_eq!(code(&check), 0, "{}", stderr(&check));
    }
}

/// Parses Apex with tree-sitter-sfapex and returns the ERROR / MISSING nodes it found.
fn apex_syntax_problems(source: &str) -> Vec<String> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_sfapex::apex::LANGUAGE.into())
        .expect("the Apex grammar loads");
    let tree = parser.parse(source, None).expect("parser returns a tree");
    let mut problems = Vec::new();
    let mut cursor = tree.walk();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            let p = node.start_position();
            problems.push(format!(
                "{} at {}:{}",
                if node.is_missing() {
                    "MISSING"
                } else {
                    "ERROR"
                },
                p.row + 1,
                p.column + 1
            ));
        }
        stack.extend(node.children(&mut cursor));
    }
    problems
}

#[test]
fn the_apex_syntax_check_catches_broken_apex() {
    assert!(apex_syntax_problems("public class A { void b() { Integer x = 1; } }").is_empty());
    assert!(!apex_syntax_problems("public class A { void b() { Integer x = ; } }").is_empty());
    assert!(!apex_syntax_problems("public class A { void b() { Integer x = 1 }").is_empty());
}

#[test]
fn every_generated_apex_file_parses_with_tree_sitter_sfapex() {
    let mut checked = 0;
    for scenario in scenarios() {
        for (rel, content) in read_tree(&scenario.join("expected")) {
            if rel.ends_with(".cls") || rel.ends_with(".trigger") {
                let problems = apex_syntax_problems(&content);
                assert!(
                    problems.is_empty(),
                    "{}/{rel}: {problems:?}",
                    scenario.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} Apex files were checked");
}

/// The root element a source-format file must have, from its file name.
fn expected_root(rel: &str) -> Option<&'static str> {
    const ROOTS: &[(&str, &str)] = &[
        (".cls-meta.xml", "ApexClass"),
        (".trigger-meta.xml", "ApexTrigger"),
        (".object-meta.xml", "CustomObject"),
        (".field-meta.xml", "CustomField"),
        (".listView-meta.xml", "ListView"),
        (".tab-meta.xml", "CustomTab"),
        (".permissionset-meta.xml", "PermissionSet"),
        (".customPermission-meta.xml", "CustomPermission"),
        (".remoteSite-meta.xml", "RemoteSiteSetting"),
        (".md-meta.xml", "CustomMetadata"),
    ];
    ROOTS
        .iter()
        .find(|(suffix, _)| rel.ends_with(suffix))
        .map(|(_, root)| *root)
}

/// Parses a whole XML document and returns (root local name, root namespace).
fn xml_root(content: &str) -> Result<(String, String), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_str(content);
    let mut root = None;
    let mut depth = 0usize;
    loop {
        match reader.read_resolved_event() {
            Ok((ns, Event::Start(e))) => {
                if root.is_none() {
                    let ns = match ns {
                        quick_xml::name::ResolveResult::Bound(n) => {
                            String::from_utf8_lossy(n.as_ref()).into_owned()
                        }
                        _ => String::new(),
                    };
                    root = Some((
                        String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ns,
                    ));
                }
                depth += 1;
            }
            Ok((_, Event::End(_))) => depth = depth.checked_sub(1).ok_or("unbalanced end tag")?,
            Ok((_, Event::Eof)) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("at byte {}: {e}", reader.buffer_position())),
        }
    }
    if depth != 0 {
        return Err("unclosed element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

#[test]
fn the_xml_check_catches_broken_xml() {
    let ok = r#"<?xml version="1.0"?><ApexClass xmlns="http://soap.sforce.com/2006/04/metadata"><status>Active</status></ApexClass>"#;
    assert_eq!(xml_root(ok), Ok(("ApexClass".into(), MDAPI_NS.into())));
    assert!(xml_root("<ApexClass><status>Active</ApexClass>").is_err());
    assert!(xml_root("<ApexClass><status>Active</status>").is_err());
}

#[test]
fn every_generated_xml_file_parses_with_the_right_root_and_namespace() {
    let mut checked = 0;
    for scenario in scenarios() {
        for (rel, content) in read_tree(&scenario.join("expected")) {
            if !rel.ends_with(".xml") {
                continue;
            }
            let root = expected_root(&rel)
                .unwrap_or_else(|| panic!("{rel}: a generated file type this test does not know"));
            assert_eq!(
                xml_root(&content),
                Ok((root.to_string(), MDAPI_NS.to_string())),
                "{}/{rel}",
                scenario.display()
            );
            assert!(
                content.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
                "{rel}"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} XML files were checked");
}

#[test]
fn generation_is_deterministic_and_check_passes_after_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = generate_default(&tmp.path().join("out"));
    let b = generate_default(&tmp.path().join("out"));
    assert_eq!(a, b);
    let tmp2 = tempfile::tempdir().expect("tempdir");
    assert_eq!(a, generate_default(&tmp2.path().join("out")));
    for content in a.values() {
        assert!(
            !content.contains(&tmp.path().display().to_string()),
            "absolute path leaked"
        );
    }
    let check = generate(
        tmp.path(),
        &[
            "--objects",
            "Contact,Account",
            "--callback-url",
            CALLBACK,
            "--out",
            "out",
            "--check",
        ],
    );
    assert_eq!(code(&check), 0, "{}", stderr(&check));
}

#[test]
fn a_new_folder_is_written_whole_and_in_the_same_form_as_an_update() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Into a folder that does not exist yet (and whose parent does not either): staged whole.
    let result = generate(
        tmp.path(),
        &[
            "--objects",
            "Contact,Account",
            "--callback-url",
            CALLBACK,
            "--out",
            "new/out",
        ],
    );
    assert_eq!(code(&result), 0, "generate failed: {}", stderr(&result));
    let fresh = read_tree(&tmp.path().join("new/out"));
    let beside: Vec<String> = std::fs::read_dir(tmp.path().join("new"))
        .expect("parent exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        beside,
        ["out"],
        "a staging folder was left beside the target"
    );
    // Into an existing folder: per-file temporary files and renames. Same tree, same modes.
    let existing = tmp.path().join("existing");
    std::fs::create_dir_all(&existing).expect("mkdir");
    assert_eq!(fresh, generate_default(&existing));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: PathBuf| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        for rel in fresh.keys() {
            assert_eq!(
                mode(tmp.path().join("new/out").join(rel)),
                mode(existing.join(rel)),
                "{rel}"
            );
        }
        assert_eq!(
            mode(tmp.path().join("new/out/classes")),
            mode(existing.join("classes"))
        );
    }
}

#[test]
fn check_reports_drift_with_a_diff_and_the_command_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let before = generate_default(&out);
    let check = generate(
        tmp.path(),
        &[
            "--objects",
            "Contact",
            "--callback-url",
            "https://other.example.com/x",
            "--out",
            "out",
            "--check",
        ],
    );
    assert_eq!(code(&check), 1, "{}", stderr(&check));
    let diff = stdout(&check);
    assert!(diff.contains("+++ /dev/null"), "{diff}");
    assert!(diff.contains("https://other.example.com/x"), "{diff}");
    assert!(
        diff.contains("SfhooksAccountTrigger.trigger"),
        "stale trigger listed: {diff}"
    );
    let err = stderr(&check);
    assert!(
        err.contains("sfhooks generate --objects Contact --callback-url https://other.example.com/x --out out"),
        "{err}"
    );
    assert!(!err.contains("--check"), "{err}");
    assert_eq!(read_tree(&out), before, "--check wrote something");
}

#[test]
fn regenerating_removes_stale_generated_files_but_keeps_hand_written_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    generate_default(&out);
    let mine = out.join("classes/SfhooksMyOwnCode.cls");
    std::fs::write(&mine, "public class SfhooksMyOwnCode {}\n").expect("write");
    let result = generate(
        tmp.path(),
        &[
            "--objects",
            "Contact",
            "--callback-url",
            CALLBACK,
            "--out",
            "out",
        ],
    );
    assert_eq!(code(&result), 0, "{}", stderr(&result));
    assert!(!out.join("triggers/SfhooksAccountTrigger.trigger").exists());
    assert!(!out
        .join("triggers/SfhooksAccountTrigger.trigger-meta.xml")
        .exists());
    assert!(out.join("triggers/SfhooksContactTrigger.trigger").exists());
    assert!(mine.exists(), "a hand-written class was deleted");
}

#[test]
fn a_failed_write_leaves_the_tree_as_it_was() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    // `triggers` is a file, so creating triggers/ fails after classes/ could have been written.
    std::fs::write(out.join("triggers"), "in the way").expect("write");
    let result = generate(
        tmp.path(),
        &[
            "--objects",
            "Contact",
            "--callback-url",
            CALLBACK,
            "--out",
            "out",
        ],
    );
    assert_eq!(code(&result), 1, "{}", stderr(&result));
    assert!(stderr(&result).contains("triggers"), "{}", stderr(&result));
    let left: Vec<String> = read_tree(&out).into_keys().collect();
    assert_eq!(left, ["triggers"], "half-written files left behind");
}

#[test]
fn hostile_and_bad_input_exits_2_names_the_problem_and_writes_nothing() {
    let long = format!("{}__c", "A".repeat(41));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--objects", "Contact;x"], "\"Contact;x\""),
        (vec!["--objects", "Contact,contact"], "twice"),
        (vec!["--objects", ""], "empty"),
        (vec!["--objects", "Thing__mdt"], "custom metadata"),
        (vec!["--objects", "Alert__e"], "platform events"),
        (vec!["--objects", "Account__History"], "history"),
        (
            vec!["--objects", "Contact,Sfhooks_Outbox__c"],
            "endless loop",
        ),
        (
            vec!["--objects", "Acme_State__c", "--prefix", "Acme"],
            "endless loop",
        ),
        (vec!["--objects", &long], "41 characters"),
        (
            vec![
                "--objects",
                "Contact",
                "--callback-url",
                "https://x.example.com/a'b",
            ],
            "percent-encode",
        ),
        (
            vec![
                "--objects",
                "Contact",
                "--callback-url",
                "https://x.example.com/a\nb",
            ],
            "percent-encode",
        ),
        (
            vec![
                "--objects",
                "Contact",
                "--callback-url",
                "https://x.example.com/*/",
            ],
            "\"*/\"",
        ),
        (
            vec![
                "--objects",
                "Contact",
                "--callback-url",
                "https://x.example.com/a\\b",
            ],
            "percent-encode",
        ),
        (
            vec![
                "--objects",
                "Contact",
                "--callback-url",
                "http://x.example.com/",
            ],
            "--allow-insecure-http",
        ),
        (
            vec![
                "--objects",
                "Contact",
                "--callback-url",
                "https://u:secretpw@x.example.com/",
            ],
            "credentials",
        ),
        (
            vec![
                "--objects",
                "Contact",
                "--callback-url",
                "hooks.example.com",
            ],
            "absolute",
        ),
        (
            vec!["--objects", "Contact", "--prefix", "Bad_Prefix"],
            "prefix",
        ),
        (
            vec!["--objects", "Contact", "--events", "created,merged"],
            "merged",
        ),
        (
            vec!["--objects", "Contact", "--api-version", "58.0"],
            "too old",
        ),
        (
            vec!["--objects", "Contact", "--config", "missing.toml"],
            "missing.toml",
        ),
        (
            vec!["--objects", "Contact", "--instance", "missing.json"],
            "missing.json",
        ),
        (
            vec!["--objects", "Contact", "--signature-scheme", "md5"],
            "md5",
        ),
    ];
    for (args, needle) in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut full: Vec<&str> = args.clone();
        if !args.contains(&"--callback-url") {
            full.extend(["--callback-url", CALLBACK]);
        }
        full.extend(["--out", "out"]);
        let result = generate(tmp.path(), &full);
        let err = stderr(&result);
        assert_eq!(code(&result), 2, "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
        assert!(
            !err.contains("secretpw"),
            "a password reached the error: {err}"
        );
        assert!(!tmp.path().join("out").exists(), "{args:?} wrote files");
    }
}

#[test]
fn unknown_config_keys_and_instance_json_are_handled() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("sfhooks.toml"),
        "objects = [\"Contact\"]\ncallbak_url = \"x\"\n",
    )
    .expect("write");
    let result = generate(tmp.path(), &["--out", "out"]);
    assert_eq!(code(&result), 2);
    assert!(
        stderr(&result).contains("callbak_url"),
        "{}",
        stderr(&result)
    );

    let instance = tmp.path().join("instance.json");
    std::fs::write(
        &instance,
        r#"{"element":{"key":"sfdc"},"configuration":{"event.notification.enabled":true,
        "event.vendor.type":"webhooks","event.notification.callback.url":"https://mycoolapp.com",
        "event.notification.signature.key":"key-that-must-not-leak","event.objects":"Contact,Account",
        "event.poller.refresh_interval":"15","event.fancy":"1"},"name":"x"}"#,
    )
    .expect("write");
    std::fs::remove_file(tmp.path().join("sfhooks.toml")).expect("rm");
    let result = generate(tmp.path(), &["--instance", "instance.json", "--out", "out"]);
    assert_eq!(code(&result), 0, "{}", stderr(&result));
    assert!(
        stderr(&result).contains("event.fancy"),
        "{}",
        stderr(&result)
    );
    let tree = read_tree(&tmp.path().join("out"));
    assert!(tree.keys().any(|k| k.contains("SfhooksAccountTrigger")));
    for (rel, content) in &tree {
        assert!(
            !content.contains("key-that-must-not-leak"),
            "{rel} holds the signature key"
        );
        if rel.ends_with(".cls") && content.contains("mycoolapp") {
            assert!(content.contains("'https://mycoolapp.com/'"), "{rel}");
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let result = run(sfhooks(tmp.path()).args(["generate", "--no-such-flag"]));
    assert_eq!(code(&result), 2);
}
