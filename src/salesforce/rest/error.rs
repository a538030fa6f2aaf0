//! Why a REST call failed ([`RestError`]), and how a non-2xx answer becomes one.
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::{strip_query, AnswerMeta, COLLECTION_LIMIT};
use crate::salesforce::auth::{AuthError, Flow};

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
pub(super) fn api_error(
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
            crate::salesforce::snippet(text),
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
