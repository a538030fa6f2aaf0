//! `sfhooks package` (issue 3): golden listings and XML per scenario, determinism, where the
//! secret goes, `--from`, `--production`, `--uninstall`, and bad input (exit 2, no zip left).
//!
//! Nothing here depends on the Apex text: goldens are regenerated with
//! `SNAPSHOTS=overwrite cargo test --test testsuite package`.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;

use crate::support::{code, overwrite_snapshots, repo_root, run, sfhooks, stderr, stdout};

const CALLBACK: &str = "https://hooks.example.com/salesforce";
const RECORD: &str = "customMetadata/Sfhooks_Settings.Default.md";

/// A valid Standard Webhooks secret made for these tests (32 bytes of 0x5a).
fn secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32])
    )
}

/// One way to configure a package build: a scenario folder with sfhooks.toml, or plain flags.
struct Scenario {
    name: String,
    cwd: PathBuf,
    args: Vec<String>,
}

impl Scenario {
    fn command(&self) -> Command {
        let mut cmd = sfhooks(&self.cwd);
        cmd.arg("package").args(&self.args);
        cmd
    }
}

/// The flag-only case (always), plus every fixtures/scenarios/<name>/sfhooks.toml.
fn scenarios() -> Vec<Scenario> {
    let mut out = vec![Scenario {
        name: "flags-contact-account".to_string(),
        cwd: repo_root().to_path_buf(),
        args: vec![
            "--objects".into(),
            "Contact,Account".into(),
            "--callback-url".into(),
            CALLBACK.into(),
        ],
    }];
    let root = repo_root().join("fixtures/scenarios");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").path())
                .filter(|p| p.join("sfhooks.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    for dir in dirs {
        // fixtures/package/<name> holds the goldens; `invalid` is taken by the schema fixtures.
        assert_ne!(
            dir.file_name(),
            Some("invalid".as_ref()),
            "scenario name clash"
        );
        out.push(Scenario {
            name: dir
                .file_name()
                .expect("folder name")
                .to_string_lossy()
                .into_owned(),
            cwd: dir,
            args: vec!["--config".into(), "sfhooks.toml".into()],
        });
    }
    out
}

fn default_scenario() -> Scenario {
    scenarios().remove(0)
}

/// Runs package with the test secret in SFHOOKS_SECRET; asserts success; returns the zip.
fn build(scenario: &Scenario, out: &Path, extra: &[&str]) -> Vec<u8> {
    let result = run(scenario
        .command()
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("SFHOOKS_SECRET", secret()));
    assert_eq!(
        code(&result),
        0,
        "{}: package {extra:?} failed: {}",
        scenario.name,
        stderr(&result)
    );
    std::fs::read(out).expect("the zip was written")
}

/// Zip entry name -> content, in archive order (a Vec keeps the order to check it).
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("a readable zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).expect("entry");
            let mut content = Vec::new();
            entry.read_to_end(&mut content).expect("inflates");
            (entry.name().to_string(), content)
        })
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 entry")
}

/// (type, member) pairs of a package.xml as sfhooks writes it (one element per line).
fn members(package_xml: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut pending = Vec::new();
    for line in package_xml.lines().map(str::trim) {
        if let Some(m) = line
            .strip_prefix("<members>")
            .and_then(|l| l.strip_suffix("</members>"))
        {
            pending.push(m.to_string());
        } else if let Some(n) = line
            .strip_prefix("<name>")
            .and_then(|l| l.strip_suffix("</name>"))
        {
            for m in pending.drain(..) {
                out.insert((n.to_string(), m));
            }
        }
    }
    out
}

