//! The deterministic zip: the converted tree, `package.xml`, the secret record; or the
//! uninstall zip with `destructiveChanges.xml`.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Write};

use super::conversion::{check_path, convert};
use super::manifest::{package_xml, Component};
use super::secret_record::{record_member, SecretRecord};
use super::{
    settings_object, MdapiError, SourceTree, BYPASS_CAPTURE_FIELD, BYPASS_DELIVERY_FIELD,
    DESTRUCTIVE_CHANGES_XML, PACKAGE_XML, SECRET_FIELD,
};

/// Which zip to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PackageKind {
    /// Everything generated, plus the secret record when given.
    Deploy,
    /// `package.xml` with only `<version>`, and `destructiveChanges.xml` listing every component.
    Uninstall,
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
pub(super) fn write_zip(entries: &BTreeMap<String, String>) -> Result<Vec<u8>, MdapiError> {
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
