//! The org pin of the settings record: `Org_Id__c` holds the Id of the org
//! the record (and its secret) was made for, and the dispatcher holds delivery in any other org,
//! so a sandbox copied from production never signs for the production receiver.
//!
//! `sfhooks deploy` pins the record to the authenticated org ([`pin_org_id`]): a record without
//! an org Id gets this org's, a record pinned to this org stays as it is, and a record pinned to
//! another org is refused. `sfhooks package --org-id` pins the zip it builds the same way.
use std::collections::BTreeMap;
use std::io::Read as _;

use super::xml::{self, Element, Node};
use super::{SECRET_FIELD, SETTINGS_SUFFIX};

/// The settings field that holds the org Id.
pub const ORG_ID_FIELD: &str = "Org_Id__c";

/// What [`pin_org_id`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinned {
    /// The record had no org Id and now has this org's: the new zip.
    Now(Vec<u8>),
    /// The record was already pinned to this org.
    Already,
    /// The zip has no settings record (built with `--no-secret`, or an uninstall).
    NoRecord,
    /// The zip's settings type has no `Org_Id__c` field (built by an sfhooks without the pin):
    /// the record cannot be pinned.
    NoField,
}

/// Why a zip could not be pinned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The record is pinned to another org.
    #[error(
        "the settings record {record} in the zip is pinned to org {pinned}, and this is org \
         {org}: a zip made for one org is refused by another, so a secret meant for one org never \
         signs in another"
    )]
    OtherOrg {
        /// The record's zip entry.
        record: String,
        /// The org Id it holds.
        pinned: String,
        /// The authenticated org.
        org: String,
    },
    /// The zip cannot be read or rewritten.
    #[error("cannot read the zip to pin its settings record: {0}")]
    Zip(String),
    /// The record is not XML sfhooks can read.
    #[error("cannot read the settings record {path}: {source}")]
    Xml {
        /// Its zip entry.
        path: String,
        /// Why.
        #[source]
        source: xml::XmlError,
    },
    /// An org Id that is not one.
    #[error(
        "{0:?} is not an org Id: expected 15 or 18 letters and digits starting with 00D \
         (Setup > Company Information > Salesforce.com Organization ID)"
    )]
    BadOrgId(String),
}

/// Checks an org Id: 15 or 18 letters and digits, starting with `00D`.
pub fn check_org_id(id: &str) -> Result<String, PinError> {
    let id = id.trim();
    if (id.len() == 15 || id.len() == 18)
        && id.starts_with("00D")
        && id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        Ok(id.to_string())
    } else {
        Err(PinError::BadOrgId(id.to_string()))
    }
}

/// Whether two org Ids name the same org: a 15-character Id equals the first 15 characters of its
/// 18-character form (the last three only encode the case of the first 15).
pub fn same_org(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.len() == b.len() {
        // The suffix only encodes case, and is itself case-insensitive.
        return match (a.get(..15), b.get(..15)) {
            (Some(x), Some(y)) if a.len() == 18 => x == y && a[15..].eq_ignore_ascii_case(&b[15..]),
            _ => a == b,
        };
    }
    // `get`, not indexing: a value read from an org may hold any text, and must not panic.
    a.len() >= 15 && b.len() >= 15 && a.get(..15).is_some_and(|x| Some(x) == b.get(..15))
}

/// The settings record's entry in a zip: `customMetadata/<Prefix>_Settings.<Name>.md`, at the
/// root or in the package's one folder.
fn is_settings_record(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let in_folder = path
        .rsplit('/')
        .nth(1)
        .is_some_and(|folder| folder == "customMetadata");
    let settings_type = SETTINGS_SUFFIX.trim_end_matches("__mdt");
    in_folder
        && file.ends_with(".md")
        && file
            .split('.')
            .next()
            .is_some_and(|t| t.ends_with(settings_type))
}

