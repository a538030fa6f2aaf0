//! The REST API client shared by `deploy` (its job handling), `status`, `replay` and `poll`
//! (issues 9, 10, 11).
//!
//! One small blocking client over reqwest, `Send + Sync`, so a poller can share one across worker
//! threads. It knows the few resources sfhooks uses (REST API Developer Guide; FACTS.md "REST API
//! for polling and operating the org"):
//! - `GET /services/data/vNN.0/query?q=` (and `queryAll`, and the Tooling API's `query`),
//!   following `nextRecordsUrl` (never `OFFSET`);
//! - `PATCH /services/data/vNN.0/composite/sobjects` (sObject Collections, at most 200 records,
//!   results matched by position since a failed record's result may carry no `id`);
//! - `GET /services/data/vNN.0/tooling/executeAnonymous/?anonymousBody=` (Tooling API);
//! - `POST /services/data/vNN.0/actions/custom/apex/<Class>` (invocable actions).
//!
//! Every answer's `Date` header (the org's clock) and `Sforce-Limit-Info: api-usage=N/M` are
//! handed back in [`AnswerMeta`]. A 401 `INVALID_SESSION_ID` renews the session once through the
//! credentials (refresh token or JWT, as `deploy` does) and resends the request; never more than
//! once per request. Requests that only read are resent after a transport error or a 5xx, a
//! bounded number of times; requests that write only when they cannot have been processed
//! (connection refused, 503).
//!
//! Errors are typed ([`RestError`]) and never contain the access token: it travels only in the
//! `Authorization` header, and transport errors are stripped of their URL.
use std::fmt;
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::auth::{AuthError, Credentials, Flow, Session};
use super::metadata::RetryPolicy;

/// The most records one sObject Collections request may carry (REST API Developer Guide,
/// "sObject Collections").
pub const COLLECTION_LIMIT: usize = 200;

/// Why a REST call failed. No variant ever holds the access token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// Salesforce answered with an error body, `[{"message", "errorCode", "fields"}]`.
    #[error("{method} {path} failed: HTTP {status} {error_code}: {message}")]
    Api {
        /// The request method.
        method: Method,
        /// The path of the request, without its query string.
        path: String,
        /// The HTTP status.
        status: u16,
        /// Salesforce's `errorCode` (`MALFORMED_QUERY`, `INVALID_TYPE`, `NOT_FOUND`, ...), or
        /// `HTTP_<status>` when the body was not Salesforce's error shape.
        error_code: String,
        /// Salesforce's `message`, or the start of the body.
        message: String,
        /// The fields the error names, if any.
        fields: Vec<String>,
    },
    /// 403 `REQUEST_LIMIT_EXCEEDED`: the org's daily API requests are used up (a rolling 24 h).
    #[error(
        "{method} {path} refused: the org's daily API request limit is exceeded \
         (REQUEST_LIMIT_EXCEEDED: {message}){}",
        api_usage.map(|(used, max)| format!("; usage {used}/{max}")).unwrap_or_default()
    )]
    RequestLimitExceeded {
        /// The request method.
        method: Method,
        /// The path of the request.
        path: String,
        /// Salesforce's message.
        message: String,
        /// `Sforce-Limit-Info` of the refusal, when it carried one.
        api_usage: Option<(u64, u64)>,
    },
    /// 401 `INVALID_SESSION_ID` and no way to get a new session: the credentials are a bare
    /// access token, or the session just issued was refused too.
    #[error("{method} {path} failed: the session expired or is invalid ({reason})")]
    SessionExpired {
        /// The request method.
        method: Method,
        /// The path of the request.
        path: String,
        /// The flow that produced the session, if known.
        flow: Option<Flow>,
        /// Why it could not be renewed.
        reason: &'static str,
    },
    /// Renewing the expired session failed.
    #[error("the session expired and renewing it failed: {0}")]
    Renewal(#[source] AuthError),
    /// No answer (connection refused, reset, timed out), after the retries.
    #[error("{method} {path} failed: no answer from {host} (tried {tries} times)")]
    Transport {
        /// The request method.
        method: Method,
        /// The path of the request.
        path: String,
        /// The instance host.
        host: String,
        /// How many requests were sent.
        tries: u32,
        /// The last transport error (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx answer that does not have the documented shape.
    #[error("{method} {path}: unexpected answer: {detail}")]
    Decode {
        /// The request method.
        method: Method,
        /// The path of the request.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// More records than one sObject Collections request takes.
    #[error(
        "an sObject Collections request takes at most {COLLECTION_LIMIT} records, got {count}; \
         send them in batches"
    )]
    TooManyRecords {
        /// How many were given.
        count: usize,
    },
    /// A path or class name that cannot be joined to the instance URL.
    #[error("cannot build a request URL from {what:?}: {reason}")]
    BadPath {
        /// The path or name.
        what: String,
        /// Why.
        reason: String,
    },
}

