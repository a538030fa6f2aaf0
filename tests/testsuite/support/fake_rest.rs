//! The REST side of the fake org (issues 9, 10, 11): `query`, `queryAll`, the Tooling `query`,
//! `executeAnonymous`, sObject Collections `PATCH` and Apex invocable actions, under
//! `/services/data/vNN.0/`, served by the same listener as the SOAP Metadata API
//! ([`super::fake_org`] hands every `/services/data/` request to [`FakeRest::respond`]).
//!
//! Answers follow the REST API Developer Guide's shapes (FACTS.md, "REST API for polling and
//! operating the org"): every answer carries `Date` (the fake org's clock, which a test may set)
//! and `Sforce-Limit-Info: api-usage=N/M` (one more per request); errors are
//! `[{"message", "errorCode", "fields"}]` arrays; a session the org does not know gets 401
//! `INVALID_SESSION_ID`; usage above the limit gets 403 `REQUEST_LIMIT_EXCEEDED`.
//!
//! Data lives in tables of JSON records per sObject (relationship fields as nested objects, e.g.
//! `{"CronJobDetail": {"Name": "SfhooksSweeper :00"}}`), read by a tiny SOQL matcher:
//! `SELECT a, b.c FROM X [WHERE p op v [AND ...]] [ORDER BY p [ASC|DESC]] [LIMIT n]`, with `=`,
//! `!=`, `<`, `<=`, `>`, `>=`, `LIKE` (`%` and `_`), `IN (...)`, `NOT IN (...)`, and
//! `SELECT COUNT() FROM X ...`. What it does not understand is recorded as unexpected and
//! answered `MALFORMED_QUERY`, so a test never passes on a query the fake misread. Pages hold
//! [`FakeRest::page_size`] records and chain through `nextRecordsUrl`.
//!
//! `executeAnonymous` records every body; what it does is up to the test: scripted outcomes
//! ([`FakeRest::script_anonymous`]), a handler that acts on the tables
//! ([`FakeRest::on_anonymous`]), else success. [`FakeRest::refuse_anonymous`] makes it answer as
//! Salesforce does a user it does not let run Apex.
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::SystemTime;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Value};

mod soql;
pub use soql::*;
mod jobs;
pub use jobs::*;
mod projection;
pub use projection::*;

/// What one `executeAnonymous` call gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Anonymous {
    /// Compiled and ran.
    Success,
    /// Did not compile: line, column, problem.
    CompileProblem(i64, i64, String),
    /// Compiled, then threw: message, stack trace.
    Exception(String, String),
    /// An HTTP error in Salesforce's shape: status, errorCode, message.
    Refused(u16, String, String),
    /// (In a script) what the handler makes of the body.
    Handled,
}

/// A handler for `executeAnonymous` bodies: may change the tables, returns the outcome.
pub type AnonymousHandler = Box<dyn FnMut(&str, &mut Tables) -> Anonymous + Send>;

/// A handler for invocable actions: class name, the `inputs`, the tables; returns the result
/// list, or an HTTP error (status, errorCode, message).
pub type ActionHandler =
    Box<dyn FnMut(&str, &[Value], &mut Tables) -> Result<Vec<Value>, (u16, String, String)> + Send>;

/// The records of the fake org: `data` for the REST API, `tooling` for the Tooling API.
#[derive(Debug, Default, Clone)]
pub struct Tables {
    pub data: BTreeMap<String, Vec<Value>>,
    pub tooling: BTreeMap<String, Vec<Value>>,
}

impl Tables {
    /// The records of one sObject (created empty on first use).
    pub fn records(&mut self, object: &str) -> &mut Vec<Value> {
        self.data.entry(object.to_string()).or_default()
    }

    /// The records of one Tooling API object.
    pub fn tooling_records(&mut self, object: &str) -> &mut Vec<Value> {
        self.tooling.entry(object.to_string()).or_default()
    }
}

/// One REST request the org received.
#[derive(Debug, Clone)]
pub struct RestRequest {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The decoded query-string pairs (`q`, `anonymousBody`).
    pub query: Vec<(String, String)>,
    /// The raw body.
    pub body: String,
    /// The bearer token sent.
    pub token: Option<String>,
}

