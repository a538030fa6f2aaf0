//! Source format -> Metadata API format: Apex and single-file types as they are (renamed where
//! the formats differ), each object folder folded into one `.object` in the schema's order.
use std::collections::{BTreeMap, BTreeSet};

use super::manifest::{collate, Component};
use super::registry::{
    ChildType, CHILD_TYPES, CUSTOM_OBJECT_SEQUENCE, FILE_TYPES, OBJECT_SUFFIX, OBJECT_TYPE,
};
use super::xml::{self, Element, Node};
use super::{MdapiError, SourceTree};

/// A source tree in Metadata API layout: zip entry -> content, and the components it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted {
    /// Zip entry path -> file content (package.xml not included).
    pub files: BTreeMap<String, String>,
    /// Every component, children of objects included.
    pub components: BTreeSet<Component>,
}

impl Converted {
    pub(super) fn insert(&mut self, path: String, content: String) -> Result<(), MdapiError> {
        if self.files.contains_key(&path) {
            return Err(MdapiError::Duplicate(path));
        }
        self.files.insert(path, content);
        Ok(())
    }
}

/// Converts a source tree into Metadata API layout: Apex files as they are, `-meta.xml`-only
/// types renamed (`X.remoteSite-meta.xml` -> `X.remoteSite`), and each object folder folded
/// into `objects/<Object>.object` with its children in the schema's order.
pub fn convert(tree: &SourceTree) -> Result<Converted, MdapiError> {
    if tree.is_empty() {
        return Err(MdapiError::Empty);
    }
    let mut out = Converted::default();
    let mut objects: BTreeMap<&str, ObjectFiles<'_>> = BTreeMap::new();

    for (path, content) in tree {
        check_path(path)?;
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["objects", object, file] => {
                let expected = format!("{object}{OBJECT_SUFFIX}");
                if *file != expected {
                    return Err(MdapiError::UnsupportedFile { path: path.clone() });
                }
                objects.entry(object).or_default().object = Some((path.as_str(), content.as_str()));
            }
            ["objects", object, folder, file] => {
                let child_type = CHILD_TYPES
                    .iter()
                    .find(|c| c.folder == *folder)
                    .ok_or_else(|| MdapiError::UnsupportedFile { path: path.clone() })?;
                let name = file
                    .strip_suffix(child_type.suffix)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| MdapiError::UnsupportedFile { path: path.clone() })?;
                objects.entry(object).or_default().children.push(ChildFile {
                    kind: child_type,
                    name,
                    path: path.as_str(),
                    content: content.as_str(),
                });
            }
            [folder, file] => convert_file(tree, &mut out, path, folder, file, content)?,
            _ => return Err(MdapiError::UnsupportedFile { path: path.clone() }),
        }
    }

    for (
        object,
        ObjectFiles {
            object: object_file,
            children,
        },
    ) in objects
    {
        let Some((object_path, object_xml)) = object_file else {
            let path = children
                .first()
                .map(|c| c.path)
                .unwrap_or(object)
                .to_string();
            return Err(MdapiError::MissingObjectFile {
                path,
                expected: format!("objects/{object}/{object}{OBJECT_SUFFIX}"),
            });
        };
        let folded = fold_object(object_path, object_xml, &children)?;
        out.insert(format!("objects/{object}.object"), folded)?;
        out.components.insert(Component::new(OBJECT_TYPE, object));
        for child in &children {
            out.components.insert(Component::new(
                child.kind.type_name,
                format!("{object}.{}", child.name),
            ));
        }
    }
    Ok(out)
}

/// The files of one object folder.
#[derive(Default)]
struct ObjectFiles<'a> {
    /// `objects/<Object>/<Object>.object-meta.xml`: path and content.
    object: Option<(&'a str, &'a str)>,
    children: Vec<ChildFile<'a>>,
}

/// One decomposed child file of an object.
struct ChildFile<'a> {
    kind: &'static ChildType,
    /// The child's name, from its file name.
    name: &'a str,
    path: &'a str,
    content: &'a str,
}

