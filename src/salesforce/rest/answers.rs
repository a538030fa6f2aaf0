//! The decoded answers: what every answer says besides its body ([`AnswerMeta`]), query pages
//! and results, save results of sObject Collections, Anonymous Apex and invocable actions.
use std::time::SystemTime;

use reqwest::header::{HeaderMap, DATE};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What every answer says besides its body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnswerMeta {
    /// The org's clock: the answer's `Date` header.
    pub date: Option<SystemTime>,
    /// `Sforce-Limit-Info: api-usage=N/M`: daily API requests used and allowed. Used can exceed
    /// allowed.
    pub api_usage: Option<(u64, u64)>,
}

impl AnswerMeta {
    pub(super) fn from_headers(headers: &HeaderMap) -> Self {
        AnswerMeta {
            date: headers
                .get(DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
            api_usage: headers
                .get("sforce-limit-info")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_api_usage),
        }
    }
}

/// Reads `api-usage=N/M` out of a `Sforce-Limit-Info` value (which may list other limits too,
/// comma-separated, e.g. `api-usage=18/15000, per-app-api-usage=17/250(appName=sample-app)`).
pub fn parse_api_usage(value: &str) -> Option<(u64, u64)> {
    value.split(',').find_map(|part| {
        let usage = part.trim().strip_prefix("api-usage=")?;
        let (used, max) = usage.split_once('/')?;
        Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
    })
}

/// A decoded answer and its [`AnswerMeta`].
#[derive(Debug, Clone, PartialEq)]
pub struct RestAnswer<T> {
    /// The body.
    pub body: T,
    /// Date and API usage of the answer.
    pub meta: AnswerMeta,
}

/// Which query resource to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryResource {
    /// `/query`: live records.
    Query,
    /// `/queryAll`: also deleted (Recycle Bin) and archived rows.
    QueryAll,
    /// `/tooling/query`: Tooling API objects (`RemoteProxy`, `ApexClass`, ...).
    Tooling,
}

impl QueryResource {
    pub(super) fn path(self) -> &'static str {
        match self {
            QueryResource::Query => "query",
            QueryResource::QueryAll => "queryAll",
            QueryResource::Tooling => "tooling/query",
        }
    }
}

/// One page of a query answer.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The records of this page, as Salesforce sent them (with `attributes`; relationship fields
    /// as nested objects, `null` when the lookup is empty).
    pub records: Vec<Value>,
    /// `totalSize`: the rows the whole query matches.
    pub total_size: u64,
    /// `done`: no page follows.
    pub done: bool,
    /// The meta of this page's answer.
    pub meta: AnswerMeta,
}

/// A whole query's records.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// Every record, in order.
    pub records: Vec<Value>,
    /// `totalSize`.
    pub total_size: u64,
    /// The meta of the last page's answer.
    pub meta: AnswerMeta,
}

/// One error of a record's save result (`{"statusCode", "message", "fields"}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveError {
    /// `statusCode`, e.g. `ENTITY_IS_DELETED`, `ALL_OR_NONE_OPERATION_ROLLED_BACK`.
    #[serde(default)]
    pub status_code: String,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// The fields it concerns.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// One record's result in an sObject Collections answer, at the position of its record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SaveResult {
    /// The record's Id; a failed result may carry none.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether the record was saved.
    pub success: bool,
    /// Why not.
    #[serde(default)]
    pub errors: Vec<SaveError>,
}

/// The answer of the Tooling API's `executeAnonymous`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnonymousResult {
    /// The Apex compiled.
    pub compiled: bool,
    /// It compiled and ran without an uncaught exception.
    pub success: bool,
    /// Why it did not compile.
    #[serde(default)]
    pub compile_problem: Option<String>,
    /// The uncaught exception.
    #[serde(default)]
    pub exception_message: Option<String>,
    /// Its stack trace.
    #[serde(default)]
    pub exception_stack_trace: Option<String>,
    /// Line of the compile problem (-1 when none).
    #[serde(default = "minus_one")]
    pub line: i64,
    /// Column of the compile problem (-1 when none).
    #[serde(default = "minus_one")]
    pub column: i64,
}

fn minus_one() -> i64 {
    -1
}

/// One result of an invocable action call (`[{"actionName", "errors", "isSuccess",
/// "outputValues"}]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// The action.
    #[serde(default)]
    pub action_name: String,
    /// Whether this input succeeded.
    pub is_success: bool,
    /// Why not.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<SaveError>,
    /// The action's outputs (`null` for an action without outputs).
    #[serde(default)]
    pub output_values: Value,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SaveError>, D::Error> {
    Ok(Option::<Vec<SaveError>>::deserialize(d)?.unwrap_or_default())
}