/// Files that a failed run must not leave behind: the zip, or a temporary file.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".zip") || n.starts_with(".sfhooks-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Compares (or with SNAPSHOTS=overwrite, writes) one scenario's golden folder.
fn check_golden(dir: &Path, actual: &BTreeMap<String, String>) {
    if overwrite_snapshots() {
        let _ = std::fs::remove_dir_all(dir);
        for (rel, content) in actual {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, content).expect("write golden");
        }
        return;
    }
    let mut expected = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(list) = std::fs::read_dir(&folder) else {
            panic!(
                "no golden folder {}: run SNAPSHOTS=overwrite cargo test --test testsuite package",
                dir.display()
            );
        };
        for entry in list {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("below").to_string_lossy();
                expected.insert(
                    rel.replace('\\', "/"),
                    std::fs::read_to_string(&path).expect("golden"),
                );
            }
        }
    }
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{}: golden files (regenerate with SNAPSHOTS=overwrite)",
        dir.display()
    );
    for (rel, content) in actual {
        assert!(
            &expected[rel] == content,
            "{}/{rel} differs from the golden file (regenerate with SNAPSHOTS=overwrite \
             cargo test --test testsuite package):\n{content}",
            dir.display()
        );
    }
}

/// Golden listing (entry names + sizes) and golden XML (package.xml, destructiveChanges.xml,
/// every folded .object) per scenario, in fixtures/package/<scenario>/.
#[test]
fn scenarios_match_their_golden_listings_and_xml() {
    for scenario in scenarios() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let deploy = entries(&build(&scenario, &tmp.path().join("d.zip"), &[]));
        let uninstall = entries(&build(
            &scenario,
            &tmp.path().join("u.zip"),
            &["--uninstall"],
        ));

        let mut golden = BTreeMap::new();
        let listing: String = deploy
            .iter()
            .map(|(name, content)| format!("{:>7} {name}\n", content.len()))
            .collect();
        golden.insert("listing.txt".to_string(), listing);
        for (name, content) in &deploy {
            if name == "package.xml" || name.ends_with(".object") {
                golden.insert(name.clone(), text(content));
            }
        }
        for (name, content) in &uninstall {
            golden.insert(format!("uninstall/{name}"), text(content));
        }
        check_golden(
            &repo_root().join("fixtures/package").join(&scenario.name),
            &golden,
        );
    }
}

#[test]
fn the_zip_is_deterministic_and_holds_no_absolute_paths_or_folders() {
    let scenario = default_scenario();
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let first = build(&scenario, &a.path().join("one.zip"), &[]);
    let second = build(&scenario, &b.path().join("other-name.zip"), &[]);
    assert!(first == second, "two builds differ");

    let mut archive = zip::ZipArchive::new(Cursor::new(&first)).expect("zip");
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).expect("entry");
        let name = entry.name().to_string();
        assert!(!entry.is_dir(), "{name}: no folder entries");
        assert!(
            !name.starts_with('/') && !name.split('/').any(|p| p == ".." || p.is_empty()),
            "{name}: entries stay inside the package"
        );
        assert_eq!(
            entry.last_modified(),
            Some(zip::DateTime::default()),
            "{name}"
        );
        assert_eq!(entry.unix_mode(), Some(0o100644), "{name}");
        assert_eq!(
            entry.compression(),
            zip::CompressionMethod::Deflated,
            "{name}"
        );
        names.push(name);
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries are sorted");
    assert!(names.contains(&"package.xml".to_string()));
    // Nothing of the machine it was built on: not the output folder, not the working folder.
    let machine_paths = [
        a.path().to_string_lossy().into_owned(),
        repo_root().to_string_lossy().into_owned(),
    ];
    for (name, content) in entries(&first) {
        for path in &machine_paths {
            assert!(
                !text(&content).contains(path.as_str()),
                "{name} holds {path}"
            );
        }
    }
}

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

