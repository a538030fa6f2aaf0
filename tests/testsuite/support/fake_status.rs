//! What the fake org needs for `sfhooks status` and `sfhooks replay`, on top of
//! [`super::fake_rest`]: aggregate queries (`COUNT(Id)`, `MIN(...)` with `GROUP BY`, answered as
//! Salesforce answers them: records of type `AggregateResult` carrying the grouped fields and the
//! aliases), and an org seeded like one where sfhooks runs: the Organization row, the outbox,
//! the settings record, the run-time state, the sweeper's four jobs and their owner, and the
//! Remote Site Setting.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::fake_org::FakeOrg;
use super::fake_rest::{error_body, lookup, FakeRest, Tables};

/// The fake org's Id.
pub const ORG_ID: &str = "00Dfake0000000001AAA";
/// The org's clock in these tests: 2026-12-07T12:00:00Z.
pub const NOW: u64 = 1_796_644_800;
/// The owner of the scheduled jobs.
pub const OWNER_ID: &str = "005fake00000000001";
/// The prefix the seeded org was deployed with.
pub const PREFIX: &str = "Sfhooks";
/// The outbox object.
pub const OUTBOX: &str = "Sfhooks_Outbox__c";

/// Answers `SELECT g1, g2, COUNT(Id) a, MIN(f) b FROM X GROUP BY g1, g2`; `None` for any
/// other query (the ordinary matcher's).
pub fn aggregate(tables: &Tables, tooling: bool, soql: &str) -> Option<(StatusCode, Value)> {
    let (head, group_by) = soql.split_once(" GROUP BY ")?;
    let rest = head.strip_prefix("SELECT ")?;
    let (fields, object) = rest.split_once(" FROM ")?;
    let object = object.trim();
    let groups: Vec<&str> = group_by.split(',').map(str::trim).collect();
    let table = if tooling {
        tables.tooling.get(object)
    } else {
        tables.data.get(object)
    };
    let Some(table) = table else {
        return Some((
            StatusCode::BAD_REQUEST,
            error_body(
                "INVALID_TYPE",
                &format!(
                    "sObject type '{object}' is not supported. If you are attempting to use a \
                     custom object, be sure to append the '__c' after the entity name."
                ),
            ),
        ));
    };
    let mut buckets: Vec<(Vec<Value>, Vec<&Value>)> = Vec::new();
    for row in table {
        let key: Vec<Value> = groups.iter().map(|g| lookup(row, g)).collect();
        match buckets.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(row),
            None => buckets.push((key, vec![row])),
        }
    }
    let mut records = Vec::new();
    for (key, rows) in &buckets {
        let mut out = Map::new();
        out.insert("attributes".into(), json!({"type": "AggregateResult"}));
        for field in fields.split(',').map(str::trim) {
            if let Some(i) = groups.iter().position(|g| g == &field) {
                out.insert(field.to_string(), key[i].clone());
                continue;
            }
            let (call, alias) = field.rsplit_once(' ')?;
            let (function, argument) = call.strip_suffix(')')?.split_once('(')?;
            let value = match function.to_ascii_uppercase().as_str() {
                "COUNT" => json!(rows.len()),
                "MIN" => rows
                    .iter()
                    .map(|r| lookup(r, argument))
                    .filter(|v| !v.is_null())
                    .min_by_key(|v| v.as_str().unwrap_or_default().to_string())
                    .unwrap_or(Value::Null),
                _ => return None,
            };
            out.insert(alias.to_string(), value);
        }
        records.push(Value::Object(out));
    }
    Some((
        StatusCode::OK,
        json!({"totalSize": records.len(), "done": true, "records": records}),
    ))
}

/// A Salesforce datetime `secs_ago` before [`NOW`]: `2026-12-07T11:59:30.000+0000`.
pub fn ago(secs_ago: u64) -> String {
    let t = sfhooks::pipeline::time::format_datetime((NOW - secs_ago) as i64);
    format!("{}.000+0000", t.trim_end_matches('Z'))
}