impl RestRequest {
    /// A query-string value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The REST state of the fake org.
pub struct FakeRest {
    pub tables: Tables,
    /// Records per query page (Salesforce's default batch is 2,000).
    pub page_size: usize,
    /// Every REST request, in order.
    pub requests: Vec<RestRequest>,
    /// Every `executeAnonymous` body, in order.
    pub anonymous: Vec<String>,
    anonymous_script: VecDeque<Anonymous>,
    anonymous_handler: Option<AnonymousHandler>,
    anonymous_refusal: Option<Anonymous>,
    action_handler: Option<ActionHandler>,
    /// Record ids that an sObject Collections update fails: statusCode, message.
    pub patch_failures: HashMap<String, (String, String)>,
    /// Expire every session when the request with this 0-based index (counting REST requests
    /// only) arrives: that request gets 401.
    pub expire_at_request: Option<usize>,
    /// Expire every session right after this many `executeAnonymous` calls were answered (1:
    /// after the first), for "the session ended between the pause and the deploy".
    pub expire_after_anonymous: Option<usize>,
    /// Classes that a scheduled job's lock reaches besides its own class (those it references).
    pub lock_reaches: Vec<String>,
    cursors: HashMap<String, (Vec<Value>, u64)>,
    next_cursor: u32,
    api_used: u64,
    api_max: u64,
    clock: Option<SystemTime>,
    pub(super) next_id: u64,
    /// Records with a life (create, update, delete, undelete), describe and the delete log: the
    /// resources `sfhooks poll` reads (fake_records.rs).
    pub life: super::fake_records::Life,
}

/// The fake org's Id, as `SELECT Id FROM Organization` answers it.
pub const ORG_ID: &str = "00Dfake00000001AAA";
/// The deploying user's Id.
pub const USER_ID: &str = "005fake00000001AAA";

/// The longest request target Salesforce takes (URI plus query string).
pub const MAX_URI_BYTES: usize = 16_384;

impl Default for FakeRest {
    fn default() -> Self {
        let mut tables = Tables::default();
        tables
            .records("Organization")
            .push(json!({"Id": ORG_ID, "Name": "Fake Org", "IsSandbox": false}));
        // Standard objects the deploy reads, empty until a test fills them.
        for object in ["CronTrigger", "AsyncApexJob", "ApexClass"] {
            tables.records(object);
        }
        FakeRest {
            tables,
            page_size: 2000,
            requests: Vec::new(),
            anonymous: Vec::new(),
            anonymous_script: VecDeque::new(),
            anonymous_handler: None,
            anonymous_refusal: None,
            action_handler: None,
            patch_failures: HashMap::new(),
            expire_at_request: None,
            expire_after_anonymous: None,
            lock_reaches: Vec::new(),
            cursors: HashMap::new(),
            next_cursor: 0,
            api_used: 0,
            api_max: 15000,
            clock: None,
            next_id: 0,
            life: Default::default(),
        }
    }
}

impl std::fmt::Debug for FakeRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRest")
            .field("tables", &self.tables)
            .field("requests", &self.requests.len())
            .finish_non_exhaustive()
    }
}

impl FakeRest {
    /// Adds a record to a data table; gives it an `Id` (with this 3-character key prefix) when
    /// it has none. Returns the Id.
    pub fn insert(&mut self, object: &str, key_prefix: &str, mut record: Value) -> String {
        let id = self.id_for(key_prefix, &mut record);
        // An org has one Organization row: a test's replaces the default one.
        if object == "Organization" {
            self.tables.records(object).clear();
        }
        self.tables.records(object).push(record);
        id
    }

    /// Adds a record to a Tooling API table.
    pub fn insert_tooling(&mut self, object: &str, key_prefix: &str, mut record: Value) -> String {
        let id = self.id_for(key_prefix, &mut record);
        self.tables.tooling_records(object).push(record);
        id
    }

    pub(super) fn id_for(&mut self, key_prefix: &str, record: &mut Value) -> String {
        if let Some(id) = record.get("Id").and_then(Value::as_str) {
            return id.to_string();
        }
        let id = new_id(&mut self.next_id, key_prefix);
        record["Id"] = Value::String(id.clone());
        id
    }

    /// Queues outcomes for the next `executeAnonymous` calls (before any handler).
    pub fn script_anonymous(&mut self, outcomes: &[Anonymous]) {
        self.anonymous_script.extend(outcomes.iter().cloned());
    }

