//! Salesforce and Apex names: validating what the user gives us, and deriving what we generate.
//!
//! Object API names follow "Custom Object Definition" / "Object Reference > Custom Objects" in
//! Salesforce's docs: a developer name of at most 40 characters (letters, digits and single
//! underscores, starting with a letter, not ending with an underscore), an optional namespace
//! prefix of at most 15 characters followed by `__`, and a type suffix (`__c` for custom objects).
//! Apex class and trigger names are at most 40 characters and may not contain `__` or end with `_`
//! (Apex Developer Guide, "Naming Conventions" / ApexClass `name` field).
use std::collections::{BTreeMap, HashMap};

/// Longest Apex class or trigger name.
pub const MAX_APEX_NAME: usize = 40;
/// Longest object or field developer name, without namespace and suffix.
pub const MAX_DEVELOPER_NAME: usize = 40;
/// Longest namespace prefix.
pub const MAX_NAMESPACE: usize = 15;
/// Longest name prefix for generated components (keeps every generated class name <= 40).
pub const MAX_PREFIX: usize = 15;

/// A name the user gave that Salesforce would not accept, or that sfhooks cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Not an API name at all.
    #[error("{what} {name:?} is not a Salesforce API name: {why}")]
    Malformed {
        /// "object name", "field name", ...
        what: &'static str,
        /// The name as given.
        name: String,
        /// What is wrong and how to fix it.
        why: String,
    },
    /// A valid name of a kind of object that cannot carry these triggers.
    #[error("object {name:?} cannot carry sfhooks triggers: {why}")]
    Unsupported {
        /// The name as given.
        name: String,
        /// Why, and what to use instead.
        why: String,
    },
    /// The same object named twice.
    #[error(
        "object {name:?} is listed twice (API names are case-insensitive); list each object once"
    )]
    Duplicate {
        /// The second occurrence.
        name: String,
    },
    /// An object that sfhooks generates itself (`<Prefix>_Outbox__c`, any `<Prefix>_…__c`).
    #[error(
        "object {name:?} is one of sfhooks' own objects (prefix {prefix:?}): watching it would capture every outbox row it captures, an endless loop; remove it from the object list"
    )]
    OwnObject {
        /// The name as given.
        name: String,
        /// The configured prefix.
        prefix: String,
    },
    /// A bad name prefix.
    #[error("prefix {prefix:?} is not usable: {why}")]
    Prefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong.
        why: String,
    },
}

/// Suffixes of object kinds that cannot have the triggers sfhooks generates, with the reason.
const UNSUPPORTED_SUFFIXES: &[(&str, &str)] = &[
    ("mdt", "custom metadata types are not records and have no triggers"),
    ("e", "platform events can only be published, not created/updated/deleted; subscribe to them instead"),
    ("x", "external objects live outside Salesforce and have no triggers"),
    ("b", "big objects have no triggers"),
    ("History", "field history rows are written by Salesforce and have no triggers"),
    ("Share", "sharing rows have no triggers"),
    ("Feed", "feed objects have no triggers; use FeedItem events instead"),
    ("ChangeEvent", "change events are already events; subscribe with Change Data Capture instead"),
    ("kav", "knowledge article versions are not supported"),
    ("ka", "knowledge articles are not supported"),
    ("Tag", "tag objects have no triggers"),
];

/// Standard objects with these endings are history, share, feed or change-event objects.
const UNSUPPORTED_STANDARD_ENDINGS: &[&str] = &["History", "Share", "Feed", "ChangeEvent"];

/// A validated object API name, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectName {
    /// The API name as the user wrote it (Salesforce keeps the given case).
    pub api_name: String,
    /// The namespace prefix, if any.
    pub namespace: Option<String>,
    /// The developer name, without namespace and suffix.
    pub developer_name: String,
    /// True for custom objects (`__c`).
    pub custom: bool,
}

/// True when `s` is a developer name: a letter, then letters, digits and single underscores, not
/// ending with an underscore.
fn is_developer_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.contains("__")
        && !s.ends_with('_')
}

fn malformed(what: &'static str, name: &str, why: impl Into<String>) -> NameError {
    NameError::Malformed {
        what,
        name: name.to_string(),
        why: why.into(),
    }
}