impl RestError {
    /// Salesforce's `errorCode` for [`RestError::Api`] (and the fixed codes of the limit and
    /// session variants).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            RestError::Api { error_code, .. } => Some(error_code),
            RestError::RequestLimitExceeded { .. } => Some("REQUEST_LIMIT_EXCEEDED"),
            RestError::SessionExpired { .. } => Some("INVALID_SESSION_ID"),
            _ => None,
        }
    }

    /// The HTTP status of an answered request.
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Api { status, .. } => Some(*status),
            RestError::RequestLimitExceeded { .. } => Some(403),
            RestError::SessionExpired { .. } => Some(401),
            _ => None,
        }
    }
}

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
    fn from_headers(headers: &HeaderMap) -> Self {
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
    fn path(self) -> &'static str {
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryAnswer {
    total_size: u64,
    done: bool,
    #[serde(default)]
    records: Vec<Value>,
    next_records_url: Option<String>,
}

/// The pages of one query, fetched as they are read. Ends after the first error.
pub struct QueryPages<'a> {
    client: &'a RestClient,
    next: Option<String>,
}

impl Iterator for QueryPages<'_> {
    type Item = Result<QueryPage, RestError>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.next.take()?;
        let answer = match self.client.get_json(&path) {
            Ok(answer) => answer,
            Err(err) => return Some(Err(err)),
        };
        let page: QueryAnswer = match serde_json::from_value(answer.body) {
            Ok(page) => page,
            Err(e) => {
                return Some(Err(RestError::Decode {
                    method: Method::GET,
                    path: strip_query(&path),
                    detail: format!("not a query answer ({e})"),
                }))
            }
        };
        if !page.done {
            match page.next_records_url {
                Some(url) => self.next = Some(url),
                None => {
                    return Some(Err(RestError::Decode {
                        method: Method::GET,
                        path: strip_query(&path),
                        detail: "done is false but there is no nextRecordsUrl".into(),
                    }))
                }
            }
        }
        Some(Ok(QueryPage {
            records: page.records,
            total_size: page.total_size,
            done: page.done,
            meta: answer.meta,
        }))
    }
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

/// A REST client bound to one org. Cheap to share by reference across threads.
pub struct RestClient {
    http: reqwest::blocking::Client,
    session: RwLock<Session>,
    credentials: Option<Credentials>,
    /// Held while a session is renewed, so that threads that all saw the same expired token
    /// renew it once.
    renewing: Mutex<()>,
    api_version: String,
    retry: RetryPolicy,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("instance_url", &self.instance_url().as_str())
            .field("api_version", &self.api_version)
            .field(
                "renewable",
                &self.credentials.as_ref().is_some_and(|c| c.can_renew()),
            )
            .finish_non_exhaustive()
    }
}

impl RestClient {
    /// A client for the session's org. `credentials` renew the session when it expires (none, or
    /// a bare access token: an expired session is [`RestError::SessionExpired`]). `api_version`
    /// like `63.0` (a leading `v` is accepted).
    pub fn new(
        http: reqwest::blocking::Client,
        session: Session,
        credentials: Option<Credentials>,
        api_version: &str,
    ) -> Self {
        RestClient {
            http,
            session: RwLock::new(session),
            credentials,
            renewing: Mutex::new(()),
            api_version: api_version.trim_start_matches('v').to_string(),
            retry: RetryPolicy::default(),
        }
    }

