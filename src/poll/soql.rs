//! The field lists and queries of the poller, as pure functions.
//!
//! One query per object and window on `SystemModstamp` (not `LastModifiedDate`, which imports can
//! backdate), ordered by `SystemModstamp, Id` so rows of equal stamps come in a stable order across
//! pages (FACTS.md "REST API for polling"). A field list that would push the request past
//! Salesforce's 16 KB URL limit is split into several queries over the same window, each carrying
//! `Id` and `SystemModstamp` so their rows can be joined.
use super::clock::soql_literal;

/// The longest request target sfhooks sends (Salesforce refuses URLs over 16,384 bytes; a margin
/// is left for the host and the `nextRecordsUrl` form).
pub const MAX_URL_BYTES: usize = 16_000;

/// The fields every query carries, first.
pub const KEY_FIELDS: [&str; 3] = ["Id", "SystemModstamp", "CreatedDate"];

/// A field as describe lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// API name.
    pub name: String,
    /// Its describe `type` (`string`, `address`, `base64`, ...).
    pub kind: String,
}

/// Why a configured field cannot be polled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{object}.{field} (in objects_config.{object}.{list}) is not a field this user can read: \
     describe of {object} does not list it; check the API name, or the field-level security of the \
     user sfhooks signs in as"
)]
pub struct UnknownField {
    /// The object.
    pub object: String,
    /// The field.
    pub field: String,
    /// `fields` or `watched_fields`.
    pub list: &'static str,
}

/// The fields to query: the key fields, then the configured `fields` and `watched_fields` (each
/// checked against describe), or every readable field when none are configured. Compound fields
/// (`address`, `location`) are skipped, their components are listed on their own; `base64` fields
/// are skipped as the Apex does (a blob never travels in an event).
pub fn select_fields(
    object: &str,
    describe: &[FieldInfo],
    fields: Option<&[String]>,
    watched: Option<&[String]>,
) -> Result<Vec<String>, UnknownField> {
    let find = |name: &str| describe.iter().find(|f| f.name.eq_ignore_ascii_case(name));
    let mut out: Vec<String> = KEY_FIELDS.iter().map(|s| (*s).to_string()).collect();
    let push = |name: &str, out: &mut Vec<String>| {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    };
    match fields {
        Some(fields) => {
            for (list, names) in [("fields", Some(fields)), ("watched_fields", watched)] {
                for name in names.unwrap_or_default() {
                    let info = find(name).ok_or_else(|| UnknownField {
                        object: object.to_string(),
                        field: name.clone(),
                        list,
                    })?;
                    push(&info.name, &mut out);
                }
            }
        }
        None => {
            for name in watched.unwrap_or_default() {
                if find(name).is_none() {
                    return Err(UnknownField {
                        object: object.to_string(),
                        field: name.clone(),
                        list: "watched_fields",
                    });
                }
            }
            for f in describe {
                if !matches!(f.kind.as_str(), "address" | "location" | "base64") {
                    push(&f.name, &mut out);
                }
            }
        }
    }
    Ok(out)
}

/// The changes query of one window (`start`, `end` in ms, both inclusive at second precision).
pub fn changes_query(object: &str, fields: &[String], start: i64, end: i64) -> String {
    format!(
        "SELECT {} FROM {object} WHERE SystemModstamp >= {} AND SystemModstamp <= {} ORDER BY SystemModstamp, Id",
        fields.join(", "),
        soql_literal(start),
        soql_literal(end)
    )
}

/// Splits the fields into lists whose query URL (`path?q=` + the encoded query) stays under
/// [`MAX_URL_BYTES`]; each list starts with the key fields. One list in the common case.
pub fn split_fields(
    object: &str,
    fields: &[String],
    start: i64,
    end: i64,
    path_len: usize,
) -> Vec<Vec<String>> {
    let encoded = |q: &str| {
        url::form_urlencoded::byte_serialize(q.as_bytes())
            .map(str::len)
            .sum::<usize>()
    };
    let fits = |list: &[String]| {
        path_len + 3 + encoded(&changes_query(object, list, start, end)) <= MAX_URL_BYTES
    };
    if fits(fields) {
        return vec![fields.to_vec()];
    }
    let keys: Vec<String> = KEY_FIELDS.iter().map(|s| (*s).to_string()).collect();
    let mut parts = Vec::new();
    let mut current = keys.clone();
    for field in fields.iter().filter(|f| !keys.contains(f)) {
        current.push(field.clone());
        if !fits(&current) && current.len() > keys.len() + 1 {
            current.pop();
            parts.push(std::mem::replace(&mut current, keys.clone()));
            current.push(field.clone());
        }
    }
    if current.len() > keys.len() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(names: &[(&str, &str)]) -> Vec<FieldInfo> {
        names
            .iter()
            .map(|(n, k)| FieldInfo {
                name: (*n).into(),
                kind: (*k).into(),
            })
            .collect()
    }

    #[test]
    fn fields_are_checked_against_describe() {
        let d = info(&[
            ("Id", "id"),
            ("SystemModstamp", "datetime"),
            ("CreatedDate", "datetime"),
            ("Email", "email"),
            ("MailingAddress", "address"),
            ("Photo__c", "base64"),
        ]);
        assert_eq!(
            select_fields("Contact", &d, None, None).unwrap(),
            ["Id", "SystemModstamp", "CreatedDate", "Email"]
        );
        let fields = vec!["email".to_string()];
        assert_eq!(
            select_fields("Contact", &d, Some(&fields), None).unwrap(),
            ["Id", "SystemModstamp", "CreatedDate", "Email"]
        );
        let bad = vec!["Secret__c".to_string()];
        let err = select_fields("Contact", &d, Some(&fields), Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Contact.Secret__c (in objects_config.Contact.watched_fields)"),
            "{err}"
        );
        assert!(select_fields("Contact", &d, None, Some(&bad)).is_err());
    }

    #[test]
    fn the_query_orders_by_stamp_and_id() {
        let q = changes_query(
            "Contact",
            &["Id".into(), "Email".into()],
            1_765_101_600_500,
            1_765_101_660_000,
        );
        assert_eq!(q, "SELECT Id, Email FROM Contact WHERE SystemModstamp >= 2025-12-07T10:00:00Z AND SystemModstamp <= 2025-12-07T10:01:00Z ORDER BY SystemModstamp, Id");
    }

    #[test]
    fn long_field_lists_are_split_under_the_url_limit() {
        let mut fields: Vec<String> = KEY_FIELDS.iter().map(|s| (*s).to_string()).collect();
        fields.extend((0..900).map(|i| format!("A_Rather_Long_Custom_Field_Name_{i:03}__c")));
        let parts = split_fields("Invoice__c", &fields, 0, 1000, 40);
        assert!(parts.len() >= 2, "{}", parts.len());
        let mut seen = Vec::new();
        for part in &parts {
            assert_eq!(&part[..3], &KEY_FIELDS.map(String::from));
            let q = changes_query("Invoice__c", part, 0, 1000);
            let len: usize = url::form_urlencoded::byte_serialize(q.as_bytes())
                .map(str::len)
                .sum();
            assert!(40 + 3 + len <= MAX_URL_BYTES);
            seen.extend(part[3..].iter().cloned());
        }
        assert_eq!(seen, fields[3..]);
        assert_eq!(
            split_fields("Invoice__c", &fields[..10], 0, 1000, 40).len(),
            1
        );
    }
}