/// The uninstall zip deletes exactly what the deploy zip ships (the secret record included).
#[test]
fn uninstall_lists_every_component_of_the_deploy_zip() {
    for scenario in scenarios() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let deploy = entries(&build(&scenario, &tmp.path().join("d.zip"), &[]));
        let uninstall = entries(&build(
            &scenario,
            &tmp.path().join("u.zip"),
            &["--uninstall"],
        ));
        let names: Vec<&str> = uninstall.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["destructiveChanges.xml", "package.xml"],
            "{}",
            scenario.name
        );
        let empty = text(&uninstall[1].1);
        assert!(
            members(&empty).is_empty() && empty.contains("<version>"),
            "{empty}"
        );
        let package = text(
            &deploy
                .iter()
                .find(|(n, _)| n == "package.xml")
                .expect("pkg")
                .1,
        );
        let deployed = members(&package);
        assert!(
            deployed
                .iter()
                .any(|(t, m)| t == "CustomMetadata" && m.ends_with("_Settings.Default")),
            "{}: the settings record is deployed",
            scenario.name
        );
        assert_eq!(
            members(&text(&uninstall[0].1)),
            deployed,
            "{}",
            scenario.name
        );
    }
}

/// Generates a scenario's source tree into `dir`; returns relative path -> content.
fn generate(scenario: &Scenario, dir: &Path) -> BTreeMap<String, String> {
    let result = run(sfhooks(&scenario.cwd)
        .arg("generate")
        .args(&scenario.args)
        .arg("--out")
        .arg(dir));
    assert_eq!(code(&result), 0, "{}: {}", scenario.name, stderr(&result));
    walk(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).expect("below").to_string_lossy();
            let content = std::fs::read_to_string(&p).expect("utf-8");
            (rel.replace('\\', "/"), content)
        })
        .collect()
}

/// What `sf project convert source` makes of one source file (observed with @salesforce/cli
/// 2.146.3, source-deploy-retrieve 12.37.2, on fixtures/scenarios/contact-account/expected):
/// the zip entry it becomes (None when folded into its object) and its package.xml member.
/// Written out here, independently of src/mdapi.rs, so the two can disagree.
fn sf_convert(path: &str) -> (Option<String>, (String, String)) {
    let parts: Vec<&str> = path.split('/').collect();
    let member = |t: &str, m: &str| (t.to_string(), m.to_string());
    match parts.as_slice() {
        ["objects", object, file] => {
            let name = file.strip_suffix(".object-meta.xml").expect("object file");
            assert_eq!(name, *object, "{path}");
            (
                Some(format!("objects/{object}.object")),
                member("CustomObject", object),
            )
        }
        ["objects", object, "fields", file] => {
            let field = file.strip_suffix(".field-meta.xml").expect("field file");
            (None, member("CustomField", &format!("{object}.{field}")))
        }
        ["objects", object, "listViews", file] => {
            let view = file.strip_suffix(".listView-meta.xml").expect("list view");
            (None, member("ListView", &format!("{object}.{view}")))
        }
        [folder, file] => {
            let table: &[(&str, &str, &str, &str)] = &[
                ("classes", ".cls", ".cls", "ApexClass"),
                ("classes", ".cls-meta.xml", ".cls-meta.xml", "ApexClass"),
                ("triggers", ".trigger", ".trigger", "ApexTrigger"),
                (
                    "triggers",
                    ".trigger-meta.xml",
                    ".trigger-meta.xml",
                    "ApexTrigger",
                ),
                (
                    "remoteSiteSettings",
                    ".remoteSite-meta.xml",
                    ".remoteSite",
                    "RemoteSiteSetting",
                ),
                ("tabs", ".tab-meta.xml", ".tab", "CustomTab"),
                (
                    "permissionsets",
                    ".permissionset-meta.xml",
                    ".permissionset",
                    "PermissionSet",
                ),
                (
                    "customPermissions",
                    ".customPermission-meta.xml",
                    ".customPermission",
                    "CustomPermission",
                ),
            ];
            // The longest matching suffix: `X.cls-meta.xml` is not `X.cls`.
            let (_, suffix, zip_suffix, type_name) = table
                .iter()
                .filter(|(f, suffix, _, _)| f == folder && file.ends_with(suffix))
                .max_by_key(|(_, suffix, _, _)| suffix.len())
                .unwrap_or_else(|| panic!("{path}: a kind this test does not know; add it"));
            let name = file.strip_suffix(suffix).expect("suffix");
            (
                Some(format!("{folder}/{name}{zip_suffix}")),
                member(type_name, name),
            )
        }
        _ => panic!("{path}: a layout this test does not know; add it"),
    }
}