    /// Replaces how often and how patiently unanswered requests are resent.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The API version, without the `v`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The current session (a renewed one after a renewal): for a Metadata API client that
    /// should use the same.
    pub fn session(&self) -> Session {
        self.session
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the session, for a caller that renewed it elsewhere (the Metadata API client of
    /// the same deploy), so that this client does not renew it a second time.
    pub fn set_session(&self, session: Session) {
        *self.session.write().unwrap_or_else(|p| p.into_inner()) = session;
    }

    /// The org's instance URL.
    pub fn instance_url(&self) -> Url {
        self.session().instance_url
    }

    /// `/services/data/vNN.0/<rest>`.
    pub fn data_path(&self, rest: &str) -> String {
        format!(
            "/services/data/v{}/{}",
            self.api_version,
            rest.trim_start_matches('/')
        )
    }

    /// GETs a path (with its query string) of the instance and decodes the JSON answer.
    pub fn get_json(&self, path_and_query: &str) -> Result<RestAnswer<Value>, RestError> {
        self.request_json(Method::GET, path_and_query, None)
    }

    /// Sends a request with an optional JSON body and decodes the JSON answer (`null` for an
    /// empty 2xx body, as 204 No Content has).
    pub fn request_json(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<RestAnswer<Value>, RestError> {
        let (status, meta, text) = self.send(method.clone(), path_and_query, body)?;
        debug_assert!(status.is_success());
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| RestError::Decode {
                method,
                path: strip_query(path_and_query),
                detail: format!("the body is not JSON ({e}): {}", super::snippet(&text)),
            })?
        };
        Ok(RestAnswer { body, meta })
    }

    /// The pages of a query, fetched lazily (for big reads).
    pub fn query_pages(&self, resource: QueryResource, soql: &str) -> QueryPages<'_> {
        let path = format!(
            "{}?q={}",
            self.data_path(resource.path()),
            encode_query_value(soql)
        );
        QueryPages {
            client: self,
            next: Some(path),
        }
    }

    /// Every record of a query on `resource`, following `nextRecordsUrl`.
    pub fn query_with(
        &self,
        resource: QueryResource,
        soql: &str,
    ) -> Result<QueryResult, RestError> {
        let mut result = QueryResult {
            records: Vec::new(),
            total_size: 0,
            meta: AnswerMeta::default(),
        };
        for page in self.query_pages(resource, soql) {
            let mut page = page?;
            result.records.append(&mut page.records);
            result.total_size = page.total_size;
            result.meta = page.meta;
        }
        Ok(result)
    }

    /// `GET /query`: every record.
    pub fn query(&self, soql: &str) -> Result<QueryResult, RestError> {
        self.query_with(QueryResource::Query, soql)
    }

    /// `GET /queryAll`: every record, deleted and archived ones included.
    pub fn query_all(&self, soql: &str) -> Result<QueryResult, RestError> {
        self.query_with(QueryResource::QueryAll, soql)
    }

    /// `GET /tooling/query`: every record.
    pub fn tooling_query(&self, soql: &str) -> Result<QueryResult, RestError> {
        self.query_with(QueryResource::Tooling, soql)
    }

    /// `PATCH /composite/sobjects`: updates up to [`COLLECTION_LIMIT`] records, each an object
    /// with `attributes.type` and `id`. The results are in the records' order (a failed one may
    /// have no `id`); with `all_or_none` one failure rolls back every record.
    pub fn patch_collection(
        &self,
        records: &[Value],
        all_or_none: bool,
    ) -> Result<RestAnswer<Vec<SaveResult>>, RestError> {
        if records.len() > COLLECTION_LIMIT {
            return Err(RestError::TooManyRecords {
                count: records.len(),
            });
        }
        let path = self.data_path("composite/sobjects");
        let body = serde_json::json!({ "allOrNone": all_or_none, "records": records });
        let answer = self.request_json(Method::PATCH, &path, Some(&body))?;
        let results: Vec<SaveResult> =
            serde_json::from_value(answer.body).map_err(|e| RestError::Decode {
                method: Method::PATCH,
                path: path.clone(),
                detail: format!("not a list of save results ({e})"),
            })?;
        if results.len() != records.len() {
            return Err(RestError::Decode {
                method: Method::PATCH,
                path,
                detail: format!(
                    "{} results for {} records: they cannot be matched by position",
                    results.len(),
                    records.len()
                ),
            });
        }
        Ok(RestAnswer {
            body: results,
            meta: answer.meta,
        })
    }

