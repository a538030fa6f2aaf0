//! Sending one request: renews an expired session once, resends unanswered requests as the
//! retry policy and the method allow. The access token travels only in `Authorization`.
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::error::api_error;
use super::{strip_query, AnswerMeta, RestClient, RestError};
use crate::salesforce::auth::{Credentials, Session};

impl RestClient {
    /// Sends one request: renews an expired session once, resends unanswered requests as the
    /// retry policy and the method allow. Returns a 2xx answer or the error it carried.
    pub(super) fn send(
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