/// Every file of the generated tree is in the zip under the name, folder and Metadata API type
/// `sf project convert source` gives it, and nothing else is: package.xml lists exactly those
/// components (each folded field and list view too) plus the secret record, and each folded
/// object keeps its elements in the schema's sequence.
#[test]
fn the_zip_holds_every_generated_file_under_its_mdapi_name_and_type() {
    for scenario in scenarios() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let source = generate(&scenario, &tmp.path().join("tree"));
        let zip = entries(&build(&scenario, &tmp.path().join("p.zip"), &[]));

        let settings = source
            .keys()
            .find_map(|p| {
                p.strip_prefix("objects/")?
                    .split('/')
                    .next()?
                    .strip_suffix("_Settings__mdt")
                    .map(str::to_string)
            })
            .expect("a settings type");
        let record = format!("{settings}_Settings.Default");
        let mut expected_entries = BTreeSet::from([
            "package.xml".to_string(),
            format!("customMetadata/{record}.md"),
        ]);
        let mut expected_members = BTreeSet::from([("CustomMetadata".to_string(), record)]);
        let mut folded: Vec<(String, String, String)> = Vec::new();
        for (path, content) in &source {
            // The manifest is reviewed with the tree but never deployed: the entry list below
            // proves it stays out of the zip.
            if path == sfhooks::generated::MANIFEST_FILE {
                continue;
            }
            let (entry, member) = sf_convert(path);
            match entry {
                Some(entry) => {
                    if !entry.ends_with(".object") {
                        let in_zip = zip.iter().find(|(n, _)| *n == entry);
                        assert!(
                            in_zip.is_some_and(|(_, c)| c == content.as_bytes()),
                            "{}: {entry} is not {path} unchanged",
                            scenario.name
                        );
                    }
                    expected_entries.insert(entry);
                }
                None => {
                    let (object, child) = member.1.split_once('.').expect("Object.Child");
                    let element = if member.0 == "CustomField" {
                        "fields"
                    } else {
                        "listViews"
                    };
                    folded.push((object.to_string(), element.to_string(), child.to_string()));
                }
            }
            expected_members.insert(member);
        }
        let names: BTreeSet<String> = zip.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, expected_entries, "{}: zip entries", scenario.name);
        let package = text(&zip.iter().find(|(n, _)| n == "package.xml").expect("pkg").1);
        assert_eq!(members(&package), expected_members, "{}", scenario.name);

        for (object, element, child) in &folded {
            let body = text(
                &zip.iter()
                    .find(|(n, _)| *n == format!("objects/{object}.object"))
                    .expect("object entry")
                    .1,
            );
            assert!(
                folded_names(&body, element).contains(child),
                "{}: {child} is not folded into {object}.object as <{element}>",
                scenario.name
            );
        }
        for (name, content) in &zip {
            if name.ends_with(".object") {
                let order: Vec<usize> = top_level_elements(&text(content))
                    .iter()
                    .map(|e| {
                        sfhooks::mdapi::CUSTOM_OBJECT_SEQUENCE
                            .iter()
                            .position(|s| s == e)
                            .unwrap_or_else(|| panic!("{name}: <{e}> is not in the sequence"))
                    })
                    .collect();
                assert!(
                    order.windows(2).all(|w| w[0] <= w[1]),
                    "{}: {name} does not follow the CustomObject sequence",
                    scenario.name
                );
            }
        }
    }
}

/// The names of the root's child elements, in order, for the layout sfhooks writes (four
/// spaces per level).
fn top_level_elements(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("    <")?;
            if rest.starts_with(' ') || rest.starts_with('/') {
                return None;
            }
            Some(rest.split(['>', ' ']).next()?.to_string())
        })
        .collect()
}

