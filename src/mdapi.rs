//! Metadata API format: the generated SFDX source tree -> the "mdapi" layout, `package.xml`,
//! `destructiveChanges.xml`, the secret record, and a deterministic zip.
//!
//! The conversion matches what `sf project convert source` (source-deploy-retrieve, "SDR") makes of
//! the same tree, with one deliberate difference: SDR appends an object's decomposed children
//! (`<fields>`, `<listViews>`, ...) after the object's own elements, which breaks the
//! `xsd:sequence` of `CustomObject` in the Metadata API WSDL; here every child element is placed
//! where the schema puts it ([`CUSTOM_OBJECT_SEQUENCE`]). See docs/package.md.
//!
//! Everything here is pure (no I/O) except [`read_tree`], which reads a generated tree from disk
//! for `sfhooks package --from`. No state is shared.
//!
//! One module per purpose: `registry` (the metadata types sfhooks packages), `conversion` (source
//! format -> Metadata API format), `secret_record` (the settings record with the secret),
//! `archive` (the deterministic zip), `manifest` (`package.xml`), `tree` (reading a generated
//! tree back), `xml` (the element tree for byte-exact output).
use std::path::PathBuf;

pub use crate::render::SourceTree;

mod archive;
mod conversion;
mod manifest;
mod org_pin;
mod registry;
mod secret_record;
mod tree;
mod xml;

pub use archive::{build_zip, PackageKind};
use conversion::parse_xml;
pub use conversion::{convert, Converted};
pub use manifest::{collate, package_xml, Component};
pub use org_pin::{check_org_id, pin_org_id, same_org, PinError, Pinned, ORG_ID_FIELD};
pub use registry::{metadata_type, CUSTOM_OBJECT_SEQUENCE};
pub use secret_record::SecretRecord;
pub use tree::{api_version, check_generated, read_tree, settings_object, tree_prefix};
use xml::XmlError;

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

#[cfg(test)]
mod tests;
