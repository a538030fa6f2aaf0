//! Metadata API format: the generated SFDX source tree -> the "mdapi" layout, `package.xml`,
//! `destructiveChanges.xml`, the secret record, and a deterministic zip (issue 3).
//!
//! The conversion matches what `sf project convert source` (source-deploy-retrieve, "SDR") makes of
//! the same tree, with one deliberate difference: SDR appends an object's decomposed children
//! (`<fields>`, `<listViews>`, ...) after the object's own elements, which breaks the
//! `xsd:sequence` of `CustomObject` in the Metadata API WSDL; here every child element is placed
//! where the schema puts it ([`CUSTOM_OBJECT_SEQUENCE`]). See docs/package.md.
//!
//! Everything here is pure (no I/O) except [`read_tree`], which reads a generated tree from disk
//! for `sfhooks package --from`. No state is shared.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Write};
use std::path::PathBuf;

use crate::redacted::Redacted;
pub use crate::render::SourceTree;

mod manifest;
mod tree;
mod xml;

pub use manifest::{collate, package_xml, Component};
pub use tree::{api_version, check_generated, read_tree, settings_object, tree_prefix};
use xml::{Element, Node, XmlError};

/// The Metadata API namespace every metadata file and manifest uses.
pub const METADATA_NS: &str = "http://soap.sforce.com/2006/04/metadata";
/// The manifest at the root of every zip.
pub const PACKAGE_XML: &str = "package.xml";
/// The delete manifest of an uninstall zip.
pub const DESTRUCTIVE_CHANGES_XML: &str = "destructiveChanges.xml";
/// The name of the settings record that carries the secret: `<Prefix>_Settings.Default`.
pub const SECRET_RECORD_NAME: &str = "Default";
/// The field of the settings type that holds the signing secret.
pub const SECRET_FIELD: &str = "Secret__c";
/// The settings checkbox that turns event capture off.
pub const BYPASS_CAPTURE_FIELD: &str = "Bypass_Capture__c";
/// The settings checkbox that turns delivery off.
pub const BYPASS_DELIVERY_FIELD: &str = "Bypass_Delivery__c";
/// How the settings Custom Metadata Type's name ends: `<Prefix>_Settings__mdt`.
pub const SETTINGS_SUFFIX: &str = "_Settings__mdt";
/// Generated test classes are the classes whose name ends with this.
pub const TEST_CLASS_SUFFIX: &str = "Tests";

/// The child elements of `CustomObject`, in the order of its `xsd:sequence` in the Metadata API
/// WSDL, version 63.0 (`metadata-63.0.wsdl`, complexType `CustomObject`, after the inherited
/// `fullName`). A unit test compares this list with the WSDL whenever the WSDL is present.
pub const CUSTOM_OBJECT_SEQUENCE: &[&str] = &[
    "fullName",
    "actionOverrides",
    "allowInChatterGroups",
    "articleTypeChannelDisplay",
    "businessProcesses",
    "compactLayoutAssignment",
    "compactLayouts",
    "customHelp",
    "customHelpPage",
    "customSettingsType",
    "deploymentStatus",
    "deprecated",
    "description",
    "enableActivities",
    "enableBulkApi",
    "enableDataTranslation",
    "enableDivisions",
    "enableEnhancedLookup",
    "enableFeeds",
    "enableHistory",
    "enableLicensing",
    "enablePublishStatusTracking",
    "enableReports",
    "enableSearch",
    "enableSharing",
    "enableStreamingApi",
    "eventType",
    "externalDataSource",
    "externalName",
    "externalRepository",
    "externalSharingModel",
    "fieldSets",
    "fields",
    "gender",
    "historyRetentionPolicy",
    "household",
    "indexes",
    "label",
    "listViews",
    "mktDataLakeAttributes",
    "mktDataModelAttributes",
    "nameField",
    "pluralLabel",
    "profileSearchLayouts",
    "publishBehavior",
    "recordTypeTrackFeedHistory",
    "recordTypeTrackHistory",
    "recordTypes",
    "searchLayouts",
    "sharingModel",
    "sharingReasons",
    "sharingRecalculations",
    "startsWith",
    "validationRules",
    "visibility",
    "webLinks",
];