/// Splits `ns__Name__suffix` into (namespace, developer name, suffix).
fn split_api_name<'a>(
    what: &'static str,
    name: &'a str,
) -> Result<(Option<&'a str>, &'a str, Option<&'a str>), NameError> {
    if name.is_empty() {
        return Err(malformed(what, name, "it is empty"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(malformed(
            what,
            name,
            format!(
                "{bad:?} is not allowed; API names are letters, digits and underscores \
                 (custom objects end in __c, namespaced ones look like acme__Invoice__c)"
            ),
        ));
    }
    let parts: Vec<&str> = name.split("__").collect();
    match parts.as_slice() {
        [base] => Ok((None, base, None)),
        [base, suffix] => Ok((None, base, Some(suffix))),
        [ns, base, suffix] => Ok((Some(ns), base, Some(suffix))),
        _ => Err(malformed(
            what,
            name,
            "too many \"__\" separators; the form is [namespace__]Name[__c]",
        )),
    }
}

/// Validates an object API name that the triggers will be written for.
pub fn parse_object_name(name: &str) -> Result<ObjectName, NameError> {
    const WHAT: &str = "object name";
    let (ns, base, suffix) = split_api_name(WHAT, name)?;
    if let Some(suffix) = suffix {
        if let Some((_, why)) = UNSUPPORTED_SUFFIXES
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(suffix))
        {
            return Err(NameError::Unsupported {
                name: name.to_string(),
                why: (*why).to_string(),
            });
        }
        if suffix != "c" {
            let why = if suffix.eq_ignore_ascii_case("c") {
                "write the custom object suffix in lower case: __c".to_string()
            } else {
                format!("unknown suffix \"__{suffix}\"; custom objects end in __c")
            };
            return Err(malformed(WHAT, name, why));
        }
    } else if let Some(ending) = UNSUPPORTED_STANDARD_ENDINGS
        .iter()
        .find(|e| base.len() > e.len() && base.ends_with(*e))
    {
        return Err(NameError::Unsupported {
            name: name.to_string(),
            why: format!("standard {ending} objects have no triggers"),
        });
    }
    if let Some(ns) = ns {
        if ns.is_empty()
            || ns.len() > MAX_NAMESPACE
            || !ns.starts_with(|c: char| c.is_ascii_alphabetic())
            || ns.contains('_')
        {
            return Err(malformed(
                WHAT,
                name,
                format!(
                    "namespace {ns:?} must be 1 to {MAX_NAMESPACE} letters and digits starting with a letter"
                ),
            ));
        }
    }
    if !is_developer_name(base) {
        return Err(malformed(
            WHAT,
            name,
            format!("{base:?} must start with a letter, use letters, digits and single underscores, and not end with an underscore"),
        ));
    }
    if base.len() > MAX_DEVELOPER_NAME {
        return Err(malformed(
            WHAT,
            name,
            format!(
                "{base:?} is {} characters; Salesforce allows {MAX_DEVELOPER_NAME}",
                base.len()
            ),
        ));
    }
    Ok(ObjectName {
        api_name: name.to_string(),
        namespace: ns.map(str::to_string),
        developer_name: base.to_string(),
        custom: suffix.is_some(),
    })
}

/// Validates a field API name used in a field selection (`Name`, `Amount__c`, `acme__Score__c`).
pub fn validate_field_name(name: &str) -> Result<(), NameError> {
    const WHAT: &str = "field name";
    if name.contains('.') {
        return Err(malformed(
            WHAT,
            name,
            "relationship paths are not loaded in triggers; name a field of the object itself",
        ));
    }
    let (ns, base, suffix) = split_api_name(WHAT, name)?;
    if let Some(suffix) = suffix {
        if suffix != "c" {
            return Err(malformed(
                WHAT,
                name,
                format!("unknown suffix \"__{suffix}\"; custom fields end in __c"),
            ));
        }
    }
    if ns.is_some_and(|ns| ns.len() > MAX_NAMESPACE || ns.contains('_') || ns.is_empty()) {
        return Err(malformed(WHAT, name, "the namespace prefix is not valid"));
    }
    if !is_developer_name(base) || base.len() > MAX_DEVELOPER_NAME {
        return Err(malformed(
            WHAT,
            name,
            format!("{base:?} must be at most {MAX_DEVELOPER_NAME} letters, digits and single underscores, starting with a letter"),
        ));
    }
    Ok(())
}

/// Validates the prefix of generated names.
pub fn validate_prefix(prefix: &str) -> Result<(), NameError> {
    let err = |why: &str| NameError::Prefix {
        prefix: prefix.to_string(),
        why: why.to_string(),
    };
    if prefix.is_empty() || prefix.len() > MAX_PREFIX {
        return Err(err(&format!("use 1 to {MAX_PREFIX} characters")));
    }
    if !prefix.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(err("start with a letter"));
    }
    if !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(err(
            "use only letters and digits (it starts every Apex class name)",
        ));
    }
    Ok(())
}

