//! The JSON body the generated Apex sends (the wire contract in the README), as serde types.
//!
//! ```json
//! {"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z",
//!  "data":{"orgId":"00D...","events":[{"eventId":"...","eventType":"UPDATED","objectType":"Contact",
//!   "objectId":"003...","occurredAt":"2025-01-31T12:00:00.000Z","changedFields":["Email"],
//!   "record":{"Email":"a@example.com"}}]}}
//! ```
//!
//! Parse only after the signature is verified over the raw bytes: verifying a re-serialised
//! [`Envelope`] would fail (key order, spacing and number formats change). Unknown fields are
//! ignored so the sender can add some without breaking receivers; timestamps stay the ISO-8601
//! strings the sender wrote.
use std::fmt;

use serde::{Deserialize, Serialize};

use super::wire;

/// The whole body of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Always [`wire::ENVELOPE_TYPE`] (`sfhooks.events`).
    #[serde(rename = "type")]
    pub kind: String,
    /// When the delivery was built, ISO-8601 UTC.
    pub timestamp: String,
    /// The org and its events.
    pub data: Data,
}

/// The `data` member of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    /// The 15- or 18-character Salesforce org id (`00D...`).
    pub org_id: String,
    /// The events, oldest first (at most a few dozen per delivery).
    pub events: Vec<Event>,
}

/// One record change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unique id of the event; stable across retries.
    pub event_id: String,
    /// What happened.
    pub event_type: EventType,
    /// API name of the object: `Contact`, `Invoice__c`.
    pub object_type: String,
    /// Id of the record.
    pub object_id: String,
    /// When the change happened, ISO-8601 UTC.
    pub occurred_at: String,
    /// Fields whose value changed (UPDATED only; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
    /// The record's selected (or populated) fields; empty when the sender sent none.
    #[serde(default)]
    pub record: serde_json::Map<String, serde_json::Value>,
    /// True when the event was too large for the outbox and `record` keeps only the Id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Event {
    /// `CREATED Contact 003...`: what a one-line summary shows of the event.
    pub fn summary(&self) -> String {
        format!(
            "{} {} {}",
            self.event_type, self.object_type, self.object_id
        )
    }
}

/// The kind of change, as the trigger saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum EventType {
    /// After insert.
    Created,
    /// After update.
    Updated,
    /// After delete.
    Deleted,
    /// After undelete.
    Undeleted,
}

impl EventType {
    /// The wire spelling: `CREATED`, `UPDATED`, `DELETED`, `UNDELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "CREATED",
            EventType::Updated => "UPDATED",
            EventType::Deleted => "DELETED",
            EventType::Undeleted => "UNDELETED",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a body is not an sfhooks envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Not JSON, or JSON of another shape.
    #[error("body is not an sfhooks envelope: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON of the right shape but another `type`.
    #[error("envelope type is {found:?}, expected {expected:?}: this body was not sent by sfhooks", expected = wire::ENVELOPE_TYPE)]
    WrongType {
        /// The `type` found.
        found: String,
    },
}

/// Parses a verified body as an [`Envelope`] and checks its `type`.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let envelope: Envelope = serde_json::from_slice(body)?;
    if envelope.kind != wire::ENVELOPE_TYPE {
        return Err(EnvelopeError::WrongType {
            found: envelope.kind,
        });
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z",
        "data":{"orgId":"00D000000000001EAA","events":[
          {"eventId":"e1","eventType":"CREATED","objectType":"Contact","objectId":"003000000000001AAA",
           "occurredAt":"2025-01-31T11:59:59.000Z","record":{"LastName":"Doe","Age__c":42}},
          {"eventId":"e2","eventType":"UPDATED","objectType":"Account","objectId":"001000000000001AAA",
           "occurredAt":"2025-01-31T11:59:59.500Z","changedFields":["Name"],"record":{"Name":"Acme"},
           "futureField":true}]}}"#;

    #[test]
    fn parses_the_documented_envelope() {
        let env = parse_envelope(BODY.as_bytes()).unwrap();
        assert_eq!(env.data.org_id, "00D000000000001EAA");
        assert_eq!(env.data.events.len(), 2);
        let [created, updated] = &env.data.events[..] else {
            panic!("two events expected")
        };
        assert_eq!(created.event_type, EventType::Created);
        assert_eq!(created.changed_fields, None);
        assert_eq!(created.record["Age__c"], 42);
        assert_eq!(
            updated.changed_fields.as_deref(),
            Some(&["Name".to_string()][..])
        );
        assert_eq!(created.summary(), "CREATED Contact 003000000000001AAA");
        assert!(!created.truncated);
    }

    #[test]
    fn round_trips_without_inventing_fields() {
        let env = parse_envelope(BODY.as_bytes()).unwrap();
        let json = serde_json::to_value(&env).unwrap();
        assert!(json["data"]["events"][0].get("changedFields").is_none());
        assert!(json["data"]["events"][0].get("truncated").is_none());
        assert_eq!(json["data"]["events"][1]["eventType"], "UPDATED");
        assert_eq!(json["type"], "sfhooks.events");
    }

    #[test]
    fn keeps_the_truncated_mark() {
        let body = BODY.replace(r#""futureField":true"#, r#""truncated":true"#);
        let env = parse_envelope(body.as_bytes()).unwrap();
        assert!(env.data.events[1].truncated);
        let json = serde_json::to_value(&env.data.events[1]).unwrap();
        assert_eq!(json["truncated"], true);
    }

    #[test]
    fn refuses_other_types_unknown_event_types_and_non_json() {
        let other = BODY.replace("sfhooks.events", "other.events");
        assert!(matches!(
            parse_envelope(other.as_bytes()),
            Err(EnvelopeError::WrongType { found }) if found == "other.events"
        ));
        let bad_type = BODY.replace("\"CREATED\"", "\"MERGED\"");
        assert!(matches!(
            parse_envelope(bad_type.as_bytes()),
            Err(EnvelopeError::Json(_))
        ));
        assert!(matches!(
            parse_envelope(b"\xff{"),
            Err(EnvelopeError::Json(_))
        ));
        assert!(parse_envelope(b"")
            .unwrap_err()
            .to_string()
            .starts_with("body is not an sfhooks envelope"));
    }

    #[test]
    fn event_type_spelling_matches_serde() {
        for t in [
            EventType::Created,
            EventType::Updated,
            EventType::Deleted,
            EventType::Undeleted,
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