/// The `<fullName>` of each `<element>` folded into an .object file.
fn folded_names(body: &str, element: &str) -> Vec<String> {
    body.split(&format!("<{element}>"))
        .skip(1)
        .filter_map(|s| s.split("<fullName>").nth(1)?.split("</fullName>").next())
        .map(str::to_string)
        .collect()
}

/// `--from` a tree written by `sfhooks generate` ships byte for byte what packaging from the
/// configuration ships: the reviewed tree is what gets deployed.
#[test]
fn from_a_generated_tree_gives_the_same_bytes() {
    for scenario in scenarios() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let tree = tmp.path().join("tree");
        let generated = run(sfhooks(&scenario.cwd)
            .arg("generate")
            .args(&scenario.args)
            .arg("--out")
            .arg(&tree));
        assert_eq!(
            code(&generated),
            0,
            "{}: {}",
            scenario.name,
            stderr(&generated)
        );
        for extra in [&[][..], &["--uninstall"][..]] {
            let from_config = build(&scenario, &tmp.path().join("c.zip"), extra);
            let result = run(sfhooks(tmp.path())
                .args(["package", "--from"])
                .arg(&tree)
                .arg("--out")
                .arg(tmp.path().join("f.zip"))
                .args(extra)
                .env("SFHOOKS_SECRET", secret()));
            assert_eq!(code(&result), 0, "{}: {}", scenario.name, stderr(&result));
            let from_tree = std::fs::read(tmp.path().join("f.zip")).expect("zip");
            assert!(
                from_config == from_tree,
                "{} {extra:?}: --from differs",
                scenario.name
            );
        }
    }
}

/// `--from` reads the signature scheme from the tree: an Open Connectors tree takes its key
/// without `--signature-scheme elements`, gives the bytes packaging from its configuration gives,
/// and refuses a flag that contradicts it.
#[test]
fn from_takes_the_signature_scheme_from_the_tree() {
    let scenario = scenarios()
        .into_iter()
        .find(|s| s.name == "elements")
        .expect("the elements scenario");
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    generate(&scenario, &tree);
    let key = tmp.path().join("key.txt");
    std::fs::write(&key, "MySecretEventSignatureKey\n").expect("write key");

    let from_config = tmp.path().join("c.zip");
    let result = run(scenario
        .command()
        .arg("--secret-file")
        .arg(&key)
        .arg("--out")
        .arg(&from_config));
    assert_eq!(code(&result), 0, "{}", stderr(&result));
    let from_tree = tmp.path().join("f.zip");
    let package_from = |extra: &[&str]| {
        run(sfhooks(tmp.path())
            .args(["package", "--from"])
            .arg(&tree)
            .arg("--secret-file")
            .arg(&key)
            .arg("--out")
            .arg(&from_tree)
            .args(extra))
    };
    let result = package_from(&[]);
    assert_eq!(code(&result), 0, "{}", stderr(&result));
    assert!(
        std::fs::read(&from_config).expect("zip") == std::fs::read(&from_tree).expect("zip"),
        "--from an elements tree differs from packaging its configuration"
    );
    std::fs::remove_file(&from_tree).expect("rm");

    let result = package_from(&["--signature-scheme", "standard"]);
    assert_eq!(code(&result), 2, "{}", stderr(&result));
    assert!(
        stderr(&result).contains(
            "the tree signs with the elements scheme, but --signature-scheme says standard"
        ),
        "{}",
        stderr(&result)
    );
    assert!(!from_tree.exists(), "no zip after a refusal");
}

