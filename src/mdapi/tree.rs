//! What a generated source tree holds, read back for `sfhooks package --from` and `deploy`: its
//! settings type, prefix, API version, test classes, and whether it is complete and sfhooks' own.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::xml::Element;
use super::{convert, parse_xml, MdapiError, SourceTree, SETTINGS_SUFFIX, TEST_CLASS_SUFFIX};

/// The settings Custom Metadata Type of a generated tree: the one `objects/<Prefix>_Settings__mdt`.
pub fn settings_object(tree: &SourceTree) -> Result<String, MdapiError> {
    let found: BTreeSet<&str> = tree
        .keys()
        .filter_map(|path| {
            let mut parts = path.split('/');
            match (parts.next(), parts.next()) {
                (Some("objects"), Some(object)) if object.ends_with(SETTINGS_SUFFIX) => {
                    Some(object)
                }
                _ => None,
            }
        })
        .collect();
    let mut iter = found.iter();
    match (iter.next(), iter.next()) {
        (None, _) => Err(MdapiError::NoSettingsType),
        (Some(one), None) => Ok((*one).to_string()),
        _ => Err(MdapiError::SeveralSettingsTypes(
            found.into_iter().collect::<Vec<_>>().join(", "),
        )),
    }
}

/// The generated test classes (`classes/*Tests.cls`), sorted.
pub fn test_classes(tree: &SourceTree) -> Vec<String> {
    tree.keys()
        .filter_map(|p| p.strip_prefix("classes/")?.strip_suffix(".cls"))
        .filter(|name| !name.contains('/') && name.ends_with(TEST_CLASS_SUFFIX))
        .map(str::to_string)
        .collect()
}

/// The API version of a generated tree: the `<apiVersion>` all its Apex `-meta.xml` files share.
pub fn api_version(tree: &SourceTree) -> Result<String, MdapiError> {
    let mut versions: BTreeMap<String, &str> = BTreeMap::new();
    for (path, content) in tree {
        if !(path.ends_with(".cls-meta.xml") || path.ends_with(".trigger-meta.xml")) {
            continue;
        }
        let root = parse_xml(path, content)?;
        let version = root
            .elements()
            .find(|e| e.name == "apiVersion")
            .and_then(Element::text)
            .map(|t| t.trim().to_string())
            .ok_or_else(|| MdapiError::ApiVersion(format!("{path} has no <apiVersion>")))?;
        versions.entry(version).or_insert(path.as_str());
    }
    let mut iter = versions.iter();
    match (iter.next(), iter.next()) {
        (None, _) => Err(MdapiError::ApiVersion(
            "no Apex -meta.xml file to read the API version from".to_string(),
        )),
        (Some((version, _)), None) => {
            let valid = version.split_once('.').is_some_and(|(major, minor)| {
                !major.is_empty()
                    && !minor.is_empty()
                    && major
                        .bytes()
                        .chain(minor.bytes())
                        .all(|b| b.is_ascii_digit())
            });
            if valid {
                Ok(version.clone())
            } else {
                Err(MdapiError::ApiVersion(format!(
                    "<apiVersion>{version}</apiVersion> is not a version like 63.0"
                )))
            }
        }
        (Some((a, pa)), Some((b, pb))) => Err(MdapiError::ApiVersion(format!(
            "Apex files disagree on the API version: {pa} has {a}, {pb} has {b}"
        ))),
    }
}

/// Checks that a tree is one sfhooks generated: exactly one settings type, every Apex file with
/// the sfhooks header and its `-meta.xml`, every file of a kind sfhooks writes.
pub fn check_generated(tree: &SourceTree) -> Result<(), MdapiError> {
    let header = crate::render::GENERATED_HEADER.trim_end();
    for (path, content) in tree {
        let is_apex = path.ends_with(".cls") || path.ends_with(".trigger");
        if is_apex && content.lines().next().map(str::trim_end) != Some(header) {
            return Err(MdapiError::NotGenerated { path: path.clone() });
        }
    }
    settings_object(tree)?;
    // The conversion checks everything else: known kinds, companions, object files, XML.
    convert(tree).map(|_| ())
}

/// The prefix of a generated tree: its settings type `<Prefix>_Settings__mdt` without the suffix.
pub fn tree_prefix(tree: &SourceTree) -> Result<String, MdapiError> {
    let settings = settings_object(tree)?;
    Ok(settings
        .strip_suffix(SETTINGS_SUFFIX)
        .unwrap_or(&settings)
        .to_string())
}

/// The triggers a generated tree's `<Prefix>TriggersTests` class covers: the template writes one
/// `it_should_run_<Trigger>_without_failing_the_save` method per generated trigger
/// (templates/classes/TriggersTests.cls.tera). Sorted, without duplicates.
pub fn covered_triggers(tree: &SourceTree, prefix: &str) -> Vec<String> {
    const START: &str = "it_should_run_";
    const END: &str = "_without_failing_the_save(";
    let Some(tests) = tree.get(&format!("classes/{prefix}TriggersTests.cls")) else {
        return Vec::new();
    };
    let found: BTreeSet<String> = tests
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find(START)? + START.len()..];
            let name = &rest[..rest.find(END)?];
            is_plain_name(name).then(|| name.to_string())
        })
        .collect();
    found.into_iter().collect()
}

/// Letters, digits and underscores: what an Apex trigger name is made of.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks that a generated tree has every file sfhooks writes for it: each path of `reference`
/// (the tree sfhooks renders for the same prefix with no objects, i.e. everything but the
/// per-object triggers) and, for each trigger its trigger tests cover, the trigger and its
/// `-meta.xml`. A tree with a file deleted in review would otherwise deploy without it.
pub fn check_complete(
    tree: &SourceTree,
    reference: &SourceTree,
    prefix: &str,
) -> Result<(), MdapiError> {
    let triggers = covered_triggers(tree, prefix);
    let expected = reference
        .keys()
        .cloned()
        .chain(triggers.iter().flat_map(|t| {
            [
                format!("triggers/{t}.trigger"),
                format!("triggers/{t}.trigger-meta.xml"),
            ]
        }));
    let missing: Vec<String> = expected.filter(|p| !tree.contains_key(p)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MdapiError::MissingFiles(missing))
    }
}

/// Reads a generated source tree from disk (`sfhooks package --from DIR`) and checks it with
/// [`check_generated`]. Dotfiles (`.DS_Store`, `.gitkeep`) are skipped; links are refused.
pub fn read_tree(dir: &Path) -> Result<SourceTree, MdapiError> {
    let mut tree = SourceTree::new();
    read_dir_into(dir, "", &mut tree)?;
    if tree.is_empty() {
        return Err(MdapiError::Empty);
    }
    check_generated(&tree)?;
    Ok(tree)
}

fn read_dir_into(dir: &Path, prefix: &str, tree: &mut SourceTree) -> Result<(), MdapiError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MdapiError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| MdapiError::NotUtf8(path.clone()))?;
        if name.starts_with('.') {
            continue;
        }
        let relative = format!("{prefix}{name}");
        let file_type = entry.file_type().map_err(io(&path))?;
        if file_type.is_symlink() {
            return Err(MdapiError::Symlink(path));
        } else if file_type.is_dir() {
            read_dir_into(&path, &format!("{relative}/"), tree)?;
        } else {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let text = String::from_utf8(bytes).map_err(|_| MdapiError::NotUtf8(path.clone()))?;
            tree.insert(relative, text);
        }
    }
    Ok(())
}