/// The org Id a record's XML holds, if any.
fn pinned_in(root: &Element) -> Option<String> {
    root.elements()
        .filter(|e| e.name == "values")
        .find(|v| {
            v.elements()
                .any(|f| f.name == "field" && f.text().as_deref() == Some(ORG_ID_FIELD))
        })
        .and_then(|v| {
            v.elements()
                .find(|e| e.name == "value")
                .and_then(Element::text)
        })
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Pins the zip's settings record to `org_id` (see the module docs).
pub fn pin_org_id(zip: &[u8], org_id: &str) -> Result<Pinned, PinError> {
    let zip_err = |e: &dyn std::fmt::Display| PinError::Zip(e.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| zip_err(&e))?;
    let mut entries = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| zip_err(&e))?;
        if file.is_dir() {
            continue;
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| zip_err(&format!("{}: {e}", file.name())))?;
        entries.insert(file.name().to_string(), text);
    }
    let Some(path) = entries.keys().find(|p| is_settings_record(p)).cloned() else {
        return Ok(Pinned::NoRecord);
    };
    let has_field = entries.iter().any(|(p, text)| {
        p.contains("objects/")
            && p.contains(SETTINGS_SUFFIX)
            && text.contains(&format!("<fullName>{ORG_ID_FIELD}</fullName>"))
    });
    let mut root = xml::parse(&entries[&path]).map_err(|source| PinError::Xml {
        path: path.clone(),
        source,
    })?;
    match pinned_in(&root) {
        Some(pinned) if same_org(&pinned, org_id) => return Ok(Pinned::Already),
        Some(pinned) => {
            return Err(PinError::OtherOrg {
                record: path,
                pinned,
                org: org_id.to_string(),
            })
        }
        None => {}
    }
    if !has_field {
        return Ok(Pinned::NoField);
    }
    // Drop an empty Org_Id__c value, then insert ours in field order (before Secret__c, as
    // `sf cmdt generate record` orders them).
    root.children.retain(|n| {
        !matches!(n, Node::Element(v) if v.name == "values"
            && v.elements().any(|f| f.name == "field" && f.text().as_deref() == Some(ORG_ID_FIELD)))
    });
    let typed = root.attrs.contains("xmlns:xsd") && root.attrs.contains("xmlns:xsi");
    let mut value = Element::leaf("value", quick_xml::escape::escape(org_id).into_owned());
    if typed {
        value.attrs = "xsi:type=\"xsd:string\"".into();
    }
    let mut values = Element::new("values");
    values.children = vec![
        Node::Element(Element::leaf("field", ORG_ID_FIELD)),
        Node::Element(value),
    ];
    let at = root
        .children
        .iter()
        .position(|n| {
            matches!(n, Node::Element(v) if v.name == "values"
                && v.elements().any(|f| f.name == "field"
                    && f.text().is_some_and(|t| t.as_str() > ORG_ID_FIELD || t == SECRET_FIELD)))
        })
        .unwrap_or(root.children.len());
    root.children.insert(at, Node::Element(values));
    entries.insert(path, xml::write_document(&root));
    super::archive::write_zip(&entries)
        .map(Pinned::Now)
        .map_err(|e| zip_err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redacted::Redacted;

    fn zip_with(record: Option<&str>, field: bool) -> Vec<u8> {
        let mut entries = BTreeMap::new();
        entries.insert("package.xml".to_string(), "<Package/>".to_string());
        let fields = if field {
            "<fields><fullName>Org_Id__c</fullName></fields>"
        } else {
            ""
        };
        entries.insert(
            "objects/P_Settings__mdt.object".to_string(),
            format!("<CustomObject>{fields}</CustomObject>"),
        );
        if let Some(record) = record {
            entries.insert("customMetadata/P_Settings.Default.md".into(), record.into());
        }
        super::super::archive::write_zip(&entries).unwrap()
    }

    fn record_of(zip: &[u8]) -> String {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut text = String::new();
        archive
            .by_name("customMetadata/P_Settings.Default.md")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    const ORG: &str = "00D000000000001AAA";

    #[test]
    fn an_unpinned_record_gets_the_org_id_before_the_secret() {
        let xml =
            super::super::SecretRecord::new("P_Settings__mdt", Redacted::new("whsec_x".into()))
                .to_xml();
        let Pinned::Now(zip) = pin_org_id(&zip_with(Some(&xml), true), ORG).unwrap() else {
            panic!("not pinned")
        };
        let record = record_of(&zip);
        let org_at = record.find("<field>Org_Id__c</field>").unwrap();
        let secret_at = record.find("<field>Secret__c</field>").unwrap();
        assert!(org_at < secret_at, "{record}");
        assert!(
            record.contains(&format!("<value xsi:type=\"xsd:string\">{ORG}</value>")),
            "{record}"
        );
        // Pinning again is a no-op; a 15-character Id names the same org.
        assert_eq!(pin_org_id(&zip, ORG).unwrap(), Pinned::Already);
        assert_eq!(pin_org_id(&zip, &ORG[..15]).unwrap(), Pinned::Already);
        let err = pin_org_id(&zip, "00D000000000002AAA").unwrap_err();
        assert!(matches!(err, PinError::OtherOrg { .. }), "{err}");
        assert!(
            err.to_string().contains("pinned to org 00D000000000001AAA"),
            "{err}"
        );
    }

    #[test]
    fn no_record_or_no_field_pins_nothing() {
        assert_eq!(
            pin_org_id(&zip_with(None, true), ORG).unwrap(),
            Pinned::NoRecord
        );
        let xml =
            super::super::SecretRecord::new("P_Settings__mdt", Redacted::new("whsec_x".into()))
                .to_xml();
        assert_eq!(
            pin_org_id(&zip_with(Some(&xml), false), ORG).unwrap(),
            Pinned::NoField
        );
    }

    #[test]
    fn org_ids_compare_without_panicking_on_any_text() {
        assert!(same_org("00D000000000001", "00D000000000001AAA"));
        assert!(same_org(" 00D000000000001AAA ", "00D000000000001AAA"));
        assert!(!same_org("00D000000000001AAA", "00D000000000001AAB"));
        assert!(
            same_org("00D000000000001AAA", "00D000000000001aaa"),
            "suffix case"
        );
        assert!(
            !same_org("00D000000000001AAA", "00d000000000001AAA"),
            "the first 15 are case-sensitive"
        );
        // Byte 15 inside a multi-byte character: no slice panic, no match.
        assert!(!same_org("00D00000000000é01", "00D000000000001AAA"));
        assert!(!same_org("", "00D000000000001AAA"));
    }

    #[test]
    fn org_ids_are_checked() {
        assert!(check_org_id("00D000000000001AAA").is_ok());
        assert!(check_org_id("00D000000000001").is_ok());
        for bad in ["", "001000000000001AAA", "00D00000000000!AAA", "00D0000"] {
            assert!(check_org_id(bad).is_err(), "{bad}");
        }
        assert!(same_org("00D000000000001", "00D000000000001AAA"));
        assert!(!same_org("00D000000000001AAA", "00D000000000002AAA"));
        assert!(!same_org("00D000000000001", "00D000000000002AAA"));
    }
}
