//! The token endpoint: the POST every renewable flow ends in, the answer read into a
//! [`Session`], and the rule for URLs a token may be sent to.
use std::net::IpAddr;

use url::Url;

use super::{AuthError, Flow, Session};
use crate::redacted::Redacted;

/// What [`AuthError::InsecureUrl`] and [`AuthError::BadUrl`] call the instance URL of a token
/// answer: a URL Salesforce gave, not the user, so refusing it is an authentication failure.
pub const TOKEN_ANSWER_URL: &str = "instance URL from the token endpoint";

/// Parses a URL that a token will be sent to: https, or http on a loopback host only.
pub fn checked_url(what: &'static str, raw: &str) -> Result<Url, AuthError> {
    let url = Url::parse(raw.trim()).map_err(|e| AuthError::BadUrl {
        what,
        url: raw.to_string(),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(AuthError::InsecureUrl {
            what,
            url: raw.to_string(),
        }),
        other => Err(AuthError::BadUrl {
            what,
            url: raw.to_string(),
            reason: format!("the scheme is {other}:, expected https:"),
        }),
    }
}

/// True for 127.0.0.0/8, ::1 and `localhost`: the only hosts a token may travel to over http.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    instance_url: Option<String>,
}

#[derive(serde::Deserialize)]
struct OAuthErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// POSTs the form to `{login_url}/services/oauth2/token` and reads a session out of the answer.
pub(super) fn token_request(
    http: &reqwest::blocking::Client,
    flow: Flow,
    login_url: &Url,
    form: &[(&str, &str)],
) -> Result<Session, AuthError> {
    let endpoint = login_url
        .join("/services/oauth2/token")
        .map_err(|e| AuthError::BadUrl {
            what: "login URL",
            url: login_url.to_string(),
            reason: e.to_string(),
        })?;
    let url = endpoint.to_string();
    let response = http
        .post(endpoint)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .map_err(|source| AuthError::Unreachable {
            flow,
            url: url.clone(),
            source: source.without_url(),
        })?;
    let status = response.status();
    let body = response.text().map_err(|source| AuthError::Unreachable {
        flow,
        url: url.clone(),
        source: source.without_url(),
    })?;
    if !status.is_success() {
        return Err(match serde_json::from_str::<OAuthErrorAnswer>(&body) {
            Ok(e) => AuthError::Rejected {
                flow,
                status: status.as_u16(),
                error: e.error,
                description: e.error_description,
            },
            Err(_) => AuthError::BadResponse {
                flow,
                url,
                status: status.as_u16(),
                detail: format!("not an OAuth error: {}", crate::salesforce::snippet(&body)),
            },
        });
    }
    // From here on the body holds a token: errors describe it, never quote it.
    let bad = |detail: &str| AuthError::BadResponse {
        flow,
        url: url.clone(),
        status: status.as_u16(),
        detail: detail.to_string(),
    };
    let answer: TokenAnswer =
        serde_json::from_str(&body).map_err(|_| bad("the answer is not JSON"))?;
    let (Some(access_token), Some(instance_url)) = (answer.access_token, answer.instance_url)
    else {
        return Err(bad("the answer has no access_token or no instance_url"));
    };
    Ok(Session {
        instance_url: checked_url(TOKEN_ANSWER_URL, &instance_url)?,
        access_token: Redacted::new(access_token),
    })
}
