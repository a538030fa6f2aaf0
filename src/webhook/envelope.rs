//! The JSON body the generated Apex sends (the wire contract in the README), as serde types.
//!
//! ```json
//! {"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z",
//!  "data":{"orgId":"00D...","events":[{"eventId":"...","eventType":"UPDATED","objectType":"Contact",
//!   "objectId":"003...","occurredAt":"2025-01-31T12:00:00.000Z","changedFields":["Email"],
//!   "record":{"Email":"a@example.com"}}]}}
//! ```
//!
//! When the sender knows it missed changes (a limit of the capturing transaction, or the poller's
//! delete log purged), it sends a [`EventType::Gap`] event in an ordinary envelope: no `objectId`,
//! no `record`, no `changedFields`, and a [`Gap`] saying which range of `objectType` to resync:
//!
//! ```json
//! {"eventId":"...","eventType":"GAP","objectType":"Contact","occurredAt":"2025-01-31T12:00:05.000Z",
//!  "gap":{"from":"2025-01-31T11:59:00.000Z","to":"2025-01-31T12:00:05.000Z","count":10200,
//!         "reason":"DML_ROWS"}}
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
    /// Id of the record; empty for a [`EventType::Gap`] event, which has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object_id: String,
    /// When the change happened, ISO-8601 UTC.
    pub occurred_at: String,
    /// Fields whose value changed (UPDATED only; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_fields: Option<Vec<String>>,
    /// The record's selected (or populated) fields; empty when the sender sent none (GAP).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub record: serde_json::Map<String, serde_json::Value>,
    /// True when the event was too large for the outbox and `record` keeps only the Id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The changes not captured: present on [`EventType::Gap`] events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
}

/// What a [`EventType::Gap`] event says was missed: resync `objectType` over `[from, to]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Start of the range not captured, ISO-8601 UTC.
    pub from: String,
    /// End of the range not captured, ISO-8601 UTC.
    pub to: String,
    /// How many changes were not captured; `None` (JSON `null`) when the sender cannot know.
    #[serde(default)]
    pub count: Option<u64>,
    /// Why they were not captured.
    pub reason: GapReason,
}

/// Why changes were not captured. Senders may add codes: an unknown one is kept as
/// [`GapReason::Other`], never refused, and the receiver resyncs all the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum GapReason {
    /// Apex capture: the statement had more rows than the DML rows left in the transaction.
    DmlRows,
    /// Apex capture: no asynchronous job could be enqueued for the overflow.
    EnqueueLimit,
    /// Apex capture: the transaction was close to its CPU time limit.
    Cpu,
    /// Apex capture: the transaction was close to its heap limit.
    Heap,
    /// Poller: deletions older than the org's delete log (Recycle Bin) were purged before being read.
    DeleteLogPurged,
    /// A code this version does not know, as sent (upper snake case).
    Other(String),
}

impl GapReason {
    /// The wire spelling: `DML_ROWS`, `ENQUEUE_LIMIT`, `CPU`, `HEAP`, `DELETE_LOG_PURGED`, or the
    /// unknown code as received.
    pub fn as_str(&self) -> &str {
        match self {
            GapReason::DmlRows => "DML_ROWS",
            GapReason::EnqueueLimit => "ENQUEUE_LIMIT",
            GapReason::Cpu => "CPU",
            GapReason::Heap => "HEAP",
            GapReason::DeleteLogPurged => "DELETE_LOG_PURGED",
            GapReason::Other(code) => code,
        }
    }
}

impl From<String> for GapReason {
    fn from(code: String) -> Self {
        match code.as_str() {
            "DML_ROWS" => GapReason::DmlRows,
            "ENQUEUE_LIMIT" => GapReason::EnqueueLimit,
            "CPU" => GapReason::Cpu,
            "HEAP" => GapReason::Heap,
            "DELETE_LOG_PURGED" => GapReason::DeleteLogPurged,
            _ => GapReason::Other(code),
        }
    }
}

impl From<GapReason> for String {
    fn from(reason: GapReason) -> Self {
        match reason {
            GapReason::Other(code) => code,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for GapReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// `CREATED Contact 003...`: what a one-line summary shows of the event. A gap reads
    /// `GAP Contact from <from> to <to> (<count> changes not captured, <REASON>)`.
    pub fn summary(&self) -> String {
        summary(
            self.event_type,
            &self.object_type,
            &self.object_id,
            self.gap.as_ref(),
        )
    }
}

fn summary(event_type: EventType, object_type: &str, object_id: &str, gap: Option<&Gap>) -> String {
    match gap {
        Some(gap) => {
            let count = match gap.count {
                Some(1) => "1 change".to_owned(),
                Some(n) => format!("{n} changes"),
                None => "an unknown number of changes".to_owned(),
            };
            format!(
                "{event_type} {object_type} from {} to {} ({count} not captured, {})",
                gap.from, gap.to, gap.reason
            )
        }
        None => format!("{event_type} {object_type} {object_id}"),
    }
}

/// An [`Envelope`] without the events' records: what a summary needs of a body too large to hold
/// whole. The records are skipped while parsing, never stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EnvelopeHead {
    /// Always [`wire::ENVELOPE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The org and its events.
    pub data: DataHead,
}

/// The `data` member of an [`EnvelopeHead`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataHead {
    /// The org id.
    pub org_id: String,
    /// The events, without their records.
    pub events: Vec<EventHead>,
}

