//! What `sfhooks poll` reads from the fake org, following the REST API Developer
//! Guide's shapes (FACTS.md, "REST API for polling and operating the org"):
//! - records with a life: created, updated, touched by a system update, deleted into the delete
//!   log (and the Recycle Bin), undeleted, hard deleted, each moving `SystemModstamp` to the fake
//!   clock as Salesforce does;
//! - `GET sobjects/{Object}/describe`: the fields a test defined, minus those field-level security
//!   hides (`hide_field`); an object nobody defined answers 404 `NOT_FOUND`;
//! - `GET sobjects/{Object}/deleted/?start=&end=`: seconds ignored, more than a minute between
//!   start and end, 400 `INVALID_REPLICATION_DATE` before `earliestDateAvailable`;
//! - `POST composite`: GET subrequests answered by the same handlers, at most 25 of them and at
//!   most 5 queries, one API request for the whole.
//!
//! A query naming a field its object does not define answers 400 `INVALID_FIELD`, as a real org
//! does (the wording is Salesforce's usual "No such column").
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use serde_json::{json, Value};

use super::fake_rest::{datetime_secs, error_body, FakeRest};

/// The fields every defined object has.
const STANDARD_FIELDS: [(&str, &str); 6] = [
    ("Id", "id"),
    ("IsDeleted", "boolean"),
    ("Name", "string"),
    ("CreatedDate", "datetime"),
    ("LastModifiedDate", "datetime"),
    ("SystemModstamp", "datetime"),
];

/// The polling side of the fake org.
#[derive(Debug, Default)]
pub struct Life {
    /// Defined objects and their fields (name, describe type).
    pub objects: BTreeMap<String, Vec<(String, String)>>,
    /// (object, field) pairs describe leaves out (field-level security).
    pub hidden: BTreeSet<(String, String)>,
    /// The delete log per object: (id, deletedDate).
    pub delete_log: BTreeMap<String, Vec<(String, SystemTime)>>,
    /// Deleted records (the Recycle Bin), per object.
    pub recycle_bin: BTreeMap<String, Vec<Value>>,
    /// The delete log's start; `None`: 15 days before the clock.
    pub earliest: Option<SystemTime>,
    /// Every `deleted` request: (object, start, end) as sent.
    pub deleted_requests: Vec<(String, String, String)>,
    /// Every composite request's subrequest URLs.
    pub composites: Vec<Vec<String>>,
}

impl Life {
    /// A 400 `INVALID_FIELD` for a query of a defined object that names a field it lacks.
    pub fn refuse_fields(&self, object: &str, fields: &[String]) -> Option<(StatusCode, Value)> {
        let defined = self.objects.get(object)?;
        let missing = fields.iter().find(|f| {
            !f.contains('.') && !defined.iter().any(|(name, _)| name.eq_ignore_ascii_case(f))
        })?;
        Some((
            StatusCode::BAD_REQUEST,
            error_body(
                "INVALID_FIELD",
                &format!(
                    "\n{missing} FROM {object}\n^\nERROR at Row:1:Column:8\nNo such column \
                     '{missing}' on entity '{object}'. If you are attempting to use a custom field, \
                     be sure to append the '__c' after the custom field name."
                ),
            ),
        ))
    }
}

/// Writes a time the way Salesforce writes datetimes: `2026-12-07T10:00:00.000+0000`.
pub fn sf_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64;
    let text = sfhooks::pipeline::time::format_datetime(secs);
    format!("{}.000+0000", text.trim_end_matches('Z'))
}

/// A time from whole seconds.
pub fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// The clock the polling tests start at: 2026-12-07T10:00:00Z.
pub fn t0() -> SystemTime {
    at(sfhooks::pipeline::time::parse_datetime("2026-12-07T10:00:00Z").expect("a valid time"))
}

/// The 3-character key prefix of an object's Ids.
pub fn key_prefix(object: &str) -> &'static str {
    match object {
        "Account" => "001",
        "Contact" => "003",
        "Lead" => "00Q",
        "Opportunity" => "006",
        _ => "a01",
    }
}

fn minute(secs: i64) -> i64 {
    secs.div_euclid(60) * 60
}

impl FakeRest {
    /// Defines an object for describe and queries: the standard fields and these.
    pub fn define_object(&mut self, object: &str, fields: &[(&str, &str)]) {
        let mut all: Vec<(String, String)> = STANDARD_FIELDS
            .iter()
            .chain(fields)
            .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
            .collect();
        all.dedup_by(|a, b| a.0 == b.0);
        self.life.objects.insert(object.to_string(), all);
        self.tables.records(object);
    }

    /// Field-level security hides a field from describe (queries of it still fail).
    pub fn hide_field(&mut self, object: &str, field: &str) {
        self.life
            .hidden
            .insert((object.to_string(), field.to_string()));
    }

    /// Moves the fake clock forward.
    pub fn advance(&mut self, by: Duration) {
        let now = self.now() + by;
        self.set_clock(Some(now));
    }

