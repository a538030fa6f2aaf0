//! What the zip holds: goldens per scenario, determinism, every generated file under its
//! Metadata API name and type, `--uninstall`, and `--production`'s commands.
use super::*;

/// A zip's entries: name and bytes.
type Entries = Vec<(String, Vec<u8>)>;

/// The entries of the scenario's deploy zip and of its `--uninstall` zip.
fn deploy_and_uninstall_entries(scenario: &Scenario) -> (Entries, Entries) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let deploy = entries(&build(scenario, &tmp.path().join("d.zip"), &[]));
    let uninstall = entries(&build(
        scenario,
        &tmp.path().join("u.zip"),
        &["--uninstall"],
    ));
    (deploy, uninstall)
}

/// Golden listing (entry names + sizes) and golden XML (package.xml, destructiveChanges.xml,
/// every folded .object) per scenario, in fixtures/package/<scenario>/.
#[test]
fn scenarios_match_their_golden_listings_and_xml() {
    for scenario in scenarios() {
        let (deploy, uninstall) = deploy_and_uninstall_entries(&scenario);

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

/// The uninstall zip deletes exactly what the deploy zip ships (the secret record included).
#[test]
fn uninstall_lists_every_component_of_the_deploy_zip() {
    for scenario in scenarios() {
        let (deploy, uninstall) = deploy_and_uninstall_entries(&scenario);
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