/// A component type that is one file (plus, for Apex, its `-meta.xml`) in both formats.
struct FileType {
    /// Folder under the source root, the same in both formats.
    folder: &'static str,
    /// Suffix of the file that names the component, in source format.
    source_suffix: &'static str,
    /// Suffix of the same file in the zip.
    mdapi_suffix: &'static str,
    /// A second file that must sit beside the first (Apex code's `-meta.xml`), same in both formats.
    meta_suffix: Option<&'static str>,
    /// The Metadata API type name in package.xml.
    type_name: &'static str,
}

/// The types sfhooks generates or may generate, with SDR's names for them in both formats
/// (SDR's `metadataRegistry.json`: `suffix`, `directoryName`, and `-meta.xml` for source format).
const FILE_TYPES: &[FileType] = &[
    FileType {
        folder: "classes",
        source_suffix: ".cls",
        mdapi_suffix: ".cls",
        meta_suffix: Some(".cls-meta.xml"),
        type_name: "ApexClass",
    },
    FileType {
        folder: "triggers",
        source_suffix: ".trigger",
        mdapi_suffix: ".trigger",
        meta_suffix: Some(".trigger-meta.xml"),
        type_name: "ApexTrigger",
    },
    FileType {
        folder: "remoteSiteSettings",
        source_suffix: ".remoteSite-meta.xml",
        mdapi_suffix: ".remoteSite",
        meta_suffix: None,
        type_name: "RemoteSiteSetting",
    },
    FileType {
        folder: "tabs",
        source_suffix: ".tab-meta.xml",
        mdapi_suffix: ".tab",
        meta_suffix: None,
        type_name: "CustomTab",
    },
    FileType {
        folder: "permissionsets",
        source_suffix: ".permissionset-meta.xml",
        mdapi_suffix: ".permissionset",
        meta_suffix: None,
        type_name: "PermissionSet",
    },
    FileType {
        folder: "customPermissions",
        source_suffix: ".customPermission-meta.xml",
        mdapi_suffix: ".customPermission",
        meta_suffix: None,
        type_name: "CustomPermission",
    },
    FileType {
        folder: "customMetadata",
        source_suffix: ".md-meta.xml",
        mdapi_suffix: ".md",
        meta_suffix: None,
        type_name: "CustomMetadata",
    },
    FileType {
        folder: "layouts",
        source_suffix: ".layout-meta.xml",
        mdapi_suffix: ".layout",
        meta_suffix: None,
        type_name: "Layout",
    },
    FileType {
        folder: "flexipages",
        source_suffix: ".flexipage-meta.xml",
        mdapi_suffix: ".flexipage",
        meta_suffix: None,
        type_name: "FlexiPage",
    },
    FileType {
        folder: "applications",
        source_suffix: ".app-meta.xml",
        mdapi_suffix: ".app",
        meta_suffix: None,
        type_name: "CustomApplication",
    },
];

/// A decomposed child of an object: `objects/<Object>/<folder>/<Name><suffix>` in source format,
/// an `<element>` inside `objects/<Object>.object` in the zip, `<type_name>` `<Object>.<Name>`
/// in package.xml (SDR lists every child as its own member).
struct ChildType {
    folder: &'static str,
    suffix: &'static str,
    /// The child file's root element, and the type name in package.xml.
    type_name: &'static str,
    /// The element of `CustomObject` it becomes.
    element: &'static str,
}

const CHILD_TYPES: &[ChildType] = &[
    ChildType {
        folder: "businessProcesses",
        suffix: ".businessProcess-meta.xml",
        type_name: "BusinessProcess",
        element: "businessProcesses",
    },
    ChildType {
        folder: "compactLayouts",
        suffix: ".compactLayout-meta.xml",
        type_name: "CompactLayout",
        element: "compactLayouts",
    },
    ChildType {
        folder: "fieldSets",
        suffix: ".fieldSet-meta.xml",
        type_name: "FieldSet",
        element: "fieldSets",
    },
    ChildType {
        folder: "fields",
        suffix: ".field-meta.xml",
        type_name: "CustomField",
        element: "fields",
    },
    ChildType {
        folder: "indexes",
        suffix: ".index-meta.xml",
        type_name: "Index",
        element: "indexes",
    },
    ChildType {
        folder: "listViews",
        suffix: ".listView-meta.xml",
        type_name: "ListView",
        element: "listViews",
    },
    ChildType {
        folder: "recordTypes",
        suffix: ".recordType-meta.xml",
        type_name: "RecordType",
        element: "recordTypes",
    },
    ChildType {
        folder: "sharingReasons",
        suffix: ".sharingReason-meta.xml",
        type_name: "SharingReason",
        element: "sharingReasons",
    },
    ChildType {
        folder: "validationRules",
        suffix: ".validationRule-meta.xml",
        type_name: "ValidationRule",
        element: "validationRules",
    },
    ChildType {
        folder: "webLinks",
        suffix: ".webLink-meta.xml",
        type_name: "WebLink",
        element: "webLinks",
    },
];