/// An outbox row.
pub fn outbox_row(status: &str, object: &str, event_type: &str, created_ago: u64) -> Value {
    json!({
        "Name": "OB-0",
        "Status__c": status,
        "Object_Type__c": object,
        "Event_Type__c": event_type,
        "Attempts__c": if status == "Dead" { 17 } else { 0 },
        "CreatedDate": ago(created_ago),
        "Payload__c": "{\"type\":\"sfhooks.events\",\"secret-looking\":\"PAYLOAD-NEVER-SHOWN\"}",
        "Next_Attempt_At__c": if status == "Pending" || status == "Retrying" { Value::String(ago(created_ago)) } else { Value::Null },
    })
}

/// A Dead row with its last error.
pub fn dead_row(object: &str, created_ago: u64) -> Value {
    let mut row = outbox_row("Dead", object, "UPDATED", created_ago);
    row["Last_Status_Code__c"] = json!(503);
    row["Last_Error__c"] = json!("HTTP 503: Service Unavailable");
    row["Last_Attempt_At__c"] = json!(ago(created_ago.saturating_sub(86_400)));
    row
}

/// Seeds an org where sfhooks runs and is healthy: two Pending rows (30 s old), Delivered rows,
/// the settings record pinned to this org with a secret, the four sweeper jobs WAITING and
/// owned by an active user, no run-time switch set, and the Remote Site of
/// `https://hooks.example.com`.
pub fn seed_healthy(org: &FakeOrg) {
    org.with_rest(|rest| {
        rest.set_clock(Some(UNIX_EPOCH + Duration::from_secs(NOW)));
        rest.insert(
            "Organization",
            "00D",
            json!({"Id": ORG_ID, "Name": "Acme", "IsSandbox": false}),
        );
        for i in 0..2 {
            let mut row = outbox_row("Pending", "Contact", "UPDATED", 30);
            row["Name"] = json!(format!("OB-{i:06}"));
            rest.insert(OUTBOX, "a00", row);
        }
        for i in 0..3 {
            let mut row = outbox_row("Delivered", "Account", "CREATED", 3600);
            row["Name"] = json!(format!("OB-{:06}", 10 + i));
            row["Delivered_At__c"] = json!(ago(3500));
            rest.insert(OUTBOX, "a00", row);
        }
        rest.insert(
            "Sfhooks_Settings__mdt",
            "m00",
            json!({"DeveloperName": "Default", "Org_Id__c": &ORG_ID[..15],
                   "Secret__c": "whsec_NEVERPRINTEDc2VjcmV0c2VjcmV0c2VjcmV0",
                   "Bypass_Capture__c": false, "Bypass_Delivery__c": false}),
        );
        rest.tables.records("Sfhooks_State__c");
        for minute in [0, 15, 30, 45] {
            rest.insert(
                "CronTrigger",
                "08e",
                json!({"State": "WAITING", "NextFireTime": ago(0).replace("12:00:00", &format!("12:{minute:02}:00")),
                       "PreviousFireTime": null, "OwnerId": OWNER_ID,
                       "CronJobDetail": {"attributes": {"type": "CronJobDetail"},
                                         "Name": format!("SfhooksSweeper :{minute:02}")}}),
            );
        }
        rest.insert(
            "User",
            "005",
            json!({"Id": OWNER_ID, "Username": "admin@acme.example", "IsActive": true}),
        );
        rest.tables.records("AsyncApexJob");
        rest.insert_tooling(
            "RemoteProxy",
            "0rp",
            json!({"SiteName": "Sfhooks_Callback", "EndpointUrl": "https://hooks.example.com",
                   "IsActive": true, "DisableProtocolSecurity": false}),
        );
    });
}

/// The org's clock as a `SystemTime`.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// Changes the records of `object` that match `filter`.
pub fn update(
    rest: &mut FakeRest,
    object: &str,
    filter: impl Fn(&Value) -> bool,
    change: impl Fn(&mut Value),
) {
    for row in rest.tables.records(object).iter_mut().filter(|r| filter(r)) {
        change(row);
    }
}
