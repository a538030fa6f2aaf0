//! What a polled row means: CREATED, UPDATED (with `changedFields`), UNDELETED, or nothing,
//! from what the state remembers of the record. Pure: no I/O.
//!
//! Changes are recognised by 8-byte digests of each field's JSON value (the state never holds a
//! value). Like the Apex `EventBuilder`, the audit fields never count as a change, so a system
//! update that moves only `SystemModstamp` produces no event, and with `watched_fields` an update
//! that touched none of them produces none either.
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::store::Known;
use crate::webhook::EventType;

/// Fields that never count as a change (the Apex's `AUDIT_FIELDS`).
const AUDIT_FIELDS: &[&str] = &[
    "lastmodifiedbyid",
    "lastmodifieddate",
    "lastreferenceddate",
    "lastvieweddate",
    "systemmodstamp",
];

fn is_audit(field: &str) -> bool {
    AUDIT_FIELDS.iter().any(|a| a.eq_ignore_ascii_case(field))
}

/// The digests of a record's fields: for each non-audit field in name order, its name's length
/// (one byte), the name, and the first 8 bytes of SHA-256 over its JSON value.
pub fn digests(record: &Map<String, Value>) -> Vec<u8> {
    let mut names: Vec<&String> = record
        .keys()
        .filter(|k| *k != "attributes" && !is_audit(k))
        .collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len() * 24);
    for name in names {
        let len = u8::try_from(name.len()).unwrap_or(u8::MAX);
        out.push(len);
        out.extend_from_slice(&name.as_bytes()[..usize::from(len)]);
        let value = serde_json::to_vec(&record[name.as_str()]).unwrap_or_default();
        out.extend_from_slice(&Sha256::digest(&value)[..8]);
    }
    out
}

fn entries(digests: &[u8]) -> Vec<(&str, &[u8])> {
    let mut out = Vec::new();
    let mut rest = digests;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        if tail.len() < len + 8 {
            break;
        }
        let name = std::str::from_utf8(&tail[..len]).unwrap_or("");
        out.push((name, &tail[len..len + 8]));
        rest = &tail[len + 8..];
    }
    out
}

/// The fields whose digest differs, or that only one side has, in name order.
pub fn changed_fields(old: &[u8], new: &[u8]) -> Vec<String> {
    let (old, new) = (entries(old), entries(new));
    let mut changed: Vec<String> = Vec::new();
    for (name, digest) in &new {
        if old.iter().find(|(n, _)| n == name).map(|(_, d)| d) != Some(digest) {
            changed.push((*name).to_string());
        }
    }
    for (name, _) in &old {
        if !new.iter().any(|(n, _)| n == name) {
            changed.push((*name).to_string());
        }
    }
    changed.sort();
    changed
}

/// A row of a changes query.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// `SystemModstamp` (ms).
    pub stamp: i64,
    /// `CreatedDate` (ms).
    pub created: Option<i64>,
    /// The record's fields as queried (`attributes` removed).
    pub fields: &'a Map<String, Value>,
}

/// What to do with a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The event to send, with its `changedFields` (UPDATED of a known record only).
    pub event: Option<(EventType, Option<Vec<String>>)>,
    /// What to remember of the record (`None`: nothing changed, this row was seen already).
    pub remember: Option<Known>,
}

/// Judges a row against what the state remembers. `window_start` (ms) decides CREATED for a
/// record seen for the first time; `watched` limits UPDATED to changes of those fields.
pub fn classify(
    known: Option<&Known>,
    row: Row<'_>,
    window_start: i64,
    watched: Option<&[String]>,
) -> Verdict {
    let new_digests = digests(row.fields);
    let remember = Known {
        stamp: row.stamp,
        deleted_at: None,
        digests: new_digests,
    };
    let Some(known) = known else {
        let kind = if row.created.is_some_and(|c| c >= window_start) {
            EventType::Created
        } else {
            EventType::Updated
        };
        return Verdict {
            event: Some((kind, None)),
            remember: Some(remember),
        };
    };
    if row.stamp <= known.stamp && known.deleted_at.is_none() {
        // The overlap of the lookback: this (Id, SystemModstamp) was handled already.
        return Verdict {
            event: None,
            remember: None,
        };
    }
    if known.deleted_at.is_some() {
        return Verdict {
            event: Some((EventType::Undeleted, None)),
            remember: Some(remember),
        };
    }
    let changed = changed_fields(&known.digests, &remember.digests);
    let relevant = match watched {
        Some(watched) => changed
            .iter()
            .any(|c| watched.iter().any(|w| w.eq_ignore_ascii_case(c))),
        None => !changed.is_empty(),
    };
    Verdict {
        event: relevant.then_some((EventType::Updated, Some(changed))),
        remember: Some(remember),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn digests_see_changes_but_not_audit_fields() {
        let a = digests(&map(
            json!({"Id": "003A", "Email": "a@x", "SystemModstamp": "1"}),
        ));
        let b = digests(&map(
            json!({"Id": "003A", "Email": "b@x", "SystemModstamp": "2"}),
        ));
        let c = digests(&map(
            json!({"Id": "003A", "Email": "a@x", "SystemModstamp": "3", "LastModifiedDate": "x"}),
        ));
        assert_eq!(changed_fields(&a, &b), ["Email"]);
        assert!(changed_fields(&a, &c).is_empty());
        let d = digests(&map(json!({"Id": "003A", "Phone": "1"})));
        assert_eq!(changed_fields(&a, &d), ["Email", "Phone"]);
    }

    #[test]
    fn first_sighting_overlap_update_undelete() {
        let v1 = map(json!({"Id": "003A", "Email": "a@x", "Phone": "1"}));
        let row = |stamp, fields| Row {
            stamp,
            created: Some(100),
            fields,
        };
        let first = classify(None, row(200, &v1), 50, None);
        assert_eq!(first.event, Some((EventType::Created, None)));
        let old = classify(None, row(200, &v1), 150, None);
        assert_eq!(
            old.event,
            Some((EventType::Updated, None)),
            "created before the window"
        );
        let known = first.remember.unwrap();
        let again = classify(Some(&known), row(200, &v1), 50, None);
        assert_eq!(
            again,
            Verdict {
                event: None,
                remember: None
            }
        );
        let touched = classify(Some(&known), row(300, &v1), 50, None);
        assert_eq!(touched.event, None);
        assert_eq!(touched.remember.as_ref().map(|k| k.stamp), Some(300));
        let v2 = map(json!({"Id": "003A", "Email": "b@x", "Phone": "1"}));
        let updated = classify(Some(&known), row(300, &v2), 50, None);
        assert_eq!(
            updated.event,
            Some((EventType::Updated, Some(vec!["Email".to_string()])))
        );
        let watched = ["Phone".to_string()];
        let unwatched = classify(Some(&known), row(300, &v2), 50, Some(&watched));
        assert_eq!(unwatched.event, None);
        assert!(unwatched.remember.is_some());
        let deleted = Known {
            deleted_at: Some(250),
            ..known
        };
        let back = classify(Some(&deleted), row(300, &v1), 50, None);
        assert_eq!(back.event, Some((EventType::Undeleted, None)));
    }
}