/// Refuses an object that sfhooks generates itself. Every custom object named `<Prefix>_…__c`
/// without a namespace belongs to sfhooks (`generate` treats `objects/<Prefix>_*` as its own
/// output), so the outbox, the state setting and any future sfhooks object are refused alike,
/// case-insensitively as Salesforce compares API names.
pub fn check_not_own_object(prefix: &str, object: &ObjectName) -> Result<(), NameError> {
    let own = format!("{prefix}_").to_ascii_lowercase();
    let name = object.developer_name.to_ascii_lowercase();
    if object.custom && object.namespace.is_none() && name.starts_with(&own) {
        return Err(NameError::OwnObject {
            name: object.api_name.clone(),
            prefix: prefix.to_string(),
        });
    }
    Ok(())
}

/// Checks a list of objects for duplicates (case-insensitive, as Salesforce compares API names).
pub fn check_duplicates<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), NameError> {
    let mut seen = HashMap::new();
    for name in names {
        if seen.insert(name.to_ascii_lowercase(), ()).is_some() {
            return Err(NameError::Duplicate {
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// A short, stable hash of an API name, to keep truncated or clashing names unique.
/// FNV-1a: tiny, dependency-free and stable across Rust versions (unlike `DefaultHasher`).
fn short_hash(name: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.to_ascii_lowercase().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{:06x}", hash & 0x00ff_ffff)
}

/// The readable middle of a trigger name: namespace and name joined by one underscore, suffix
/// dropped (`acme__Invoice__c` -> `acme_Invoice`).
fn readable_stem(object: &ObjectName) -> String {
    match &object.namespace {
        Some(ns) => format!("{ns}_{}", object.developer_name),
        None => object.developer_name.clone(),
    }
}

const TRIGGER_SUFFIX: &str = "Trigger";

fn hashed_trigger_name(prefix: &str, stem: &str, api_name: &str) -> String {
    let hash = short_hash(api_name);
    let room = MAX_APEX_NAME - prefix.len() - TRIGGER_SUFFIX.len() - hash.len() - 1;
    let cut: String = stem.chars().take(room).collect();
    let cut = cut.trim_end_matches('_');
    format!("{prefix}{cut}_{hash}{TRIGGER_SUFFIX}")
}

/// Trigger names for the objects, in the same order: `<Prefix><Stem>Trigger`, at most 40
/// characters, unique case-insensitively. A name that would be too long, or that would clash with
/// another object's (`Foo_Bar__c` and `Foo__Bar__c` both read `Foo_Bar`), keeps a readable start
/// and ends in a hash of the full API name, so it stays the same whatever else is configured.
pub fn trigger_names(prefix: &str, objects: &[ObjectName]) -> Vec<String> {
    let stems: Vec<String> = objects.iter().map(readable_stem).collect();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for stem in &stems {
        *count.entry(stem.to_ascii_lowercase()).or_default() += 1;
    }
    objects
        .iter()
        .zip(&stems)
        .map(|(object, stem)| {
            let plain = format!("{prefix}{stem}{TRIGGER_SUFFIX}");
            let clashes = count[&stem.to_ascii_lowercase()] > 1;
            if plain.len() <= MAX_APEX_NAME && !clashes {
                plain
            } else {
                hashed_trigger_name(prefix, stem, &object.api_name)
            }
        })
        .collect()
}

/// True when `name` is a legal Apex class or trigger name.
pub fn is_apex_name(name: &str) -> bool {
    name.len() <= MAX_APEX_NAME && is_developer_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str) -> ObjectName {
        parse_object_name(name).expect("valid name in test")
    }

    #[test]
    fn accepts_standard_custom_and_namespaced_objects() {
        assert!(!obj("Account").custom);
        let custom = obj("Invoice__c");
        assert!(custom.custom);
        assert_eq!(custom.developer_name, "Invoice");
        let ns = obj("acme__Invoice_Line__c");
        assert_eq!(ns.namespace.as_deref(), Some("acme"));
        assert_eq!(ns.developer_name, "Invoice_Line");
    }

    #[test]
    fn refuses_objects_without_triggers_and_says_why() {
        for name in [
            "Thing__mdt",
            "Alert__e",
            "Remote__x",
            "Archive__b",
            "Invoice__History",
            "Invoice__Share",
            "Invoice__Feed",
            "Invoice__ChangeEvent",
            "AccountHistory",
            "AccountShare",
            "AccountFeed",
            "AccountChangeEvent",
        ] {
            let err = parse_object_name(name).expect_err(name);
            assert!(
                matches!(err, NameError::Unsupported { .. }),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn refuses_malformed_names_with_the_offending_part() {
        for (name, needle) in [
            ("Contact;x", "';'"),
            ("", "empty"),
            ("Foo__C", "lower case"),
            ("1Account", "start with a letter"),
            ("Foo_", "underscore"),
            ("a__b__c__c", "too many"),
            ("Foo__q", "unknown suffix"),
            ("waytoolongnamespace__X__c", "namespace"),
            ("Con tact", "' '"),
            ("Contact\n", "'\\n'"),
        ] {
            let err = parse_object_name(name).expect_err(name).to_string();
            assert!(err.contains(needle), "{name:?}: {err}");
        }
        let long = format!("{}__c", "A".repeat(41));
        assert!(parse_object_name(&long)
            .expect_err("41 chars")
            .to_string()
            .contains("41 characters"));
    }

    #[test]
    fn longest_names_salesforce_allows_are_accepted() {
        let name = format!("abcdefghijklmno__{}__c", "A".repeat(40));
        assert_eq!(obj(&name).developer_name.len(), 40);
    }

    #[test]
    fn trigger_names_are_readable_when_they_fit() {
        let names = trigger_names("Sfhooks", &[obj("Contact"), obj("acme__Invoice__c")]);
        assert_eq!(
            names,
            ["SfhooksContactTrigger", "Sfhooksacme_InvoiceTrigger"]
        );
    }

    #[test]
    fn trigger_names_do_not_collide() {
        let objects = [
            obj("Foo_Bar__c"),
            obj("FooBar__c"),
            obj("Foo__Bar__c"),
            obj("Invoice"),
            obj("Invoice__c"),
        ];
        let names = trigger_names("Sfhooks", &objects);
        let mut lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        lower.sort();
        lower.dedup();
        assert_eq!(lower.len(), objects.len(), "{names:?}");
        assert_eq!(names[1], "SfhooksFooBarTrigger");
        for name in &names {
            assert!(is_apex_name(name), "{name}");
        }
    }

    #[test]
    fn longest_names_fit_in_forty_characters_and_stay_unique() {
        let a = obj(&format!("abcdefghijklmno__{}__c", "A".repeat(40)));
        let b = obj(&format!("abcdefghijklmno__{}B__c", "A".repeat(39)));
        let names = trigger_names("Abcdefghijklmno", &[a.clone(), b]);
        assert_ne!(names[0].to_lowercase(), names[1].to_lowercase());
        for name in &names {
            assert!(is_apex_name(name), "{name} ({} chars)", name.len());
        }
        // Deterministic: the same object keeps its name whatever else is configured.
        assert_eq!(trigger_names("Abcdefghijklmno", &[a])[0], names[0]);
    }

    #[test]
    fn prefixes_are_short_alphanumeric_and_start_with_a_letter() {
        assert!(validate_prefix("Sfhooks").is_ok());
        assert!(validate_prefix("Abcdefghijklmno").is_ok());
        for bad in ["", "Abcdefghijklmnop", "1abc", "Sf_hooks", "Sf'x"] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_names_are_validated() {
        for good in ["Id", "Name", "Amount__c", "acme__Score__c"] {
            assert!(validate_field_name(good).is_ok(), "{good}");
        }
        for bad in ["Account.Name", "Amount__r", "x'y", ""] {
            assert!(validate_field_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sfhooks_own_objects_are_refused_for_their_prefix_only() {
        for own in ["Sfhooks_Outbox__c", "sfhooks_outbox__c", "Sfhooks_State__c"] {
            let err = check_not_own_object("Sfhooks", &obj(own)).expect_err(own);
            assert!(err.to_string().contains("endless loop"), "{own}: {err}");
        }
        for other in [
            "Contact",
            "Outbox__c",
            "acme__Sfhooks_Outbox__c",
            "SfhooksOutbox__c",
        ] {
            assert!(
                check_not_own_object("Sfhooks", &obj(other)).is_ok(),
                "{other}"
            );
        }
        assert!(check_not_own_object("Acme", &obj("Sfhooks_Outbox__c")).is_ok());
        assert!(check_not_own_object("Acme", &obj("Acme_Outbox__c")).is_err());
    }

    #[test]
    fn duplicates_are_case_insensitive() {
        assert!(check_duplicates(["Contact", "Account"]).is_ok());
        assert!(matches!(
            check_duplicates(["Contact", "contact"]),
            Err(NameError::Duplicate { .. })
        ));
    }
}