    fn find(&mut self, id: &str) -> Option<(String, usize)> {
        self.tables.data.iter().find_map(|(object, rows)| {
            rows.iter()
                .position(|r| r["Id"].as_str() == Some(id))
                .map(|i| (object.clone(), i))
        })
    }

    /// Creates a record at the fake clock; returns its Id.
    pub fn create(&mut self, object: &str, fields: Value) -> String {
        let stamp = sf_time(self.now());
        let mut record = json!({"IsDeleted": false, "CreatedDate": stamp, "LastModifiedDate": stamp,
            "SystemModstamp": stamp});
        if let (Some(r), Some(f)) = (record.as_object_mut(), fields.as_object()) {
            r.extend(f.clone());
        }
        let id = self.id_for(key_prefix(object), &mut record);
        self.tables.records(object).push(record);
        id
    }

    /// A user's update at the fake clock: the fields, `LastModifiedDate` and `SystemModstamp`.
    pub fn update(&mut self, id: &str, fields: Value) {
        let stamp = sf_time(self.now());
        let (object, i) = self.find(id).expect("update of a live record");
        let row = &mut self.tables.records(&object)[i];
        if let (Some(r), Some(f)) = (row.as_object_mut(), fields.as_object()) {
            r.extend(f.clone());
        }
        row["LastModifiedDate"] = json!(stamp);
        row["SystemModstamp"] = json!(stamp);
    }

    /// A system update: only `SystemModstamp` moves.
    pub fn touch(&mut self, id: &str) {
        let stamp = sf_time(self.now());
        let (object, i) = self.find(id).expect("touch of a live record");
        self.tables.records(&object)[i]["SystemModstamp"] = json!(stamp);
    }

    /// Sets one field as it is, without moving any stamp (a backdated `LastModifiedDate`, or an
    /// older `SystemModstamp` for a transaction that committed late).
    pub fn set_field(&mut self, id: &str, field: &str, value: Value) {
        let (object, i) = self.find(id).expect("a live record");
        self.tables.records(&object)[i][field] = value;
    }

    /// Deletes a record: it leaves `query`, enters the delete log and the Recycle Bin.
    pub fn delete(&mut self, id: &str) {
        let now = self.now();
        let (object, i) = self.find(id).expect("delete of a live record");
        let mut row = self.tables.records(&object).remove(i);
        row["IsDeleted"] = json!(true);
        row["SystemModstamp"] = json!(sf_time(now));
        self.life
            .delete_log
            .entry(object.clone())
            .or_default()
            .push((id.to_string(), now));
        self.life.recycle_bin.entry(object).or_default().push(row);
    }

    /// Undeletes a record from the Recycle Bin at the fake clock.
    pub fn undelete(&mut self, id: &str) {
        let now = sf_time(self.now());
        for (object, rows) in self.life.recycle_bin.iter_mut() {
            if let Some(i) = rows.iter().position(|r| r["Id"].as_str() == Some(id)) {
                let mut row = rows.remove(i);
                row["IsDeleted"] = json!(false);
                row["SystemModstamp"] = json!(now);
                if let Some(log) = self.life.delete_log.get_mut(object) {
                    log.retain(|(d, _)| d != id);
                }
                let object = object.clone();
                self.tables.records(&object).push(row);
                return;
            }
        }
        panic!("undelete of {id}, which is not in the Recycle Bin");
    }

    /// Purges the delete log before `t`: older deletions are forgotten, and a `deleted` request
    /// starting earlier is refused.
    pub fn purge_delete_log_before(&mut self, t: SystemTime) {
        for log in self.life.delete_log.values_mut() {
            log.retain(|(_, d)| *d >= t);
        }
        self.life.earliest = Some(t);
    }

    /// A live record's current fields.
    pub fn record(&mut self, id: &str) -> Value {
        let (object, i) = self.find(id).expect("a live record");
        self.tables.records(&object)[i].clone()
    }

    /// Answers `GET sobjects/...`: describe and deleted.
    pub(super) fn sobject_get(
        &mut self,
        resource: &str,
        pairs: &[(String, String)],
        unexpected: &mut Vec<String>,
    ) -> (StatusCode, Value) {
        let parts: Vec<&str> = resource.trim_end_matches('/').split('/').collect();
        match parts.as_slice() {
            ["sobjects", object, "describe"] => self.describe(object),
            ["sobjects", object, "deleted"] => self.deleted(object, pairs),
            _ => {
                unexpected.push(format!("unexpected sObject request {resource}"));
                (
                    StatusCode::NOT_FOUND,
                    error_body("NOT_FOUND", "The requested resource does not exist"),
                )
            }
        }
    }

    fn describe(&self, object: &str) -> (StatusCode, Value) {
        let Some(fields) = self.life.objects.get(object) else {
            return (
                StatusCode::NOT_FOUND,
                error_body("NOT_FOUND", "The requested resource does not exist"),
            );
        };
        let fields: Vec<Value> = fields
            .iter()
            .filter(|(name, _)| !self.life.hidden.contains(&(object.to_string(), name.clone())))
            .map(|(name, kind)| {
                json!({"name": name, "type": kind, "label": name, "compoundFieldName": null})
            })
            .collect();
        (
            StatusCode::OK,
            json!({"name": object, "label": object, "keyPrefix": key_prefix(object),
                "queryable": true, "fields": fields}),
        )
    }