const OBJECT_SUFFIX: &str = ".object-meta.xml";
const OBJECT_TYPE: &str = "CustomObject";

/// Why a tree could not be packaged. Messages name the file and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MdapiError {
    /// A file of a kind sfhooks never generates.
    #[error("{path}: not a file sfhooks generates (unknown folder or suffix)")]
    UnsupportedFile {
        /// Path relative to the source folder.
        path: String,
    },
    /// A metadata file that is not well-formed XML.
    #[error("{path}: {source}")]
    Xml {
        /// Path relative to the source folder.
        path: String,
        /// What the parser said.
        source: XmlError,
    },
    /// A metadata file whose root element is not the one its path calls for.
    #[error("{path}: root element is <{found}>, expected <{expected}>")]
    WrongRoot {
        /// Path relative to the source folder.
        path: String,
        /// The root element found.
        found: String,
        /// The root element the path calls for.
        expected: &'static str,
    },
    /// An object file with an element the Metadata API does not know.
    #[error("{path}: <{element}> is not an element of CustomObject in the Metadata API")]
    UnknownElement {
        /// Path relative to the source folder.
        path: String,
        /// The element.
        element: String,
    },
    /// An object folder without `<Object>.object-meta.xml`.
    #[error("{path}: the object folder has no {expected}")]
    MissingObjectFile {
        /// The file found in the folder.
        path: String,
        /// The file that is missing.
        expected: String,
    },
    /// An Apex file without its `-meta.xml`, or the other way round.
    #[error("{path} has no {expected} beside it")]
    MissingCompanion {
        /// The file found.
        path: String,
        /// The file that is missing.
        expected: String,
    },
    /// A child whose `<fullName>` disagrees with its file name.
    #[error("{path}: <fullName> is {found:?} but the file name says {expected:?}")]
    FullNameMismatch {
        /// Path relative to the source folder.
        path: String,
        /// The `<fullName>` in the file.
        found: String,
        /// The name from the file name.
        expected: String,
    },
    /// An Apex file without the header sfhooks writes.
    #[error("{path} was not generated by sfhooks (its first line is not the sfhooks header)")]
    NotGenerated {
        /// Path relative to the source folder.
        path: String,
    },
    /// Files every tree sfhooks generates holds (for its prefix, or for a trigger its trigger
    /// tests cover) are not there.
    #[error("{}", missing_files_message(.0))]
    MissingFiles(Vec<String>),
    /// The settings type's prefix is not one sfhooks accepts.
    #[error("the settings type's prefix {prefix:?} is not one sfhooks generates: {reason}")]
    ForeignPrefix {
        /// The prefix, from `objects/<Prefix>_Settings__mdt`.
        prefix: String,
        /// Why it is not valid.
        reason: String,
    },
    /// No settings type, so not a tree sfhooks generated.
    #[error("no objects/<Prefix>{SETTINGS_SUFFIX} folder: not a tree sfhooks generated")]
    NoSettingsType,
    /// More than one settings type.
    #[error("several settings types ({0}): a tree sfhooks generates has exactly one")]
    SeveralSettingsTypes(String),
    /// The settings type lacks a field the secret record sets.
    #[error("the settings type {object} has no field {field} (objects/{object}/fields/{field}.field-meta.xml)")]
    MissingSettingsField {
        /// The settings type.
        object: String,
        /// The missing field.
        field: &'static str,
    },
    /// Apex files disagree on `<apiVersion>`, or none has one.
    #[error("{0}")]
    ApiVersion(String),
    /// Two files would land on the same zip entry.
    #[error("two files would become the zip entry {0}")]
    Duplicate(String),
    /// A path that could escape the package: absolute, `..`, backslashes, empty parts.
    #[error("unsafe path {0:?}: zip entries are relative paths without '..'")]
    UnsafePath(String),
    /// The tree has nothing in it.
    #[error("the source tree is empty")]
    Empty,
    /// Reading the tree from disk failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file that is not UTF-8 text.
    #[error("{} is not UTF-8 text", .0.display())]
    NotUtf8(PathBuf),
    /// A symbolic link in the tree: refused so nothing outside the folder can reach the zip.
    #[error("{} is a symbolic link; sfhooks generate never writes links", .0.display())]
    Symlink(PathBuf),
    /// The zip library failed (out of memory and the like).
    #[error("cannot build the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// "N files of the generated tree are missing: a, b, c and 2 more".