/// An [`Event`] without its record and changed fields.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventHead {
    /// As [`Event::event_id`].
    pub event_id: String,
    /// As [`Event::event_type`].
    pub event_type: EventType,
    /// As [`Event::object_type`].
    pub object_type: String,
    /// As [`Event::object_id`].
    #[serde(default)]
    pub object_id: String,
    /// As [`Event::gap`].
    #[serde(default)]
    pub gap: Option<Gap>,
}

impl EventHead {
    /// The same line as [`Event::summary`].
    pub fn summary(&self) -> String {
        summary(
            self.event_type,
            &self.object_type,
            &self.object_id,
            self.gap.as_ref(),
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
    /// Changes were missed: the event's [`Gap`] says which range of its object to resync.
    Gap,
}

impl EventType {
    /// The wire spelling: `CREATED`, `UPDATED`, `DELETED`, `UNDELETED`, `GAP`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "CREATED",
            EventType::Updated => "UPDATED",
            EventType::Deleted => "DELETED",
            EventType::Undeleted => "UNDELETED",
            EventType::Gap => "GAP",
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
    /// A record event without the id of its record.
    #[error("event {event_id:?} ({event_type}) has no objectId: only GAP events may omit it")]
    MissingObjectId {
        /// The event's `eventId`.
        event_id: String,
        /// The event's type.
        event_type: EventType,
    },
    /// A GAP event without its `gap` member, so no range to resync.
    #[error("GAP event {event_id:?} has no gap member: it must say from, to, count and reason")]
    GapWithoutRange {
        /// The event's `eventId`.
        event_id: String,
    },
}

/// Parses a verified body as an [`Envelope`] and checks its `type`, that every record event names
/// its record and that every GAP event carries its range.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let envelope: Envelope = serde_json::from_slice(body)?;
    check_envelope(envelope)
}

/// Parses the [`EnvelopeHead`] of a verified body read from `body` in blocks, with the checks
/// of [`parse_envelope`]; memory grows with the number of events, not with their records (see
/// [`HeadScanner`](super::head_scan::HeadScanner), which also takes blocks pushed to it).
pub fn parse_envelope_head(mut body: impl std::io::Read) -> Result<EnvelopeHead, EnvelopeError> {
    let mut scanner = super::head_scan::HeadScanner::new();
    let mut block = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(EnvelopeError::Json(serde_json::Error::io(e))),
        };
        if !scanner.feed(&block[..n]) {
            break;
        }
    }
    scanner.finish()
}

/// The checks of [`parse_envelope`] on a head.
pub(crate) fn check_head(head: EnvelopeHead) -> Result<EnvelopeHead, EnvelopeError> {
    check(
        &head.kind,
        head.data
            .events
            .iter()
            .map(|e| (&e.event_id, e.event_type, &e.object_id, e.gap.is_some())),
    )?;
    Ok(head)
}

fn check_envelope(envelope: Envelope) -> Result<Envelope, EnvelopeError> {
    check(
        &envelope.kind,
        envelope
            .data
            .events
            .iter()
            .map(|e| (&e.event_id, e.event_type, &e.object_id, e.gap.is_some())),
    )?;
    Ok(envelope)
}