/// Converts one file of a single-file type.
fn convert_file(
    tree: &SourceTree,
    out: &mut Converted,
    path: &str,
    folder: &str,
    file: &str,
    content: &str,
) -> Result<(), MdapiError> {
    let unsupported = || MdapiError::UnsupportedFile {
        path: path.to_string(),
    };
    let file_type = FILE_TYPES
        .iter()
        .find(|t| t.folder == folder)
        .ok_or_else(unsupported)?;
    if let Some(meta_suffix) = file_type.meta_suffix {
        // Apex: the `-meta.xml` travels with its code file; each must have the other.
        if let Some(name) = file.strip_suffix(meta_suffix) {
            let code = format!("{folder}/{name}{}", file_type.source_suffix);
            if name.is_empty() || !tree.contains_key(&code) {
                return Err(MdapiError::MissingCompanion {
                    path: path.to_string(),
                    expected: code,
                });
            }
            return out.insert(path.to_string(), content.to_string());
        }
        let name = file
            .strip_suffix(file_type.source_suffix)
            .filter(|n| !n.is_empty())
            .ok_or_else(unsupported)?;
        let meta = format!("{folder}/{name}{meta_suffix}");
        if !tree.contains_key(&meta) {
            return Err(MdapiError::MissingCompanion {
                path: path.to_string(),
                expected: meta,
            });
        }
        out.components
            .insert(Component::new(file_type.type_name, name));
        return out.insert(path.to_string(), content.to_string());
    }
    let name = file
        .strip_suffix(file_type.source_suffix)
        .filter(|n| !n.is_empty())
        .ok_or_else(unsupported)?;
    out.components
        .insert(Component::new(file_type.type_name, name));
    out.insert(
        format!("{folder}/{name}{}", file_type.mdapi_suffix),
        content.to_string(),
    )
}

/// Zip entries must stay inside the package: relative, `/`-separated, no `.`/`..`/empty parts.
pub(super) fn check_path(path: &str) -> Result<(), MdapiError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains(':')
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(MdapiError::UnsafePath(path.to_string()));
    }
    Ok(())
}

pub(super) fn parse_xml(path: &str, text: &str) -> Result<Element, MdapiError> {
    xml::parse(text).map_err(|source| MdapiError::Xml {
        path: path.to_string(),
        source,
    })
}

fn sequence_index(element: &str) -> Option<usize> {
    CUSTOM_OBJECT_SEQUENCE.iter().position(|e| *e == element)
}

/// Folds an object file and its decomposed children into one `CustomObject` document whose
/// elements follow the schema's sequence. Children of one kind are ordered by name the way SDR
/// orders them (`localeCompare` on the full name; see [`collate`]).
fn fold_object(
    object_path: &str,
    object_xml: &str,
    children: &[ChildFile<'_>],
) -> Result<String, MdapiError> {
    let mut root = parse_xml(object_path, object_xml)?;
    if root.name != OBJECT_TYPE {
        return Err(MdapiError::WrongRoot {
            path: object_path.to_string(),
            found: root.name,
            expected: OBJECT_TYPE,
        });
    }
    // (sequence position, node). A comment goes with the element that follows it.
    let mut keyed: Vec<(usize, Node)> = Vec::new();
    let mut pending_comments: Vec<Node> = Vec::new();
    for node in std::mem::take(&mut root.children) {
        match node {
            Node::Element(e) => {
                let index = sequence_index(&e.name).ok_or_else(|| MdapiError::UnknownElement {
                    path: object_path.to_string(),
                    element: e.name.clone(),
                })?;
                keyed.extend(pending_comments.drain(..).map(|c| (index, c)));
                keyed.push((index, Node::Element(e)));
            }
            other => pending_comments.push(other),
        }
    }

    let mut sorted_children: Vec<_> = children.iter().collect();
    sorted_children.sort_by(|a, b| collate(a.name, b.name));
    for &ChildFile {
        kind: child_type,
        name,
        path,
        content,
    } in sorted_children
    {
        let child = parse_xml(path, content)?;
        if child.name != child_type.type_name {
            return Err(MdapiError::WrongRoot {
                path: path.to_string(),
                found: child.name,
                expected: child_type.type_name,
            });
        }
        // A namespace prefix declared on the child's root (xsi, say) must stay in scope once
        // the root is gone; the default namespace is the object's own.
        for (key, value) in child.attributes() {
            if key.starts_with("xmlns:") && !root.attrs.contains(&format!("{key}=")) {
                root.attrs.push_str(&format!(" {key}=\"{value}\""));
            }
        }
        let mut folded = Element::new(child_type.element);
        folded.children = child.children;
        let full_name = folded
            .elements()
            .find(|e| e.name == "fullName")
            .map(|e| e.text().unwrap_or_default());
        match full_name {
            Some(found) => {
                if found.trim() != name {
                    return Err(MdapiError::FullNameMismatch {
                        path: path.to_string(),
                        found,
                        expected: name.to_string(),
                    });
                }
            }
            // Inside an .object file the child's name comes only from <fullName>.
            None => folded
                .children
                .insert(0, Node::Element(Element::leaf("fullName", name))),
        }
        let index = sequence_index(child_type.element).unwrap_or(usize::MAX);
        keyed.push((index, Node::Element(folded)));
    }
    keyed.extend(pending_comments.into_iter().map(|c| (usize::MAX, c)));
    // Stable: same-kind elements keep the order above.
    keyed.sort_by_key(|(index, _)| *index);
    root.children = keyed.into_iter().map(|(_, node)| node).collect();
    Ok(xml::write_document(&root))
}