fn missing_files_message(files: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut list = files
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > SHOWN {
        list.push_str(&format!(" and {} more", files.len() - SHOWN));
    }
    let count = files.len();
    let (noun, verb) = if count == 1 {
        ("file", "is")
    } else {
        ("files", "are")
    };
    format!("{count} {noun} that sfhooks generates for this tree {verb} missing: {list}")
}

/// Which zip to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PackageKind {
    /// Everything generated, plus the secret record when given.
    Deploy,
    /// `package.xml` with only `<version>`, and `destructiveChanges.xml` listing every component.
    Uninstall,
}

/// The settings record that carries the signing secret: `customMetadata/<Type>.Default.md`.
///
/// The secret stays wrapped in [`Redacted`] until [`SecretRecord::to_xml`] writes it into the
/// zip entry, the only place it is ever written.
#[derive(Debug, Clone)]
pub struct SecretRecord {
    /// The settings object, e.g. `Sfhooks_Settings__mdt`.
    object: String,
    secret: Redacted<String>,
}

impl SecretRecord {
    /// A record for the settings object (`<Prefix>_Settings__mdt`) holding `secret`.
    pub fn new(settings_object: &str, secret: Redacted<String>) -> Self {
        SecretRecord {
            object: settings_object.to_string(),
            secret,
        }
    }

    /// The settings object it belongs to.
    pub fn settings_object(&self) -> &str {
        &self.object
    }

    /// Its package.xml member, `<Type>.Default` (the type without `__mdt`).
    pub fn member(&self) -> String {
        record_member(&self.object)
    }

    /// Its zip entry, `customMetadata/<Type>.Default.md`.
    pub fn path(&self) -> String {
        format!("customMetadata/{}.md", self.member())
    }

    /// The record's XML. The `xsi` and `xsd` prefixes are declared on the root because each
    /// `<value>` names its type with `xsi:type="xsd:..."`, which a schema validator resolves
    /// through those declarations.
    pub fn to_xml(&self) -> String {
        let mut root = Element::new("CustomMetadata");
        root.attrs = format!(
            "xmlns=\"{METADATA_NS}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
        );
        let mut children = vec![
            Element::leaf("label", SECRET_RECORD_NAME),
            Element::leaf("protected", "false"),
        ];
        // Values in field order, as `sf cmdt generate record` writes them.
        let values = [
            (BYPASS_CAPTURE_FIELD, "xsd:boolean", "false".to_string()),
            (BYPASS_DELIVERY_FIELD, "xsd:boolean", "false".to_string()),
            (
                SECRET_FIELD,
                "xsd:string",
                quick_xml::escape::escape(self.secret.expose().as_str()).into_owned(),
            ),
        ];
        for (field, xsd_type, value) in values {
            let mut value_element = Element::leaf("value", value);
            value_element.attrs = format!("xsi:type=\"{xsd_type}\"");
            let mut entry = Element::new("values");
            entry.children = vec![
                Node::Element(Element::leaf("field", field)),
                Node::Element(value_element),
            ];
            children.push(entry);
        }
        root.children = children.into_iter().map(Node::Element).collect();
        xml::write_document(&root)
    }
}

/// `Sfhooks_Settings__mdt` -> `Sfhooks_Settings.Default`.
fn record_member(settings_object: &str) -> String {
    let type_name = settings_object
        .strip_suffix("__mdt")
        .unwrap_or(settings_object);
    format!("{type_name}.{SECRET_RECORD_NAME}")
}

/// A source tree in Metadata API layout: zip entry -> content, and the components it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted {
    /// Zip entry path -> file content (package.xml not included).
    pub files: BTreeMap<String, String>,
    /// Every component, children of objects included.
    pub components: BTreeSet<Component>,
}

impl Converted {
    fn insert(&mut self, path: String, content: String) -> Result<(), MdapiError> {
        if self.files.contains_key(&path) {
            return Err(MdapiError::Duplicate(path));
        }
        self.files.insert(path, content);
        Ok(())
    }
}