#[test]
fn production_prints_the_exact_commands_with_every_generated_test_class() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("prod.zip");
    let result = run(default_scenario()
        .command()
        .arg("--out")
        .arg(&out)
        .arg("--production")
        .env("SFHOOKS_SECRET", secret()));
    assert_eq!(code(&result), 0, "{}", stderr(&result));
    let zip = entries(&std::fs::read(&out).expect("zip"));
    let tests: Vec<String> = zip
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("classes/")?.strip_suffix("Tests.cls"))
        .map(|n| format!("{n}Tests"))
        .collect();
    assert!(!tests.is_empty(), "the generated tree has test classes");
    let printed = stdout(&result);
    let out = out.to_str().expect("utf-8 temp path");
    let deploy_line = format!("sfhooks deploy --production --zip {out}");
    let mut sf_line = format!(
        "sf project deploy start --metadata-dir {out} --single-package --test-level RunSpecifiedTests"
    );
    for test in &tests {
        sf_line.push_str(&format!(" --tests {test}"));
    }
    let lines: Vec<&str> = printed.lines().collect();
    assert!(lines.contains(&deploy_line.as_str()), "{printed}");
    assert!(lines.contains(&sf_line.as_str()), "{printed}");
    // Every line is a command or a shell comment: the block pastes as it is.
    assert!(
        lines.iter().all(|l| l.starts_with('#')
            || l.starts_with("sfhooks deploy ")
            || l.starts_with("sf project deploy start ")),
        "{printed}"
    );
    // --production changes what is printed, not what is built.
    let plain = build(&default_scenario(), &tmp.path().join("plain.zip"), &[]);
    assert!(
        std::fs::read(out).expect("zip") == plain,
        "--production built a different zip"
    );
}

/// A folder for the "unwritable folder" case. Root (as in CI) may write anywhere a mode allows,
/// so there the case uses /sys, which even root cannot create files in.
fn unwritable_folder(tmp: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp.join("locked");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    if std::fs::write(dir.join("probe"), "x").is_ok() {
        let _ = std::fs::remove_file(dir.join("probe"));
        return PathBuf::from("/sys");
    }
    dir
}

