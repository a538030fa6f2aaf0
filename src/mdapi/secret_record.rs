//! The settings record that carries the signing secret, written only into the zip.
use super::xml::{self, Element, Node};
use super::{
    BYPASS_CAPTURE_FIELD, BYPASS_DELIVERY_FIELD, METADATA_NS, SECRET_FIELD, SECRET_RECORD_NAME,
};
use crate::redacted::Redacted;

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
pub(super) fn record_member(settings_object: &str) -> String {
    let type_name = settings_object
        .strip_suffix("__mdt")
        .unwrap_or(settings_object);
    format!("{type_name}.{SECRET_RECORD_NAME}")
}