    /// Sets the handler for `executeAnonymous` bodies that no scripted outcome answers.
    pub fn on_anonymous(&mut self, handler: AnonymousHandler) {
        self.anonymous_handler = Some(handler);
    }

    /// Every `executeAnonymous` gets this refusal (a user without "Author Apex").
    pub fn refuse_anonymous(&mut self, refusal: Anonymous) {
        self.anonymous_refusal = Some(refusal);
    }

    /// Sets the handler for invocable actions.
    pub fn on_action(&mut self, handler: ActionHandler) {
        self.action_handler = Some(handler);
    }

    /// Sets the daily API usage the next answer reports (before counting itself).
    pub fn set_api_usage(&mut self, used: u64, max: u64) {
        self.api_used = used;
        self.api_max = max;
    }

    /// The org's clock now.
    pub fn now(&self) -> SystemTime {
        self.clock.unwrap_or_else(SystemTime::now)
    }

    /// Sets the org's clock (the `Date` header); `None` is the real time.
    pub fn set_clock(&mut self, clock: Option<SystemTime>) {
        self.clock = clock;
    }

    /// The requests to paths ending in `suffix`.
    pub fn requests_to(&self, suffix: &str) -> Vec<RestRequest> {
        self.requests
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .cloned()
            .collect()
    }

    /// The SOQL of every query request (any of the query resources), in order.
    pub fn queries(&self) -> Vec<String> {
        self.requests
            .iter()
            .filter_map(|r| r.param("q").map(str::to_string))
            .collect()
    }