    /// Runs Anonymous Apex as the session's user (Tooling API `executeAnonymous`). A compile
    /// problem or an exception is a successful call with `compiled` or `success` false; a user
    /// Salesforce does not let run Apex gets an [`RestError::Api`].
    pub fn execute_anonymous(&self, apex: &str) -> Result<AnonymousResult, RestError> {
        let path = format!(
            "{}?anonymousBody={}",
            self.data_path("tooling/executeAnonymous/"),
            encode_query_value(apex)
        );
        let answer = self.get_json(&path)?;
        serde_json::from_value(answer.body).map_err(|e| RestError::Decode {
            method: Method::GET,
            path: strip_query(&path),
            detail: format!("not an executeAnonymous answer ({e})"),
        })
    }

    /// Calls an Apex invocable action, `POST /actions/custom/apex/<Class>` with `{"inputs": [...]}`
    /// (one result per input, in order). Needs no "Author Apex".
    pub fn invoke_apex_action(
        &self,
        class_name: &str,
        inputs: &[Value],
    ) -> Result<RestAnswer<Vec<ActionResult>>, RestError> {
        if class_name.is_empty()
            || !class_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(RestError::BadPath {
                what: class_name.to_string(),
                reason: "an Apex class name is letters, digits and underscores".into(),
            });
        }
        let path = self.data_path(&format!("actions/custom/apex/{class_name}"));
        let body = serde_json::json!({ "inputs": inputs });
        let answer = self.request_json(Method::POST, &path, Some(&body))?;
        let results: Vec<ActionResult> =
            serde_json::from_value(answer.body).map_err(|e| RestError::Decode {
                method: Method::POST,
                path,
                detail: format!("not a list of action results ({e})"),
            })?;
        Ok(RestAnswer {
            body: results,
            meta: answer.meta,
        })
    }

    /// The org's Id (`00D…`, 18 characters), from `SELECT Id FROM Organization`.
    pub fn org_id(&self) -> Result<String, RestError> {
        let result = self.query("SELECT Id FROM Organization")?;
        result
            .records
            .first()
            .and_then(|r| r.get("Id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| RestError::Decode {
                method: Method::GET,
                path: self.data_path("query"),
                detail: "the Organization query returned no Id".into(),
            })
    }

    /// Sends one request: renews an expired session once, resends unanswered requests as the
    /// retry policy and the method allow. Returns a 2xx answer or the error it carried.
    fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, AnswerMeta, String), RestError> {
        let mut renewed = false;
        loop {
            let session = self.session();
            let answer = self.send_with_retries(&method, path_and_query, body, &session)?;
            let (status, meta, text) = answer;
            if status.is_success() {
                return Ok((status, meta, text));
            }
            let err = api_error(&method, path_and_query, status, &meta, &text);
            let expired = status == StatusCode::UNAUTHORIZED
                && err.error_code() == Some("INVALID_SESSION_ID");
            if !expired {
                return Err(err);
            }
            let flow = self.credentials.as_ref().map(Credentials::flow);
            let expired_error = |reason| RestError::SessionExpired {
                method: method.clone(),
                path: strip_query(path_and_query),
                flow,
                reason,
            };
            if renewed {
                return Err(expired_error(
                    "Salesforce refused the session it had just issued",
                ));
            }
            match &self.credentials {
                Some(creds) if creds.can_renew() => {
                    self.renew(creds, &session)?;
                    renewed = true;
                }
                Some(_) => {
                    return Err(expired_error(
                        "an access token cannot be renewed: get a fresh one",
                    ))
                }
                None => return Err(expired_error("no credentials to renew it with")),
            }
        }
    }

    /// Gets a new session, unless another thread already replaced `expired`.
    fn renew(&self, creds: &Credentials, expired: &Session) -> Result<(), RestError> {
        let _guard = self.renewing.lock().unwrap_or_else(|p| p.into_inner());
        if self.session().access_token.expose() != expired.access_token.expose() {
            return Ok(());
        }
        let fresh = creds.login(&self.http).map_err(RestError::Renewal)?;
        *self.session.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    fn send_with_retries(
        &self,
        method: &Method,
        path_and_query: &str,
        body: Option<&Value>,
        session: &Session,
    ) -> Result<(StatusCode, AnswerMeta, String), RestError> {
        let url = session
            .instance_url
            .join(path_and_query)
            .map_err(|e| RestError::BadPath {
                what: strip_query(path_and_query),
                reason: e.to_string(),
            })?;
        let reads_only = *method == Method::GET;
        let mut delay = self.retry.first_delay;
        let mut tries = 0;
        loop {
            tries += 1;
            let last_try = tries >= self.retry.tries.max(1);
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(ACCEPT, "application/json")
                .header(
                    AUTHORIZATION,
                    format!("Bearer {}", session.access_token.expose()),
                );
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let sent = request.send().and_then(|r| {
                let status = r.status();
                let meta = AnswerMeta::from_headers(r.headers());
                r.text().map(|text| (status, meta, text))
            });
            match sent {
                Ok((status, meta, text)) => {
                    let unprocessed = status == StatusCode::SERVICE_UNAVAILABLE;
                    if status.is_server_error() && (reads_only || unprocessed) && !last_try {
                        std::thread::sleep(delay);
                        delay *= 2;
                        continue;
                    }
                    return Ok((status, meta, text));
                }
                Err(source) => {
                    if (reads_only || source.is_connect()) && !last_try {
                        std::thread::sleep(delay);
                        delay *= 2;
                        continue;
                    }
                    return Err(RestError::Transport {
                        method: method.clone(),
                        path: strip_query(path_and_query),
                        host: session.instance_url.host_str().unwrap_or("").to_string(),
                        tries,
                        source: source.without_url(),
                    });
                }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiErrorItem {
    #[serde(default)]
    message: String,
    error_code: String,
    #[serde(default)]
    fields: Vec<String>,
}

/// Turns a non-2xx answer into a [`RestError`].
fn api_error(
    method: &Method,
    path_and_query: &str,
    status: StatusCode,
    meta: &AnswerMeta,
    text: &str,
) -> RestError {
    let path = strip_query(path_and_query);
    let parsed = serde_json::from_str::<Vec<ApiErrorItem>>(text)
        .ok()
        .and_then(|items| items.into_iter().next())
        // A few resources answer a single object instead of a list.
        .or_else(|| serde_json::from_str::<ApiErrorItem>(text).ok());
    let (error_code, message, fields) = match parsed {
        Some(item) => (item.error_code, item.message, item.fields),
        None => (
            format!("HTTP_{}", status.as_u16()),
            super::snippet(text),
            Vec::new(),
        ),
    };
    if status == StatusCode::FORBIDDEN && error_code == "REQUEST_LIMIT_EXCEEDED" {
        return RestError::RequestLimitExceeded {
            method: method.clone(),
            path,
            message,
            api_usage: meta.api_usage,
        };
    }
    RestError::Api {
        method: method.clone(),
        path,
        status: status.as_u16(),
        error_code,
        message,
        fields,
    }
}

/// Form-encodes a query-string value (spaces as `+`, as Salesforce's own examples do).
fn encode_query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The path without its query string (which may hold a long SOQL or Apex body).
fn strip_query(path_and_query: &str) -> String {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redacted::Redacted;
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::time::Duration;

    /// One request as the scripted server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        target: String,
        authorization: String,
        body: String,
    }

    /// A canned answer: status, extra headers, body.
    type Canned = (u16, Vec<(&'static str, String)>, String);

    /// A tiny HTTP/1.1 server on 127.0.0.1:0 that answers each request with the next canned
    /// answer (or, for a token request, a fresh session) and records what it saw.
    struct Server {
        url: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Server {
        fn start(answers: Vec<Canned>) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            let base = url.clone();
            std::thread::spawn(move || {
                let mut answers = answers.into_iter();
                let mut sessions = 0;
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { return };
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        let mut parts = line.split_whitespace();
                        let method = parts.next().unwrap_or("").to_string();
                        let target = parts.next().unwrap_or("").to_string();
                        let mut length = 0;
                        let mut authorization = String::new();
                        loop {
                            let mut h = String::new();
                            reader.read_line(&mut h).unwrap();
                            if h.trim().is_empty() {
                                break;
                            }
                            let (name, value) = h.split_once(':').unwrap();
                            let value = value.trim().to_string();
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.parse().unwrap(),
                                "authorization" => authorization = value,
                                _ => {}
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        log.lock().unwrap().push(Seen {
                            method: method.clone(),
                            target: target.clone(),
                            authorization,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let (status, headers, body) = if target == "/services/oauth2/token" {
                            sessions += 1;
                            (
                                200,
                                vec![],
                                serde_json::json!({
                                    "access_token": format!("TOKEN-{sessions}"),
                                    "instance_url": base,
                                })
                                .to_string(),
                            )
                        } else {
                            answers.next().expect("more requests than canned answers")
                        };
                        let mut head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\n",
                            body.len()
                        );
                        for (name, value) in headers {
                            head.push_str(&format!("{name}: {value}\r\n"));
                        }
                        head.push_str("\r\n");
                        stream.write_all(head.as_bytes()).unwrap();
                        stream.write_all(body.as_bytes()).unwrap();
                    }
                }
            });
            Server { url, seen }
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }

        fn client(&self, renewable: bool) -> RestClient {
            let session = Session {
                instance_url: Url::parse(&self.url).unwrap(),
                access_token: Redacted::new("OLD-TOKEN".to_string()),
            };
            let creds = if renewable {
                Credentials::from_sfdx_auth_url(&format!("force://id::refresh@{}", self.url))
                    .unwrap()
            } else {
                Credentials::access_token(&self.url, "OLD-TOKEN".into()).unwrap()
            };
            RestClient::new(
                reqwest::blocking::Client::new(),
                session,
                Some(creds),
                "63.0",
            )
            .with_retry(RetryPolicy {
                tries: 3,
                first_delay: Duration::from_millis(1),
            })
        }
    }

    fn ok(body: Value) -> Canned {
        (
            200,
            vec![
                ("date", "Mon, 07 Dec 2026 01:24:21 GMT".into()),
                ("sforce-limit-info", "api-usage=18/15000".into()),
            ],
            body.to_string(),
        )
    }

    fn expired() -> Canned {
        (
            401,
            vec![],
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#.into(),
        )
    }

    #[test]
    fn the_client_can_be_shared_across_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<RestClient>();
    }

    #[test]
    fn api_usage_is_read_from_sforce_limit_info() {
        assert_eq!(parse_api_usage("api-usage=18/15000"), Some((18, 15000)));
        assert_eq!(
            parse_api_usage("per-app-api-usage=17/250(appName=x), api-usage=101000/100000"),
            Some((101000, 100000))
        );
        assert_eq!(parse_api_usage("per-app-api-usage=17/250"), None);
        assert_eq!(parse_api_usage("api-usage=x/1"), None);
    }

    #[test]
    fn a_query_follows_next_records_url_and_keeps_the_last_meta() {
        let server = Server::start(vec![
            ok(serde_json::json!({
                "totalSize": 3, "done": false,
                "nextRecordsUrl": "/services/data/v63.0/query/01gD0000002HU6KIAW-2",
                "records": [{"attributes": {"type": "CronTrigger"}, "Id": "08e1"},
                            {"attributes": {"type": "CronTrigger"}, "Id": "08e2"}],
            })),
            (
                200,
                vec![
                    ("date", "Mon, 07 Dec 2026 01:25:00 GMT".into()),
                    ("sforce-limit-info", "api-usage=19/15000".into()),
                ],
                serde_json::json!({"totalSize": 3, "done": true,
                    "records": [{"attributes": {"type": "CronTrigger"}, "Id": "08e3"}]})
                .to_string(),
            ),
        ]);
        let client = server.client(false);
        let result = client
            .query("SELECT Id FROM CronTrigger WHERE CronJobDetail.Name LIKE 'Sfhooks%'")
            .unwrap();
        let ids: Vec<&str> = result
            .records
            .iter()
            .map(|r| r["Id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["08e1", "08e2", "08e3"]);
        assert_eq!(result.total_size, 3);
        assert_eq!(result.meta.api_usage, Some((19, 15000)));
        assert_eq!(
            result.meta.date,
            Some(httpdate::parse_http_date("Mon, 07 Dec 2026 01:25:00 GMT").unwrap())
        );
        let seen = server.seen();
        assert_eq!(
            seen[0].target,
            "/services/data/v63.0/query?q=SELECT+Id+FROM+CronTrigger+WHERE+CronJobDetail.Name\
             +LIKE+%27Sfhooks%25%27"
        );
        assert_eq!(
            seen[1].target,
            "/services/data/v63.0/query/01gD0000002HU6KIAW-2"
        );
        assert!(seen.iter().all(|s| s.authorization == "Bearer OLD-TOKEN"));
    }

    #[test]
    fn an_expired_session_is_renewed_once_and_the_request_resent() {
        let server = Server::start(vec![
            expired(),
            ok(serde_json::json!({"totalSize": 0, "done": true, "records": []})),
        ]);
        let client = server.client(true);
        let result = client.tooling_query("SELECT Id FROM RemoteProxy").unwrap();
        assert!(result.records.is_empty());
        let seen = server.seen();
        let targets: Vec<&str> = seen.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "/services/data/v63.0/tooling/query?q=SELECT+Id+FROM+RemoteProxy",
                "/services/oauth2/token",
                "/services/data/v63.0/tooling/query?q=SELECT+Id+FROM+RemoteProxy",
            ]
        );
        assert_eq!(seen[2].authorization, "Bearer TOKEN-1");
        assert_eq!(client.session().access_token.expose(), "TOKEN-1");
    }

    #[test]
    fn renewal_is_never_a_loop_and_an_access_token_is_not_renewed() {
        let server = Server::start(vec![expired(), expired()]);
        let err = server
            .client(true)
            .get_json("/services/data/v63.0/")
            .unwrap_err();
        assert!(matches!(err, RestError::SessionExpired { .. }), "{err}");
        assert!(err.to_string().contains("just issued"), "{err}");
        assert_eq!(server.seen().len(), 3);

        let server = Server::start(vec![expired()]);
        let err = server
            .client(false)
            .query("SELECT Id FROM Organization")
            .unwrap_err();
        assert!(matches!(err, RestError::SessionExpired { .. }), "{err}");
        assert!(!err.to_string().contains("TOKEN"), "{err}");
        assert!(!format!("{err:?}").contains("OLD-TOKEN"), "{err:?}");
        assert_eq!(server.seen().len(), 1);
    }

    #[test]
    fn salesforce_errors_are_typed() {
        let server = Server::start(vec![
            (
                400,
                vec![],
                r#"[{"message":"unexpected token: FORM","errorCode":"MALFORMED_QUERY"}]"#.into(),
            ),
            (
                403,
                vec![("sforce-limit-info", "api-usage=100001/100000".into())],
                r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#
                    .into(),
            ),
            (502, vec![], "<html>bad gateway</html>".into()),
            (502, vec![], "<html>bad gateway</html>".into()),
            (502, vec![], "<html>bad gateway</html>".into()),
        ]);
        let client = server.client(false);
        let err = client.query("SELECT Id FORM Account").unwrap_err();
        assert_eq!(err.error_code(), Some("MALFORMED_QUERY"));
        assert_eq!(err.status(), Some(400));
        assert!(err.to_string().contains("unexpected token"), "{err}");
        assert!(!err.to_string().contains("FORM+Account"), "{err}");
        let err = client.query("SELECT Id FROM Account").unwrap_err();
        let RestError::RequestLimitExceeded { api_usage, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*api_usage, Some((100001, 100000)));
        // A read is resent after a 5xx, up to the policy's tries.
        let err = client.get_json("/services/data/v63.0/limits").unwrap_err();
        assert_eq!(err.error_code(), Some("HTTP_502"), "{err}");
        assert_eq!(server.seen().len(), 5);
    }

    #[test]
    fn collections_are_capped_and_matched_by_position() {
        let server = Server::start(vec![ok(serde_json::json!([
            {"id": "a001", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED",
                "message": "entity is deleted", "fields": []}]},
        ]))]);
        let client = server.client(false);
        let records = vec![
            serde_json::json!({"attributes": {"type": "X__c"}, "id": "a001", "Status__c": "Pending"}),
            serde_json::json!({"attributes": {"type": "X__c"}, "id": "a002", "Status__c": "Pending"}),
        ];
        let answer = client.patch_collection(&records, false).unwrap();
        assert!(answer.body[0].success);
        assert_eq!(answer.body[1].id, None);
        assert_eq!(answer.body[1].errors[0].status_code, "ENTITY_IS_DELETED");
        let seen = server.seen();
        assert_eq!(seen[0].method, "PATCH");
        assert_eq!(seen[0].target, "/services/data/v63.0/composite/sobjects");
        let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!(sent["allOrNone"], false);
        assert_eq!(sent["records"].as_array().unwrap().len(), 2);
        let too_many = vec![records[0].clone(); COLLECTION_LIMIT + 1];
        assert!(matches!(
            client.patch_collection(&too_many, false),
            Err(RestError::TooManyRecords { count: 201 })
        ));
    }

    #[test]
    fn anonymous_apex_is_sent_encoded_and_its_outcome_read() {
        let server = Server::start(vec![
            ok(
                serde_json::json!({"line": -1, "column": -1, "compiled": true, "success": true,
                "compileProblem": null, "exceptionStackTrace": null, "exceptionMessage": null}),
            ),
            ok(
                serde_json::json!({"line": 1, "column": 8, "compiled": false, "success": false,
                "compileProblem": "Variable does not exist: SfhooksJobs",
                "exceptionStackTrace": null, "exceptionMessage": null}),
            ),
        ]);
        let client = server.client(false);
        let done = client.execute_anonymous("SfhooksJobs.pause();").unwrap();
        assert!(done.compiled && done.success);
        let failed = client
            .execute_anonymous("SfhooksJobs.restore(); // a+b")
            .unwrap();
        assert!(!failed.compiled);
        assert_eq!(failed.line, 1);
        assert_eq!(
            failed.compile_problem.as_deref(),
            Some("Variable does not exist: SfhooksJobs")
        );
        let seen = server.seen();
        assert_eq!(
            seen[0].target,
            "/services/data/v63.0/tooling/executeAnonymous/?anonymousBody=SfhooksJobs.pause%28%29%3B"
        );
        assert!(
            seen[1].target.ends_with("%2F%2F+a%2Bb"),
            "{}",
            seen[1].target
        );
    }

    #[test]
    fn invocable_actions_post_their_inputs() {
        let server = Server::start(vec![ok(serde_json::json!([
            {"actionName": "SfhooksReplay", "errors": null, "isSuccess": true,
             "outputValues": {"count": 3}},
        ]))]);
        let client = server.client(false);
        let answer = client
            .invoke_apex_action("SfhooksReplay", &[serde_json::json!({"status": "Dead"})])
            .unwrap();
        assert!(answer.body[0].is_success);
        assert_eq!(answer.body[0].output_values["count"], 3);
        let seen = server.seen();
        assert_eq!(seen[0].method, "POST");
        assert_eq!(
            seen[0].target,
            "/services/data/v63.0/actions/custom/apex/SfhooksReplay"
        );
        assert!(client.invoke_apex_action("../sobjects", &[]).is_err());
    }

    #[test]
    fn the_org_id_comes_from_the_organization_query() {
        let server = Server::start(vec![ok(serde_json::json!({"totalSize": 1, "done": true,
            "records": [{"attributes": {"type": "Organization"}, "Id": "00D000000000001AAA"}]}))]);
        assert_eq!(server.client(false).org_id().unwrap(), "00D000000000001AAA");
    }
}
