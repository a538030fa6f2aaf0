//! `sfhooks package --from`: a generated tree ships byte for byte, takes its scheme from its
//! manifest, and anything sfhooks did not generate (or generated incompletely) is refused.
use super::*;

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