/// Runs package expecting exit 2 with `needle` in stderr and nothing left in `folder`.
fn assert_refused(mut cmd: Command, folder: &Path, needle: &str) -> Output {
    let result = run(&mut cmd);
    let err = stderr(&result);
    assert_eq!(code(&result), 2, "{cmd:?}: expected exit 2, got: {err}");
    assert!(
        err.contains(needle),
        "{cmd:?}: expected {needle:?} in: {err}"
    );
    assert!(!err.contains(&secret()), "the secret leaked into: {err}");
    assert_eq!(
        leftovers(folder),
        Vec::<String>::new(),
        "{cmd:?} left files behind"
    );
    result
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

/// `--from` refuses what `sfhooks generate` did not write, or a generated tree with files missing.
#[test]
fn from_refuses_trees_sfhooks_did_not_generate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pristine = tmp.path().join("pristine");
    let generated = run(sfhooks(tmp.path())
        .args([
            "generate",
            "--objects",
            "Contact,Account",
            "--callback-url",
            CALLBACK,
            "--out",
        ])
        .arg(&pristine));
    assert_eq!(code(&generated), 0, "{}", stderr(&generated));
    let files: Vec<PathBuf> = walk(&pristine);
    let pick = |suffix: &str| -> String {
        files
            .iter()
            .map(|p| {
                p.strip_prefix(&pristine)
                    .expect("below")
                    .to_string_lossy()
                    .into_owned()
            })
            .find(|p| p.ends_with(suffix))
            .unwrap_or_else(|| panic!("the generated tree has a {suffix} file"))
    };
    let class = pick(".cls");
    let field = pick("_Outbox__c/fields/Status__c.field-meta.xml");
    let list_view = pick(".listView-meta.xml");
    let permission_set = pick(".permissionset-meta.xml");
    let trigger = pick("AccountTrigger.trigger");
    let settings_dir = pick("_Settings__mdt.object-meta.xml");
    let settings_dir = settings_dir
        .rsplit_once('/')
        .expect("in a folder")
        .0
        .to_string();

    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage, String)> = vec![
        (
            "class without -meta.xml",
            Box::new({
                let class = class.clone();
                move |t: &Path| {
                    std::fs::remove_file(t.join(format!("{class}-meta.xml"))).expect("rm")
                }
            }),
            "-meta.xml beside it".into(),
        ),
        (
            "class without the sfhooks header",
            Box::new({
                let class = class.clone();
                move |t: &Path| {
                    std::fs::write(t.join(&class), "public class Mine {}\n").expect("write")
                }
            }),
            "not generated by sfhooks".into(),
        ),
        (
            "a field deleted",
            Box::new({
                let field = field.clone();
                move |t: &Path| std::fs::remove_file(t.join(&field)).expect("rm")
            }),
            format!("1 file that sfhooks generates for this tree is missing: {field}"),
        ),
        (
            "a list view and a permission set deleted",
            Box::new({
                let (a, b) = (list_view.clone(), permission_set.clone());
                move |t: &Path| {
                    std::fs::remove_file(t.join(&a)).expect("rm");
                    std::fs::remove_file(t.join(&b)).expect("rm");
                }
            }),
            "2 files that sfhooks generates for this tree are missing".into(),
        ),
        (
            // Both files of the pair: what is left is still consistent, only the trigger tests
            // say that the trigger belongs to the tree.
            "a trigger deleted with its -meta.xml",
            Box::new({
                let trigger = trigger.clone();
                move |t: &Path| {
                    std::fs::remove_file(t.join(&trigger)).expect("rm");
                    std::fs::remove_file(t.join(format!("{trigger}-meta.xml"))).expect("rm");
                }
            }),
            format!("are missing: {trigger}, {trigger}-meta.xml"),
        ),
        (
            "no settings type",
            Box::new(move |t: &Path| std::fs::remove_dir_all(t.join(&settings_dir)).expect("rm")),
            "_Settings__mdt".into(),
        ),
        (
            "no manifest",
            Box::new(|t: &Path| {
                std::fs::remove_file(t.join(sfhooks::generated::MANIFEST_FILE)).expect("rm")
            }),
            "has no .sfhooks-manifest.json: the tree was not written by this version of \
             `sfhooks generate`"
                .into(),
        ),
        (
            "a manifest of another tree",
            Box::new(|t: &Path| {
                let path = t.join(sfhooks::generated::MANIFEST_FILE);
                let text = std::fs::read_to_string(&path).expect("manifest");
                let edited = text.replace("\"api_version\": \"63.0\"", "\"api_version\": \"62.0\"");
                assert_ne!(edited, text, "the manifest names the API version");
                std::fs::write(&path, edited).expect("write");
            }),
            "says API version 62.0, the files say 63.0".into(),
        ),
        (
            "a file sfhooks never writes",
            Box::new(|t: &Path| {
                std::fs::create_dir_all(t.join("staticresources")).expect("mkdir");
                std::fs::write(t.join("staticresources/x.resource-meta.xml"), "<x/>").expect("w");
            }),
            "not a file sfhooks generates".into(),
        ),
    ];
    for (label, damage, needle) in cases {
        let case = tmp.path().join(label.replace(' ', "-"));
        copy_tree(&pristine, &case);
        damage(&case);
        let out_dir = tmp.path().join("out");
        std::fs::create_dir_all(&out_dir).expect("mkdir");
        let mut cmd = sfhooks(tmp.path());
        cmd.args(["package", "--from"])
            .arg(&case)
            .arg("--out")
            .arg(out_dir.join("x.zip"))
            .env("SFHOOKS_SECRET", secret());
        assert_refused(cmd, &out_dir, &needle);
    }
    let mut cmd = sfhooks(tmp.path());
    cmd.args(["package", "--from"])
        .arg(tmp.path().join("nowhere"))
        .arg("--out")
        .arg(tmp.path().join("x.zip"));
    assert_refused(cmd, tmp.path(), "not a folder");
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for file in walk(from) {
        let target = to.join(file.strip_prefix(from).expect("below"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&file, &target).expect("copy");
    }
}
