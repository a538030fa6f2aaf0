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
//!
//! The parts: `error` ([`RestError`] and how a refusal is read), `answers` (the decoded answer
//! types), `query` (paging through `nextRecordsUrl`) and `transport` (sending, session renewal,
//! retries). The client itself and its other calls (sObject Collections, Anonymous Apex,
//! invocable actions, the org Id) live here.
use std::fmt;
use std::sync::{Mutex, RwLock};

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::auth::{Credentials, Session};
use super::metadata::RetryPolicy;

mod answers;
mod error;
mod query;
mod transport;

pub use answers::{
    parse_api_usage, ActionResult, AnonymousResult, AnswerMeta, QueryPage, QueryResource,
    QueryResult, RestAnswer, SaveError, SaveResult,
};
pub use error::RestError;
pub use query::QueryPages;

/// The most records one sObject Collections request may carry (REST API Developer Guide,
/// "sObject Collections").
pub const COLLECTION_LIMIT: usize = 200;

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
mod tests;
