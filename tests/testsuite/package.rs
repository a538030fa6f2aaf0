//! `sfhooks package`: golden listings and XML per scenario, determinism, where the
//! secret goes, `--from`, `--production`, `--uninstall`, and bad input (exit 2, no zip left).
//!
//! Nothing here depends on the Apex text: goldens are regenerated with
//! `SNAPSHOTS=overwrite cargo test --test testsuite package`.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod contents;
mod from_tree;
mod secrets;

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