    /// Answers one request under `/services/data/`. `sessions` are the org's valid tokens (shared
    /// with OAuth and SOAP); `unexpected` collects what a test did not expect.
    #[allow(clippy::too_many_arguments)]
    pub fn respond(
        &mut self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
        body: &str,
        sessions: &mut HashSet<String>,
        unexpected: &mut Vec<String>,
    ) -> Response<Full<Bytes>> {
        // The URI limit of every REST call (Salesforce Help 000386264, "Maximum number of rows
        // returned by SOQL queries over the REST API": 16,384 bytes, else 414 URI Too Long).
        let target_len = path.len() + query.map_or(0, |q| 1 + q.len());
        if target_len > MAX_URI_BYTES {
            self.requests.push(RestRequest {
                method: method.to_string(),
                path: path.to_string(),
                query: Vec::new(),
                body: format!("414: a {target_len}-byte request target"),
                token: None,
            });
            unexpected.push(format!("a {target_len}-byte URI: 414 URI Too Long"));
            let mut response = Response::new(Full::new(Bytes::from_static(b"URI Too Long")));
            *response.status_mut() = StatusCode::URI_TOO_LONG;
            return response;
        }
        let pairs: Vec<(String, String)> = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let token = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::to_string);
        let index = self.requests.len();
        self.requests.push(RestRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: pairs.clone(),
            body: body.to_string(),
            token: token.clone(),
        });
        if self.expire_at_request == Some(index) {
            sessions.clear();
        }
        if !token.as_ref().is_some_and(|t| sessions.contains(t)) {
            return self.answer(
                StatusCode::UNAUTHORIZED,
                error_body("INVALID_SESSION_ID", "Session expired or invalid"),
            );
        }
        self.api_used += 1;
        if self.api_used > self.api_max {
            return self.answer(
                StatusCode::FORBIDDEN,
                error_body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            );
        }
        let Some((version, resource)) = split_version(path) else {
            unexpected.push(format!("REST request to {path} without a vNN.0 version"));
            return self.not_found();
        };
        if version != "63.0" {
            unexpected.push(format!("REST request for API version {version}"));
        }
        let param = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match (method.as_str(), resource.as_str()) {
            ("GET", "query" | "queryAll" | "tooling/query") => {
                let tooling = resource.starts_with("tooling");
                let Some(soql) = param("q") else {
                    unexpected.push(format!("{resource} without q"));
                    return self.answer(
                        StatusCode::BAD_REQUEST,
                        error_body("MALFORMED_QUERY", "A query string has to be specified"),
                    );
                };
                self.query(&version, &soql, tooling, unexpected)
            }
            ("GET", r) if r.starts_with("query/") || r.starts_with("tooling/query/") => {
                self.next_page(&version, path)
            }
            ("GET", "tooling/executeAnonymous" | "tooling/executeAnonymous/") => {
                let Some(apex) = param("anonymousBody") else {
                    unexpected.push("executeAnonymous without anonymousBody".into());
                    return self.answer(
                        StatusCode::BAD_REQUEST,
                        error_body("MISSING_ARGUMENT", "anonymousBody not specified"),
                    );
                };
                let answer = self.execute_anonymous(&apex);
                if self.expire_after_anonymous == Some(self.anonymous.len()) {
                    sessions.clear();
                }
                answer
            }
            ("PATCH", "composite/sobjects") => self.patch_collection(body, unexpected),
            ("POST", "composite") => {
                let (status, body) = self.composite(&version, body, unexpected);
                self.answer(status, body)
            }
            ("GET", r) if r.starts_with("sobjects/") => {
                let (status, body) = self.sobject_get(r, &pairs, unexpected);
                self.answer(status, body)
            }
            ("POST", r) if r.starts_with("actions/custom/apex/") => {
                let class = r.trim_start_matches("actions/custom/apex/").to_string();
                self.action(&class, body, unexpected)
            }
            _ => {
                unexpected.push(format!("unexpected REST request {method} {path}"));
                self.not_found()
            }
        }
    }

    fn query(
        &mut self,
        version: &str,
        soql: &str,
        tooling: bool,
        unexpected: &mut Vec<String>,
    ) -> Response<Full<Bytes>> {
        let (status, body) = self.query_value(version, soql, tooling, unexpected);
        self.answer(status, body)
    }

    /// A query's answer as status and body (also for composite subrequests).
    pub(super) fn query_value(
        &mut self,
        version: &str,
        soql: &str,
        tooling: bool,
        unexpected: &mut Vec<String>,
    ) -> (StatusCode, Value) {
        // Aggregate queries (GROUP BY) are `status`'s: answered in fake_status.rs.
        if let Some((status, body)) = super::fake_status::aggregate(&self.tables, tooling, soql) {
            return (status, body);
        }
        let parsed = match Soql::parse(soql) {
            Ok(q) => q,
            Err(e) => {
                unexpected.push(format!("the fake cannot read the SOQL {soql:?}: {e}"));
                return (
                    StatusCode::BAD_REQUEST,
                    error_body("MALFORMED_QUERY", &format!("unexpected token: {e}")),
                );
            }
        };
        if !tooling {
            if let Some(refusal) = self.life.refuse_fields(&parsed.object, &parsed.fields) {
                return refusal;
            }
        }
        let table = if tooling {
            self.tables.tooling.get(&parsed.object)
        } else {
            self.tables.data.get(&parsed.object)
        };
        let Some(table) = table else {
            return (
                StatusCode::BAD_REQUEST,
                error_body(
                    "INVALID_TYPE",
                    &format!(
                        "sObject type '{}' is not supported. If you are attempting to use a \
                         custom object, be sure to append the '__c' after the entity name.",
                        parsed.object
                    ),
                ),
            );
        };
        let mut rows: Vec<&Value> = table.iter().filter(|r| parsed.matches(r)).collect();
        // Jobs scripted to end after a number of reads: this read counts.
        let ending: Vec<String> = rows
            .iter()
            .filter(|r| r.get("_finishAfterReads").is_some())
            .filter_map(|r| r["Id"].as_str().map(str::to_string))
            .collect();
        if !parsed.order_by.is_empty() {
            rows.sort_by(|a, b| {
                for (field, descending) in &parsed.order_by {
                    let ordering = compare(&lookup(a, field), &lookup(b, field));
                    let ordering = if *descending {
                        ordering.reverse()
                    } else {
                        ordering
                    };
                    if ordering.is_ne() {
                        return ordering;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        if let Some(limit) = parsed.limit {
            rows.truncate(limit);
        }
        let total = rows.len() as u64;
        if parsed.count {
            return (
                StatusCode::OK,
                json!({"totalSize": total, "done": true, "records": []}),
            );
        }
        let records: Vec<Value> = rows
            .into_iter()
            .map(|r| project(version, &parsed.object, r, &parsed.fields))
            .collect();
        if !ending.is_empty() {
            let object = parsed.object.clone();
            for row in self.tables.records(&object).iter_mut() {
                if !ending.iter().any(|id| row["Id"].as_str() == Some(id)) {
                    continue;
                }
                let left = row["_finishAfterReads"].as_u64().unwrap_or(0);
                if left <= 1 {
                    row["Status"] = json!("Completed");
                    if let Some(o) = row.as_object_mut() {
                        o.remove("_finishAfterReads");
                    }
                } else {
                    row["_finishAfterReads"] = json!(left - 1);
                }
            }
        }
        self.page_value(version, tooling, records, total)
    }

    fn page(
        &mut self,
        version: &str,
        tooling: bool,
        records: Vec<Value>,
        total: u64,
    ) -> Response<Full<Bytes>> {
        let (status, body) = self.page_value(version, tooling, records, total);
        self.answer(status, body)
    }

    fn page_value(
        &mut self,
        version: &str,
        tooling: bool,
        mut records: Vec<Value>,
        total: u64,
    ) -> (StatusCode, Value) {
        let size = self.page_size.max(1);
        if records.len() <= size {
            return (
                StatusCode::OK,
                json!({"totalSize": total, "done": true, "records": records}),
            );
        }
        let rest = records.split_off(size);
        self.next_cursor += 1;
        let locator = format!("01gFAKE{:011}-{}", self.next_cursor, size);
        let base = if tooling { "tooling/query" } else { "query" };
        let next = format!("/services/data/v{version}/{base}/{locator}");
        self.cursors.insert(next.clone(), (rest, total));
        (
            StatusCode::OK,
            json!({"totalSize": total, "done": false, "nextRecordsUrl": next, "records": records}),
        )
    }

    fn next_page(&mut self, version: &str, path: &str) -> Response<Full<Bytes>> {
        let Some((records, total)) = self.cursors.remove(path) else {
            return self.answer(
                StatusCode::BAD_REQUEST,
                error_body("INVALID_QUERY_LOCATOR", "invalid query locator"),
            );
        };
        self.page(version, path.contains("/tooling/"), records, total)
    }

    fn execute_anonymous(&mut self, apex: &str) -> Response<Full<Bytes>> {
        self.anonymous.push(apex.to_string());
        let outcome = if let Some(refusal) = self.anonymous_refusal.clone() {
            refusal
        } else {
            match self.anonymous_script.pop_front() {
                Some(Anonymous::Handled) | None => match self.anonymous_handler.as_mut() {
                    Some(handler) => handler(apex, &mut self.tables),
                    None => Anonymous::Success,
                },
                Some(next) => next,
            }
        };
        let body = match outcome {
            Anonymous::Success => json!({"line": -1, "column": -1, "compiled": true,
                "success": true, "compileProblem": null, "exceptionStackTrace": null,
                "exceptionMessage": null}),
            Anonymous::CompileProblem(line, column, problem) => json!({"line": line,
                "column": column, "compiled": false, "success": false,
                "compileProblem": problem, "exceptionStackTrace": null,
                "exceptionMessage": null}),
            Anonymous::Exception(message, stack) => json!({"line": 1, "column": 1,
                "compiled": true, "success": false, "compileProblem": null,
                "exceptionStackTrace": stack, "exceptionMessage": message}),
            Anonymous::Handled => json!({"line": -1, "column": -1, "compiled": true,
                "success": true, "compileProblem": null, "exceptionStackTrace": null,
                "exceptionMessage": null}),
            Anonymous::Refused(status, code, message) => {
                return self.answer(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
                    error_body(&code, &message),
                )
            }
        };
        self.answer(StatusCode::OK, body)
    }

    fn patch_collection(
        &mut self,
        body: &str,
        unexpected: &mut Vec<String>,
    ) -> Response<Full<Bytes>> {
        let Ok(request) = serde_json::from_str::<Value>(body) else {
            unexpected.push("sObject Collections PATCH body is not JSON".into());
            return self.answer(
                StatusCode::BAD_REQUEST,
                error_body("JSON_PARSER_ERROR", "Unexpected character"),
            );
        };
        let all_or_none = request["allOrNone"].as_bool().unwrap_or(false);
        let records = request["records"].as_array().cloned().unwrap_or_default();
        if records.len() > 200 {
            return self.answer(
                StatusCode::BAD_REQUEST,
                error_body(
                    "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call",
                ),
            );
        }
        let failures: Vec<Option<(String, String)>> = records
            .iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap_or("");
                let object = r["attributes"]["type"].as_str().unwrap_or("");
                if id.is_empty() || object.is_empty() {
                    return Some((
                        "MISSING_ARGUMENT".to_string(),
                        "Id not specified in an update call".to_string(),
                    ));
                }
                if let Some(f) = self.patch_failures.get(id) {
                    return Some(f.clone());
                }
                let exists = self
                    .tables
                    .data
                    .get(object)
                    .is_some_and(|t| t.iter().any(|row| row["Id"] == id));
                (!exists).then(|| {
                    (
                        "ENTITY_IS_DELETED".to_string(),
                        "entity is deleted".to_string(),
                    )
                })
            })
            .collect();
        let any_failed = failures.iter().any(Option::is_some);
        let mut results = Vec::new();
        for (record, failure) in records.iter().zip(&failures) {
            let id = record["id"].as_str().unwrap_or("").to_string();
            match failure {
                // A failed record's result carries no id (REST API Developer Guide, sObject
                // Collections: "id" is null on failure).
                Some((code, message)) => results.push(json!({"id": null, "success": false,
                    "errors": [{"statusCode": code, "message": message, "fields": []}]})),
                None if all_or_none && any_failed => results.push(json!({"id": id,
                    "success": false, "errors": [{"statusCode":
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message":
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    "fields": []}]})),
                None => results.push(json!({"id": id, "success": true, "errors": []})),
            }
        }
        if !(all_or_none && any_failed) {
            for (record, failure) in records.iter().zip(&failures) {
                if failure.is_some() {
                    continue;
                }
                let object = record["attributes"]["type"].as_str().unwrap_or("");
                let id = &record["id"];
                if let Some(row) = self
                    .tables
                    .records(object)
                    .iter_mut()
                    .find(|row| &row["Id"] == id)
                {
                    if let (Some(row), Some(fields)) = (row.as_object_mut(), record.as_object()) {
                        for (k, v) in fields {
                            if k != "attributes" && k != "id" {
                                row.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
            }
        }
        self.answer(StatusCode::OK, Value::Array(results))
    }

    fn action(
        &mut self,
        class: &str,
        body: &str,
        unexpected: &mut Vec<String>,
    ) -> Response<Full<Bytes>> {
        let inputs = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|b| b["inputs"].as_array().cloned());
        let Some(inputs) = inputs else {
            unexpected.push(format!("action {class} without an inputs list"));
            return self.answer(
                StatusCode::BAD_REQUEST,
                error_body("JSON_PARSER_ERROR", "Missing inputs"),
            );
        };
        let Some(handler) = self.action_handler.as_mut() else {
            return self.not_found();
        };
        match handler(class, &inputs, &mut self.tables) {
            Ok(results) => self.answer(StatusCode::OK, Value::Array(results)),
            Err((status, code, message)) => self.answer(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                error_body(&code, &message),
            ),
        }
    }

    fn not_found(&self) -> Response<Full<Bytes>> {
        self.answer(
            StatusCode::NOT_FOUND,
            error_body("NOT_FOUND", "The requested resource does not exist"),
        )
    }

    fn answer(&self, status: StatusCode, body: Value) -> Response<Full<Bytes>> {
        let now = self.clock.unwrap_or_else(SystemTime::now);
        Response::builder()
            .status(status)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/json;charset=UTF-8",
            )
            .header(hyper::header::DATE, httpdate::fmt_http_date(now))
            .header(
                "Sforce-Limit-Info",
                format!("api-usage={}/{}", self.api_used, self.api_max),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a valid response")
    }
}

/// Salesforce's error body: a list of `{message, errorCode}` (`fields` only for field errors).
pub fn error_body(code: &str, message: &str) -> Value {
    json!([{"message": message, "errorCode": code}])
}

/// An 18-character id with this key prefix.
pub fn new_id(counter: &mut u64, key_prefix: &str) -> String {
    *counter += 1;
    format!("{key_prefix}fake{:08}AAA", *counter)
}

/// `/services/data/v63.0/query` -> ("63.0", "query").
fn split_version(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/services/data/v")?;
    let (version, resource) = rest.split_once('/')?;
    Some((version.to_string(), resource.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soql_matcher_reads_relationship_fields_and_filters() {
        let rows = [
            json!({"Id": "08e1", "State": "WAITING", "CronJobDetail": {"Name": "SfhooksSweeper :00"}}),
            json!({"Id": "08e2", "State": "DELETED", "CronJobDetail": {"Name": "SfhooksSweeper :15"}}),
            json!({"Id": "08e3", "State": "WAITING", "CronJobDetail": {"Name": "Other job"}}),
        ];
        let q = Soql::parse(
            "SELECT Id, CronJobDetail.Name FROM CronTrigger WHERE CronJobDetail.Name LIKE 'sfhooks%' \
             AND State NOT IN ('DELETED', 'COMPLETE') ORDER BY CronJobDetail.Name DESC LIMIT 5",
        )
        .unwrap();
        let hits: Vec<&Value> = rows.iter().filter(|r| q.matches(r)).collect();
        assert_eq!(hits.len(), 1);
        let projected = project("63.0", "CronTrigger", hits[0], &q.fields);
        assert_eq!(projected["CronJobDetail"]["Name"], "SfhooksSweeper :00");
        assert_eq!(projected["attributes"]["type"], "CronTrigger");
        assert!(projected.get("State").is_none());
        assert!(Soql::parse("SELECT Id FROM X WHERE Name = :bind").is_err());
        assert!(like("SfhooksJobs", "sfhooks_obs") && !like("SfhooksJobs", "Sfhooks_"));
    }
}

#[cfg(test)]
mod against_the_client {
    //! The fake's answers read by the crate's own REST client: the shapes agree end to end.
    use super::super::fake_org::{FakeOrg, REFRESH_TOKEN};
    use super::*;
    use sfhooks::salesforce::auth::Credentials;
    use sfhooks::salesforce::rest::{RestClient, RestError};

    fn client(org: &FakeOrg) -> RestClient {
        let http = reqwest::blocking::Client::builder()
            .user_agent("sfhooks/test")
            .build()
            .unwrap();
        let creds = Credentials::from_sfdx_auth_url(&org.sfdx_auth_url(REFRESH_TOKEN)).unwrap();
        let session = creds.login(&http).unwrap();
        RestClient::new(http, session, Some(creds), "63.0")
    }

    #[test]
    fn pages_renewal_and_anonymous_apex_round_trip() {
        let org = FakeOrg::start();
        org.with_rest(|rest| {
            rest.page_size = 2;
            for minute in ["00", "15", "30", "45"] {
                rest.insert(
                    "CronTrigger",
                    "08e",
                    json!({"State": "WAITING", "CronJobDetail": {"Name": format!("SfhooksSweeper :{minute}")}}),
                );
            }
            rest.expire_at_request = Some(1);
        });
        let client = client(&org);
        let result = client
            .query("SELECT Id, CronJobDetail.Name FROM CronTrigger WHERE CronJobDetail.Name LIKE 'Sfhooks%'")
            .unwrap();
        assert_eq!(result.records.len(), 4);
        assert_eq!(result.total_size, 4);
        assert_eq!(
            result.records[3]["CronJobDetail"]["Name"],
            "SfhooksSweeper :45"
        );
        assert!(result.meta.date.is_some());
        assert!(result
            .meta
            .api_usage
            .is_some_and(|(used, max)| used >= 2 && max == 15000));
        // The second page met an expired session: renewed once through the refresh token.
        assert_eq!(org.received_for("token").len(), 2);

        org.with_rest(|rest| {
            rest.script_anonymous(&[Anonymous::CompileProblem(
                1,
                1,
                "Variable does not exist: SfhooksJobs".into(),
            )])
        });
        let outcome = client.execute_anonymous("SfhooksJobs.pause();").unwrap();
        assert!(!outcome.compiled);
        assert_eq!(
            org.with_rest(|r| r.anonymous.clone()),
            ["SfhooksJobs.pause();"]
        );

        org.with_rest(|rest| {
            rest.refuse_anonymous(Anonymous::Refused(
                403,
                "INSUFFICIENT_ACCESS".into(),
                "no Author Apex".into(),
            ))
        });
        let err = client.execute_anonymous("System.debug(1);").unwrap_err();
        assert!(matches!(err, RestError::Api { status: 403, .. }), "{err}");
    }
}
