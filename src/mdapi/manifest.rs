//! `package.xml` and `destructiveChanges.xml`: the components of a package and the order SDR
//! (`sf project convert source`) writes them in.
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::xml::{self, Element, Node};
use super::METADATA_NS;

/// One package.xml member: type name and full name. Orders by type, then member, byte-wise
/// (SDR sorts both with JavaScript's default sort, which agrees for API names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Component {
    /// The Metadata API type, e.g. `ApexClass`.
    pub type_name: String,
    /// The member, e.g. `SfhooksDispatcher` or `Sfhooks_Outbox__c.Status__c`.
    pub member: String,
}

impl Component {
    pub(super) fn new(type_name: &str, member: impl Into<String>) -> Self {
        Component {
            type_name: type_name.to_string(),
            member: member.into(),
        }
    }
}

/// Orders names as SDR's `localeCompare` does for API names (ICU root collation): punctuation
/// (`_`) before digits before letters, letters case-insensitive first, lowercase first on a tie.
pub fn collate(a: &str, b: &str) -> Ordering {
    fn primary(c: char) -> (u8, char) {
        match c {
            c if c.is_ascii_alphabetic() => (3, c.to_ascii_lowercase()),
            c if c.is_ascii_digit() => (2, c),
            c if c.is_ascii_punctuation() || c.is_whitespace() => (1, c),
            c => (4, c),
        }
    }
    fn tertiary(c: char) -> u8 {
        u8::from(c.is_ascii_uppercase())
    }
    a.chars()
        .map(primary)
        .cmp(b.chars().map(primary))
        .then_with(|| a.chars().map(tertiary).cmp(b.chars().map(tertiary)))
        .then_with(|| a.cmp(b))
}

/// A `package.xml` (or `destructiveChanges.xml`): one `<types>` per type, sorted by name, its
/// members sorted, then `<version>` (the schema puts it last). Without components, only
/// `<version>`. Laid out as SDR's `getPackageXml` (four-space indent).
pub fn package_xml(components: &BTreeSet<Component>, api_version: &str) -> String {
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in components {
        by_type.entry(&c.type_name).or_default().push(&c.member);
    }
    let mut root = Element::new("Package");
    root.attrs = format!("xmlns=\"{METADATA_NS}\"");
    for (type_name, mut members) in by_type {
        members.sort_unstable();
        let mut types = Element::new("types");
        for member in members {
            types.children.push(Node::Element(Element::leaf(
                "members",
                quick_xml::escape::escape(member),
            )));
        }
        types.children.push(Node::Element(Element::leaf(
            "name",
            quick_xml::escape::escape(type_name),
        )));
        root.children.push(Node::Element(types));
    }
    root.children.push(Node::Element(Element::leaf(
        "version",
        quick_xml::escape::escape(api_version),
    )));
    xml::write_document(&root)
}