fn check<'a>(
    kind: &str,
    events: impl Iterator<Item = (&'a String, EventType, &'a String, bool)>,
) -> Result<(), EnvelopeError> {
    if kind != wire::ENVELOPE_TYPE {
        return Err(EnvelopeError::WrongType {
            found: kind.to_owned(),
        });
    }
    for (event_id, event_type, object_id, has_gap) in events {
        if event_type == EventType::Gap {
            if !has_gap {
                return Err(EnvelopeError::GapWithoutRange {
                    event_id: event_id.clone(),
                });
            }
        } else if object_id.is_empty() {
            return Err(EnvelopeError::MissingObjectId {
                event_id: event_id.clone(),
                event_type,
            });
        }
    }
    Ok(())
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
            EventType::Gap,
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    /// The GAP event exactly as the wire contract spells it (the Apex and the poller send this).
    const GAP_BODY: &str = r#"{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:06.000Z",
        "data":{"orgId":"00D000000000001EAA","events":[
          {"eventId":"gap-1","eventType":"GAP","objectType":"Contact",
           "occurredAt":"2025-01-31T12:00:05.000Z",
           "gap":{"from":"2025-01-31T11:59:00.000Z","to":"2025-01-31T12:00:05.000Z",
                  "count":10200,"reason":"DML_ROWS"}}]}}"#;

    #[test]
    fn parses_a_gap_event_without_object_id_or_record() {
        let env = parse_envelope(GAP_BODY.as_bytes()).unwrap();
        let gap_event = &env.data.events[0];
        assert_eq!(gap_event.event_type, EventType::Gap);
        assert_eq!(gap_event.object_id, "");
        assert!(gap_event.record.is_empty());
        assert_eq!(
            gap_event.gap,
            Some(Gap {
                from: "2025-01-31T11:59:00.000Z".into(),
                to: "2025-01-31T12:00:05.000Z".into(),
                count: Some(10_200),
                reason: GapReason::DmlRows,
            })
        );
        assert_eq!(
            gap_event.summary(),
            "GAP Contact from 2025-01-31T11:59:00.000Z to 2025-01-31T12:00:05.000Z \
             (10200 changes not captured, DML_ROWS)"
        );
    }

    #[test]
    fn a_gap_serialises_back_without_object_id_and_with_a_null_count() {
        let body = GAP_BODY.replace("10200", "null");
        let env = parse_envelope(body.as_bytes()).unwrap();
        assert_eq!(env.data.events[0].gap.as_ref().unwrap().count, None);
        let json = serde_json::to_value(&env.data.events[0]).unwrap();
        assert!(json.get("objectId").is_none(), "{json}");
        assert!(json.get("changedFields").is_none(), "{json}");
        assert_eq!(json["gap"]["count"], serde_json::Value::Null);
        assert_eq!(json["gap"]["reason"], "DML_ROWS");
        assert!(env.data.events[0]
            .summary()
            .contains("(an unknown number of changes not captured, DML_ROWS)"));
        // Record events keep their objectId on the way out.
        let env = parse_envelope(BODY.as_bytes()).unwrap();
        let json = serde_json::to_value(&env.data.events[0]).unwrap();
        assert_eq!(json["objectId"], "003000000000001AAA");
        assert!(json.get("gap").is_none());
    }

    #[test]
    fn every_documented_reason_code_is_known_and_unknown_ones_are_kept() {
        for (code, reason) in [
            ("DML_ROWS", GapReason::DmlRows),
            ("ENQUEUE_LIMIT", GapReason::EnqueueLimit),
            ("CPU", GapReason::Cpu),
            ("HEAP", GapReason::Heap),
            ("DELETE_LOG_PURGED", GapReason::DeleteLogPurged),
        ] {
            let env = parse_envelope(GAP_BODY.replace("DML_ROWS", code).as_bytes()).unwrap();
            let parsed = env.data.events[0].gap.clone().unwrap().reason;
            assert_eq!(parsed, reason);
            assert_eq!(parsed.as_str(), code);
            assert_eq!(serde_json::to_value(&parsed).unwrap(), code);
        }
        let env = parse_envelope(GAP_BODY.replace("DML_ROWS", "FUTURE_LIMIT").as_bytes()).unwrap();
        let reason = env.data.events[0].gap.clone().unwrap().reason;
        assert_eq!(reason, GapReason::Other("FUTURE_LIMIT".into()));
        assert_eq!(serde_json::to_value(&reason).unwrap(), "FUTURE_LIMIT");
    }

    #[test]
    fn a_gap_without_its_range_and_a_record_event_without_its_id_are_refused() {
        let no_range = GAP_BODY.replace(r#""gap":{"#, r#""gapx":{"#);
        let err = parse_envelope(no_range.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, EnvelopeError::GapWithoutRange { event_id } if event_id == "gap-1"),
            "{err}"
        );
        let no_id = BODY.replace(r#""objectId":"003000000000001AAA","#, "");
        let err = parse_envelope(no_id.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, EnvelopeError::MissingObjectId { event_id, event_type: EventType::Created } if event_id == "e1"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            r#"event "e1" (CREATED) has no objectId: only GAP events may omit it"#
        );
    }

    #[test]
    fn the_head_summarises_like_the_envelope_and_is_checked_the_same() {
        for body in [BODY, GAP_BODY] {
            let env = parse_envelope(body.as_bytes()).unwrap();
            let head = parse_envelope_head(body.as_bytes()).unwrap();
            assert_eq!(head.data.org_id, env.data.org_id);
            let lines: Vec<_> = head.data.events.iter().map(EventHead::summary).collect();
            let expected: Vec<_> = env.data.events.iter().map(Event::summary).collect();
            assert_eq!(lines, expected);
        }
        let no_range = GAP_BODY.replace(r#""gap":{"#, r#""gapx":{"#);
        assert!(matches!(
            parse_envelope_head(no_range.as_bytes()),
            Err(EnvelopeError::GapWithoutRange { .. })
        ));
        let other = BODY.replace("sfhooks.events", "other.events");
        assert!(matches!(
            parse_envelope_head(other.as_bytes()),
            Err(EnvelopeError::WrongType { .. })
        ));
    }
}
