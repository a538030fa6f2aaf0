//! Events and deliveries of the poller, in the Apex's envelope (README "The wire contract"), with
//! ids derived from what they are about, so a crash and a restart rebuild the same ids and the
//! same bytes: `eventId` from org, object, record, stamp and type; `webhook-id` from the events
//! it carries; the envelope's `timestamp` is the window's end on the org's clock.
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::clock::format_ms;
use crate::webhook::envelope::{Data, Envelope, Event, Gap, GapReason};
use crate::webhook::{wire, EventType};

fn hex32(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `evt_` and 32 hex digits, from what the event is about.
pub fn event_id(
    org_id: &str,
    object: &str,
    record_id: &str,
    stamp: i64,
    kind: EventType,
) -> String {
    format!(
        "evt_{}",
        hex32(&[
            "sfhooks-poll-event",
            &org_id[..org_id.len().min(15)],
            object,
            record_id,
            &stamp.to_string(),
            kind.as_str()
        ])
    )
}

/// A record change as an envelope event.
pub fn change_event(
    org_id: &str,
    object: &str,
    record_id: &str,
    stamp: i64,
    kind: EventType,
    changed: Option<Vec<String>>,
    record: Map<String, Value>,
) -> Event {
    Event {
        event_id: event_id(org_id, object, record_id, stamp, kind),
        event_type: kind,
        object_type: object.to_string(),
        object_id: record_id.to_string(),
        occurred_at: format_ms(stamp),
        changed_fields: changed,
        record,
        truncated: false,
        gap: None,
    }
}

/// A GAP event: the changes of `object` over `[from, to]` (ms) were not captured.
pub fn gap_event(
    org_id: &str,
    object: &str,
    from: i64,
    to: i64,
    reason: GapReason,
    at: i64,
) -> Event {
    Event {
        event_id: format!(
            "evt_{}",
            hex32(&[
                "sfhooks-poll-gap",
                &org_id[..org_id.len().min(15)],
                object,
                &from.to_string(),
                &to.to_string(),
                reason.as_str()
            ])
        ),
        event_type: EventType::Gap,
        object_type: object.to_string(),
        object_id: String::new(),
        occurred_at: format_ms(at),
        changed_fields: None,
        record: Map::new(),
        truncated: false,
        gap: Some(Gap {
            from: format_ms(from),
            to: format_ms(to),
            count: None,
            reason,
        }),
    }
}

/// A built delivery: its `webhook-id` and the exact bytes every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// `msg_` and 32 hex digits.
    pub webhook_id: String,
    /// The envelope.
    pub body: Vec<u8>,
    /// How many events.
    pub events: usize,
}

/// Builds one delivery of up to 200 events (the caller chunks).
pub fn build_delivery(org_id: &str, events: Vec<Event>, timestamp: i64) -> Built {
    let mut hasher = Sha256::new();
    hasher.update(b"sfhooks-poll-delivery\0");
    for e in &events {
        hasher.update(e.event_id.as_bytes());
        hasher.update([0u8]);
    }
    let webhook_id = format!(
        "msg_{}",
        hasher.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let count = events.len();
    let envelope = Envelope {
        kind: wire::ENVELOPE_TYPE.to_string(),
        timestamp: format_ms(timestamp),
        data: Data {
            org_id: org_id.to_string(),
            events,
        },
    };
    let body = serde_json::to_vec(&envelope).expect("an envelope of JSON values serialises");
    Built {
        webhook_id,
        body,
        events: count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_the_body_is_the_wire_contract() {
        let org = "00Dfake0000000001AAA";
        let e = || {
            let mut record = Map::new();
            record.insert("Id".into(), Value::from("003A"));
            change_event(
                org,
                "Contact",
                "003A",
                1_765_101_600_000,
                EventType::Created,
                None,
                record,
            )
        };
        assert_eq!(e(), e());
        assert!(e().event_id.starts_with("evt_") && e().event_id.len() == 36);
        let a = build_delivery(org, vec![e()], 1_765_101_600_000);
        assert_eq!(a, build_delivery(org, vec![e()], 1_765_101_600_000));
        assert!(a.webhook_id.starts_with("msg_") && !a.webhook_id.contains('.'));
        let parsed = crate::webhook::parse_envelope(&a.body).unwrap();
        assert_eq!(parsed.kind, "sfhooks.events");
        assert_eq!(parsed.data.org_id, org);
        assert_eq!(
            parsed.data.events[0].occurred_at,
            "2025-12-07T10:00:00.000Z"
        );
        let other = change_event(
            org,
            "Contact",
            "003A",
            1_765_101_600_001,
            EventType::Created,
            None,
            Map::new(),
        );
        assert_ne!(other.event_id, e().event_id);
        let gap = gap_event(org, "Contact", 0, 1000, GapReason::DeleteLogPurged, 1000);
        let b = build_delivery(org, vec![gap], 1000);
        let text = String::from_utf8(b.body).unwrap();
        assert!(text.contains(r#""gap":{"from":"1970-01-01T00:00:00.000Z","to":"1970-01-01T00:00:01.000Z","count":null,"reason":"DELETE_LOG_PURGED"}"#), "{text}");
        assert!(!text.contains("objectId"), "{text}");
    }
}