/// The Metadata API type of the component a source file belongs to (`classes/X.cls` and
/// `classes/X.cls-meta.xml` are both `ApexClass`), from the same registry the conversion uses;
/// `None` for a file of a kind sfhooks does not package.
pub fn metadata_type(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["objects", object, file] => {
            (*file == format!("{object}{OBJECT_SUFFIX}")).then_some(OBJECT_TYPE)
        }
        ["objects", _, folder, file] => CHILD_TYPES
            .iter()
            .find(|c| c.folder == *folder && file.ends_with(c.suffix))
            .map(|c| c.type_name),
        [folder, file] => FILE_TYPES
            .iter()
            .find(|t| {
                t.folder == *folder
                    && (file.ends_with(t.source_suffix)
                        || t.meta_suffix.is_some_and(|m| file.ends_with(m)))
            })
            .map(|t| t.type_name),
        _ => None,
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
fn check_path(path: &str) -> Result<(), MdapiError> {
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

fn parse_xml(path: &str, text: &str) -> Result<Element, MdapiError> {
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

/// Builds the zip: the converted tree plus `package.xml` (and the secret record), or for
/// [`PackageKind::Uninstall`] an empty `package.xml` plus `destructiveChanges.xml` naming every
/// component, the settings record included.
///
/// The bytes depend only on the inputs: entries sorted by path, every entry dated 1980-01-01
/// 00:00 with mode 0644, deflate at a fixed level, no directory entries, no extra fields.
pub fn build_zip(
    tree: &SourceTree,
    api_version: &str,
    secret: Option<&SecretRecord>,
    kind: PackageKind,
) -> Result<Vec<u8>, MdapiError> {
    let mut converted = convert(tree)?;
    let settings = settings_object(tree)?;
    let entries = match kind {
        PackageKind::Deploy => {
            if let Some(record) = secret {
                for field in [SECRET_FIELD, BYPASS_CAPTURE_FIELD, BYPASS_DELIVERY_FIELD] {
                    let path = format!(
                        "objects/{}/fields/{field}.field-meta.xml",
                        record.settings_object()
                    );
                    if !tree.contains_key(&path) {
                        return Err(MdapiError::MissingSettingsField {
                            object: record.settings_object().to_string(),
                            field,
                        });
                    }
                }
                converted.insert(record.path(), record.to_xml())?;
                converted
                    .components
                    .insert(Component::new("CustomMetadata", record.member()));
            }
            let manifest = package_xml(&converted.components, api_version);
            converted.insert(PACKAGE_XML.to_string(), manifest)?;
            converted.files
        }
        PackageKind::Uninstall => {
            // The record is not in the tree (it carries the secret), but the deploy zip
            // shipped it: delete it too.
            let mut components = converted.components;
            components.insert(Component::new("CustomMetadata", record_member(&settings)));
            BTreeMap::from([
                (
                    DESTRUCTIVE_CHANGES_XML.to_string(),
                    package_xml(&components, api_version),
                ),
                (
                    PACKAGE_XML.to_string(),
                    package_xml(&BTreeSet::new(), api_version),
                ),
            ])
        }
    };
    write_zip(&entries)
}

/// Writes entries (already sorted: a BTreeMap) into a zip with fixed metadata.
fn write_zip(entries: &BTreeMap<String, String>) -> Result<Vec<u8>, MdapiError> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .large_file(false);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, content) in entries {
        check_path(path)?;
        writer.start_file(path.as_str(), options)?;
        writer
            .write_all(content.as_bytes())
            .map_err(|e| MdapiError::Zip(e.into()))?;
    }
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "xmlns=\"http://soap.sforce.com/2006/04/metadata\"";

    fn tree(files: &[(&str, &str)]) -> SourceTree {
        files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    fn field(name: &str) -> String {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CustomField {NS}>\n    <fullName>{name}</fullName>\n    <label>{name}</label>\n    <type>Text</type>\n</CustomField>\n")
    }

    fn object_tree() -> SourceTree {
        let object = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CustomObject {NS}>\n    <deploymentStatus>Deployed</deploymentStatus>\n    <label>Outbox</label>\n    <nameField>\n        <label>Name</label>\n        <type>AutoNumber</type>\n    </nameField>\n    <pluralLabel>Outbox</pluralLabel>\n    <sharingModel>ReadWrite</sharingModel>\n</CustomObject>\n"
        );
        let view = format!("<ListView {NS}>\n    <fullName>Pending</fullName>\n    <filterScope>Everything</filterScope>\n    <label>Pending</label>\n</ListView>\n");
        tree(&[
            ("objects/X_Outbox__c/X_Outbox__c.object-meta.xml", &object),
            (
                "objects/X_Outbox__c/fields/Status__c.field-meta.xml",
                &field("Status__c"),
            ),
            (
                "objects/X_Outbox__c/fields/Attempts__c.field-meta.xml",
                &field("Attempts__c"),
            ),
            (
                "objects/X_Outbox__c/listViews/Pending.listView-meta.xml",
                &view,
            ),
        ])
    }

    fn element_names(xml: &str) -> Vec<String> {
        xml::parse(xml)
            .expect("valid")
            .elements()
            .map(|e| e.name.clone())
            .collect()
    }

    #[test]
    fn folds_children_where_the_schema_puts_them() {
        let converted = convert(&object_tree()).expect("converts");
        let object = &converted.files["objects/X_Outbox__c.object"];
        // fields between externalSharingModel..gender, listViews after label: not appended last
        // the way `sf project convert source` does it.
        assert_eq!(
            element_names(object),
            [
                "deploymentStatus",
                "fields",
                "fields",
                "label",
                "listViews",
                "nameField",
                "pluralLabel",
                "sharingModel"
            ]
        );
        let attempts = object.find("<fullName>Attempts__c").expect("attempts");
        let status = object.find("<fullName>Status__c").expect("status");
        assert!(attempts < status, "fields sorted by name");
        assert!(object.contains("    <fields>\n        <fullName>Attempts__c</fullName>\n"));
        assert!(!object.contains("<CustomField"), "child roots are renamed");
    }

    #[test]
    fn lists_every_folded_child_as_its_own_member() {
        let converted = convert(&object_tree()).expect("converts");
        let members: Vec<(String, String)> = converted
            .components
            .iter()
            .map(|c| (c.type_name.clone(), c.member.clone()))
            .collect();
        assert_eq!(
            members,
            [
                ("CustomField".into(), "X_Outbox__c.Attempts__c".into()),
                ("CustomField".into(), "X_Outbox__c.Status__c".into()),
                ("CustomObject".into(), "X_Outbox__c".into()),
                ("ListView".into(), "X_Outbox__c.Pending".into()),
            ]
        );
    }

    #[test]
    fn package_xml_sorts_types_and_members_and_puts_version_last() {
        let components: BTreeSet<Component> = [
            Component::new("RemoteSiteSetting", "B"),
            Component::new("ApexClass", "Zed"),
            Component::new("ApexClass", "Alpha"),
            Component::new("ApexClass", "Beta_x"),
        ]
        .into();
        let expected = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Package {NS}>\n    <types>\n        <members>Alpha</members>\n        <members>Beta_x</members>\n        <members>Zed</members>\n        <name>ApexClass</name>\n    </types>\n    <types>\n        <members>B</members>\n        <name>RemoteSiteSetting</name>\n    </types>\n    <version>63.0</version>\n</Package>\n"
        );
        assert_eq!(package_xml(&components, "63.0"), expected);
        assert_eq!(
            package_xml(&BTreeSet::new(), "63.0"),
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Package {NS}>\n    <version>63.0</version>\n</Package>\n")
        );
    }

    #[test]
    fn renames_meta_only_types_and_keeps_apex_pairs() {
        let t = tree(&[
            ("classes/A.cls", "x"),
            ("classes/A.cls-meta.xml", "m"),
            ("remoteSiteSettings/S.remoteSite-meta.xml", "r"),
            ("customPermissions/P.customPermission-meta.xml", "p"),
            ("permissionsets/Q.permissionset-meta.xml", "q"),
            ("tabs/T__c.tab-meta.xml", "t"),
        ]);
        let converted = convert(&t).expect("converts");
        let paths: Vec<&str> = converted.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "classes/A.cls",
                "classes/A.cls-meta.xml",
                "customPermissions/P.customPermission",
                "permissionsets/Q.permissionset",
                "remoteSiteSettings/S.remoteSite",
                "tabs/T__c.tab"
            ]
        );
        let types: Vec<&str> = converted
            .components
            .iter()
            .map(|c| c.type_name.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "ApexClass",
                "CustomPermission",
                "CustomTab",
                "PermissionSet",
                "RemoteSiteSetting"
            ]
        );
    }

    #[test]
    fn refuses_incomplete_or_foreign_trees() {
        let missing_meta = tree(&[("classes/A.cls", "x")]);
        assert!(matches!(
            convert(&missing_meta),
            Err(MdapiError::MissingCompanion { .. })
        ));
        let missing_code = tree(&[("triggers/A.trigger-meta.xml", "x")]);
        assert!(matches!(
            convert(&missing_code),
            Err(MdapiError::MissingCompanion { .. })
        ));
        let orphan_field = tree(&[("objects/O__c/fields/F__c.field-meta.xml", &field("F__c"))]);
        assert!(matches!(
            convert(&orphan_field),
            Err(MdapiError::MissingObjectFile { .. })
        ));
        let unknown = tree(&[("staticresources/x.resource", "x")]);
        assert!(matches!(
            convert(&unknown),
            Err(MdapiError::UnsupportedFile { .. })
        ));
        let escape = tree(&[("classes/../A.cls", "x")]);
        assert!(matches!(convert(&escape), Err(MdapiError::UnsafePath(_))));
        assert!(matches!(
            convert(&SourceTree::new()),
            Err(MdapiError::Empty)
        ));
    }

    #[test]
    fn refuses_unknown_object_elements_and_wrong_child_names() {
        let mut t = object_tree();
        t.insert(
            "objects/X_Outbox__c/X_Outbox__c.object-meta.xml".into(),
            format!("<CustomObject {NS}><label>x</label><colour>red</colour></CustomObject>"),
        );
        assert!(matches!(
            convert(&t),
            Err(MdapiError::UnknownElement { element, .. }) if element == "colour"
        ));
        let mut t = object_tree();
        t.insert(
            "objects/X_Outbox__c/fields/Other__c.field-meta.xml".into(),
            field("Status__c"),
        );
        assert!(matches!(
            convert(&t),
            Err(MdapiError::FullNameMismatch { .. })
        ));
    }

    #[test]
    fn adds_a_missing_full_name_to_a_folded_child() {
        let mut t = object_tree();
        t.insert(
            "objects/X_Outbox__c/fields/Status__c.field-meta.xml".into(),
            format!("<CustomField {NS}><label>S</label></CustomField>"),
        );
        let converted = convert(&t).expect("converts");
        assert!(converted.files["objects/X_Outbox__c.object"].contains(
            "<fields>\n        <fullName>Status__c</fullName>\n        <label>S</label>"
        ));
    }

    #[test]
    fn collates_like_locale_compare() {
        let mut names = vec![
            "Status__c",
            "attempts__c",
            "Next_Attempt__c",
            "NextAttempt__c",
            "A1",
        ];
        names.sort_by(|a, b| collate(a, b));
        assert_eq!(
            names,
            [
                "A1",
                "attempts__c",
                "Next_Attempt__c",
                "NextAttempt__c",
                "Status__c"
            ]
        );
    }

    #[test]
    fn secret_record_escapes_and_declares_xsd() {
        let record = SecretRecord::new("P_Settings__mdt", Redacted::new("a<&\"b".into()));
        assert_eq!(record.member(), "P_Settings.Default");
        assert_eq!(record.path(), "customMetadata/P_Settings.Default.md");
        let xml = record.to_xml();
        assert!(xml.contains("xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""));
        assert!(xml.contains("<value xsi:type=\"xsd:string\">a&lt;&amp;&quot;b</value>"));
        assert!(!format!("{record:?}").contains("a<&"));
    }

    #[test]
    fn finds_the_settings_type_and_test_classes() {
        let t = tree(&[
            (
                "objects/P_Settings__mdt/P_Settings__mdt.object-meta.xml",
                "",
            ),
            ("classes/PDispatcherTests.cls", ""),
            ("classes/PDispatcher.cls", ""),
            ("classes/PDispatcherTests.cls-meta.xml", ""),
        ]);
        assert_eq!(settings_object(&t).expect("one"), "P_Settings__mdt");
        assert!(matches!(
            settings_object(&tree(&[("classes/A.cls", "")])),
            Err(MdapiError::NoSettingsType)
        ));
    }

    #[test]
    fn missing_files_are_counted_and_the_list_is_cut_after_five() {
        let err = MdapiError::MissingFiles(vec![
            "classes/PA.cls-meta.xml".to_string(),
            "triggers/PCaseTrigger.trigger".to_string(),
        ]);
        assert_eq!(
            err.to_string(),
            "2 files that sfhooks generates for this tree are missing: classes/PA.cls-meta.xml, \
             triggers/PCaseTrigger.trigger"
        );
        let many: Vec<String> = (0..7).map(|i| format!("f{i}")).collect();
        assert!(missing_files_message(&many).ends_with("f0, f1, f2, f3, f4 and 2 more"));
    }

    #[test]
    fn reads_one_api_version() {
        let meta = |v: &str| {
            format!(
                "<ApexClass {NS}><apiVersion>{v}</apiVersion><status>Active</status></ApexClass>"
            )
        };
        let t = tree(&[("classes/A.cls-meta.xml", &meta("63.0"))]);
        assert_eq!(api_version(&t).expect("one"), "63.0");
        let t = tree(&[
            ("classes/A.cls-meta.xml", &meta("63.0")),
            ("classes/B.cls-meta.xml", &meta("62.0")),
        ]);
        assert!(matches!(api_version(&t), Err(MdapiError::ApiVersion(_))));
        let t = tree(&[("classes/A.cls-meta.xml", &meta("x"))]);
        assert!(matches!(api_version(&t), Err(MdapiError::ApiVersion(_))));
    }

    #[test]
    fn zip_is_deterministic_sorted_and_dated_1980() {
        let mut t = object_tree();
        t.insert(
            "objects/X_Settings__mdt/X_Settings__mdt.object-meta.xml".into(),
            format!("<CustomObject {NS}><label>S</label></CustomObject>"),
        );
        for f in [SECRET_FIELD, BYPASS_CAPTURE_FIELD, BYPASS_DELIVERY_FIELD] {
            t.insert(
                format!("objects/X_Settings__mdt/fields/{f}.field-meta.xml"),
                field(f),
            );
        }
        let record = SecretRecord::new("X_Settings__mdt", Redacted::new("whsec_x".into()));
        let a = build_zip(&t, "63.0", Some(&record), PackageKind::Deploy).expect("zip");
        let b = build_zip(&t, "63.0", Some(&record), PackageKind::Deploy).expect("zip");
        assert_eq!(a, b);
        let mut archive = zip::ZipArchive::new(Cursor::new(a)).expect("readable");
        let names: Vec<String> = archive.file_names().map(str::to_string).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names.len(), 4);
        for (i, name) in sorted.iter().enumerate() {
            let entry = archive.by_index(i).expect("entry");
            assert_eq!(entry.name(), name);
            assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
            assert_eq!(entry.unix_mode(), Some(0o100644));
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        }
        let uninstall = build_zip(&t, "63.0", None, PackageKind::Uninstall).expect("zip");
        let archive = zip::ZipArchive::new(Cursor::new(uninstall)).expect("readable");
        let names: Vec<&str> = archive.file_names().collect();
        assert_eq!(names, [DESTRUCTIVE_CHANGES_XML, PACKAGE_XML]);
    }

    #[test]
    fn refuses_a_secret_record_the_settings_type_cannot_hold() {
        let mut t = object_tree();
        t.insert(
            "objects/X_Settings__mdt/X_Settings__mdt.object-meta.xml".into(),
            format!("<CustomObject {NS}><label>S</label></CustomObject>"),
        );
        let record = SecretRecord::new("X_Settings__mdt", Redacted::new("whsec_x".into()));
        assert!(matches!(
            build_zip(&t, "63.0", Some(&record), PackageKind::Deploy),
            Err(MdapiError::MissingSettingsField { .. })
        ));
    }

    /// The hard-coded sequence must be the WSDL's. The WSDL is not in the repository (it may not
    /// be committed); it sits beside it in ../shared when the check can run.
    #[test]
    fn custom_object_sequence_matches_the_wsdl() {
        let wsdl = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/salesforce/metadata-63.0.wsdl");
        let Ok(text) = std::fs::read_to_string(&wsdl) else {
            eprintln!("skipped: WSDL not found at {}", wsdl.display());
            return;
        };
        let start = text
            .find("<xsd:complexType name=\"CustomObject\">")
            .expect("CustomObject in the WSDL");
        let body = &text[start..];
        let end = body.find("</xsd:sequence>").expect("end of sequence");
        let mut from_wsdl = vec!["fullName".to_string()];
        for line in body[..end].lines() {
            if let Some(rest) = line.trim().strip_prefix("<xsd:element name=\"") {
                from_wsdl.push(rest.split('"').next().unwrap_or_default().to_string());
            }
        }
        assert_eq!(from_wsdl, CUSTOM_OBJECT_SEQUENCE);
    }
}