    fn deleted(&mut self, object: &str, pairs: &[(String, String)]) -> (StatusCode, Value) {
        let param = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let (start, end) = (
            param("start").unwrap_or_default(),
            param("end").unwrap_or_default(),
        );
        self.life
            .deleted_requests
            .push((object.to_string(), start.clone(), end.clone()));
        let (Some(s), Some(e)) = (datetime_secs(&start), datetime_secs(&end)) else {
            return (
                StatusCode::BAD_REQUEST,
                error_body("MALFORMED_QUERY", "start and end must be ISO 8601 dates"),
            );
        };
        let now = datetime_secs(&sf_time(self.now())).expect("the clock formats");
        let (s, e) = (minute(s), minute(e));
        let earliest = self
            .life
            .earliest
            .map(|t| datetime_secs(&sf_time(t)).expect("formats"))
            .unwrap_or(now - 15 * 86_400);
        // The wording of both refusals is not on record; the code is (FACTS.md).
        if e - s <= 60 {
            return (
                StatusCode::BAD_REQUEST,
                error_body(
                    "INVALID_REPLICATION_DATE",
                    "end date must be at least one minute greater than start date",
                ),
            );
        }
        if s < minute(earliest) {
            return (
                StatusCode::BAD_REQUEST,
                error_body(
                    "INVALID_REPLICATION_DATE",
                    "startDate before org replication enabled date",
                ),
            );
        }
        let covered = e.min(minute(now));
        let records: Vec<Value> = self
            .life
            .delete_log
            .get(object)
            .map(|log| {
                log.iter()
                    .filter(|(_, d)| {
                        let d = datetime_secs(&sf_time(*d)).expect("formats");
                        d >= s && d < covered
                    })
                    .map(|(id, d)| json!({"id": id, "deletedDate": sf_time(*d)}))
                    .collect()
            })
            .unwrap_or_default();
        (
            StatusCode::OK,
            json!({"deletedRecords": records, "earliestDateAvailable": sf_time(at(earliest)),
                "latestDateCovered": sf_time(at(covered))}),
        )
    }

    /// Answers `POST composite` with GET subrequests.
    pub(super) fn composite(
        &mut self,
        version: &str,
        body: &str,
        unexpected: &mut Vec<String>,
    ) -> (StatusCode, Value) {
        let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let Some(subs) = request["compositeRequest"].as_array().cloned() else {
            unexpected.push(format!(
                "a composite request without compositeRequest: {body}"
            ));
            return (
                StatusCode::BAD_REQUEST,
                error_body("JSON_PARSER_ERROR", "compositeRequest is required"),
            );
        };
        let urls: Vec<String> = subs
            .iter()
            .map(|s| s["url"].as_str().unwrap_or("").to_string())
            .collect();
        self.life.composites.push(urls.clone());
        let queries = urls.iter().filter(|u| u.contains("/query")).count();
        if subs.len() > 25 || queries > 5 {
            unexpected.push(format!(
                "a composite request over the limits: {} subrequests, {queries} queries",
                subs.len()
            ));
            return (
                StatusCode::BAD_REQUEST,
                error_body(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    "composite: at most 25 subrequests, at most 5 of them queries",
                ),
            );
        }
        let mut answers = Vec::new();
        for (sub, url) in subs.iter().zip(&urls) {
            let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let resource = path
                .strip_prefix(&format!("/services/data/v{version}/"))
                .unwrap_or("");
            let (status, body) = match (sub["method"].as_str(), resource) {
                (Some("GET"), "query") => {
                    let q = pairs.iter().find(|(k, _)| k == "q").map(|(_, v)| v.clone());
                    self.query_value(version, &q.unwrap_or_default(), false, unexpected)
                }
                (Some("GET"), r) if r.starts_with("sobjects/") => {
                    self.sobject_get(r, &pairs, unexpected)
                }
                _ => {
                    unexpected.push(format!("unexpected composite subrequest {sub}"));
                    (
                        StatusCode::NOT_FOUND,
                        error_body("NOT_FOUND", "The requested resource does not exist"),
                    )
                }
            };
            answers.push(
                json!({"body": body, "httpHeaders": {}, "httpStatusCode": status.as_u16(),
                "referenceId": sub["referenceId"]}),
            );
        }
        (StatusCode::OK, json!({"compositeResponse": answers}))
    }

    /// The SOQL of every changes query, direct or in a composite request, in order.
    pub fn poll_queries(&self) -> Vec<String> {
        let mut out = Vec::new();
        for urls in &self.life.composites {
            for url in urls {
                if let Some((_, q)) = url.split_once("?q=") {
                    let pairs = url::form_urlencoded::parse(format!("q={q}").as_bytes())
                        .into_owned()
                        .collect::<Vec<_>>();
                    out.extend(pairs.into_iter().map(|(_, v)| v));
                }
            }
        }
        out
    }
}
