//! What a generated source tree on disk holds, read back for `sfhooks package --from`: its
//! settings type, prefix and API version, and whether it is sfhooks' own. (What the tree should
//! contain is its manifest's business: `crate::generated`.)
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::xml::Element;
use super::{convert, parse_xml, MdapiError, SourceTree, SETTINGS_SUFFIX};

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
