//! OAuth 2.0 for `sfhooks deploy`: the three non-interactive ways to get a session.
//!
//! - an access token the caller already has (no way to renew it),
//! - an SFDX auth URL, exchanged with the refresh-token grant,
//! - the JWT bearer grant, signed RS256 with the connected app's private key.
//!
//! Every secret (access token, refresh token, client secret, private key) lives in a
//! [`Redacted`], and no error message here contains one: errors carry the flow, the OAuth `error`
//! and `error_description` Salesforce sent, and never a request or a successful response body.
//! Nothing here keeps state between calls; [`Credentials::login`] can be called again to renew a
//! session that expired mid-deploy.
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::signature::RsaKeyPair;
use url::Url;

use crate::redacted::Redacted;

mod jwt;
mod token;

pub use jwt::read_rsa_key;
pub use token::{checked_url, TOKEN_ANSWER_URL};

use jwt::jwt_assertion;
use token::token_request;

/// Login host of production orgs and Developer Edition orgs; also the JWT `aud` for them.
pub const PRODUCTION_LOGIN_URL: &str = "https://login.salesforce.com";
/// Login host of sandboxes; also the JWT `aud` for them.
pub const SANDBOX_LOGIN_URL: &str = "https://test.salesforce.com";

/// Which OAuth flow produced (or failed to produce) a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flow {
    /// `--access-token` with `--instance-url`: used as is.
    AccessToken,
    /// `--sfdx-auth-url`: the refresh-token grant.
    RefreshToken,
    /// `--client-id`, `--username`, `--jwt-key-file`: the JWT bearer grant.
    JwtBearer,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flow::AccessToken => "access token",
            Flow::RefreshToken => "refresh-token flow (SFDX auth URL)",
            Flow::JwtBearer => "JWT bearer flow",
        })
    }
}

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint answered with an OAuth error (`invalid_grant`, `invalid_client_id`, ...).
    #[error("{flow} failed: Salesforce answered {error}: {description}")]
    Rejected {
        /// The flow that was tried.
        flow: Flow,
        /// The HTTP status of the answer.
        status: u16,
        /// The OAuth `error` code.
        error: String,
        /// The OAuth `error_description`.
        description: String,
    },
    /// The token endpoint could not be reached.
    #[error("{flow} failed: cannot reach {url}")]
    Unreachable {
        /// The flow that was tried.
        flow: Flow,
        /// The token endpoint.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The token endpoint answered something that is not an OAuth answer.
    #[error("{flow} failed: unexpected answer from {url} (HTTP {status}): {detail}")]
    BadResponse {
        /// The flow that was tried.
        flow: Flow,
        /// The token endpoint.
        url: String,
        /// The HTTP status of the answer.
        status: u16,
        /// What was wrong with it (never the body of a successful answer, which holds a token).
        detail: String,
    },
    /// A URL that is not https and not on a loopback host.
    #[error(
        "{what} {url} must use https: http:// is accepted only for loopback hosts \
         (127.0.0.0/8, ::1, localhost), since the token would travel unencrypted"
    )]
    InsecureUrl {
        /// Which URL (instance URL, login URL, ...).
        what: &'static str,
        /// The URL.
        url: String,
    },
    /// A URL that does not parse, or is not http(s).
    #[error("invalid {what} {url:?}: {reason}")]
    BadUrl {
        /// Which URL.
        what: &'static str,
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// An SFDX auth URL that does not have the expected shape. The URL itself is never echoed: it
    /// holds the refresh token.
    #[error(
        "invalid SFDX auth URL: {0}; expected force://<clientId>:<clientSecret>:<refreshToken>@<host> \
         (the secret may be empty)"
    )]
    BadAuthUrl(&'static str),
    /// The JWT key file could not be read.
    #[error("cannot read the JWT key file {}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The JWT key file is not an unencrypted RSA private key in PEM.
    #[error("the JWT key file {} is not a usable RSA private key: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// ring refused to sign (it does not say why; it should not happen with a key it parsed).
    #[error("JWT bearer flow failed: signing the assertion failed")]
    Signing,
}

/// An authenticated session: where the org lives and the bearer token for it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The org's instance URL, e.g. `https://acme.my.salesforce.com` (checked: https or loopback).
    pub instance_url: Url,
    /// The access token (the SOAP `sessionId`).
    pub access_token: Redacted<String>,
}

/// What `sfhooks deploy` was given to authenticate with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A ready access token; cannot be renewed.
    AccessToken {
        /// The org's instance URL.
        instance_url: Url,
        /// The token.
        token: Redacted<String>,
    },
    /// An SFDX auth URL, for the refresh-token grant.
    RefreshToken {
        /// `https://<host>` from the auth URL.
        login_url: Url,
        /// The connected app's consumer key.
        client_id: String,
        /// The consumer secret; empty for the Salesforce CLI's own app.
        client_secret: Redacted<String>,
        /// The refresh token.
        refresh_token: Redacted<String>,
    },
    /// The JWT bearer grant.
    Jwt {
        /// Where the token endpoint is (`--login-url`, else by org kind).
        login_url: Url,
        /// The `aud` claim: `https://login.salesforce.com` or `https://test.salesforce.com`.
        audience: String,
        /// The connected app's consumer key (`iss`).
        client_id: String,
        /// The user to act as (`sub`).
        username: String,
        /// The connected app's private key.
        key: Redacted<Arc<RsaKeyPair>>,
    },
}

impl Credentials {
    /// Credentials from an access token and the instance URL it belongs to.
    pub fn access_token(instance_url: &str, token: String) -> Result<Self, AuthError> {
        Ok(Credentials::AccessToken {
            instance_url: checked_url("instance URL", instance_url)?,
            token: Redacted::new(token),
        })
    }

    /// Credentials from an SFDX auth URL,
    /// `force://<clientId>:<clientSecret>:<refreshToken>@<host>`.
    ///
    /// `<host>` is a bare host (https is implied, as the Salesforce CLI does) or, for a local
    /// test org, a full `http://127.0.0.1:PORT` URL.
    pub fn from_sfdx_auth_url(auth_url: &str) -> Result<Self, AuthError> {
        let rest = auth_url
            .trim()
            .strip_prefix("force://")
            .ok_or(AuthError::BadAuthUrl("it does not start with force://"))?;
        // The host cannot contain '@'; the refresh token could, so split at the last one.
        let (creds, host) = rest
            .rsplit_once('@')
            .ok_or(AuthError::BadAuthUrl("there is no @<host>"))?;
        let mut parts = creds.splitn(3, ':');
        let (Some(client_id), Some(client_secret), Some(refresh_token)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::BadAuthUrl(
                "the part before @ needs three fields separated by ':'",
            ));
        };
        if client_id.is_empty() {
            return Err(AuthError::BadAuthUrl("the client id is empty"));
        }
        if refresh_token.is_empty() {
            return Err(AuthError::BadAuthUrl("the refresh token is empty"));
        }
        let host = host.trim_end_matches('/');
        if host.is_empty() {
            return Err(AuthError::BadAuthUrl("the host is empty"));
        }
        let login_url = if host.contains("://") {
            host.to_string()
        } else {
            format!("https://{host}")
        };
        Ok(Credentials::RefreshToken {
            login_url: checked_url("SFDX auth URL host", &login_url)?,
            client_id: client_id.to_string(),
            client_secret: Redacted::new(client_secret.to_string()),
            refresh_token: Redacted::new(refresh_token.to_string()),
        })
    }

    /// Credentials for the JWT bearer grant. `audience` is [`PRODUCTION_LOGIN_URL`] or
    /// [`SANDBOX_LOGIN_URL`]; `login_url` is where the token endpoint is (the same, or a My
    /// Domain URL).
    pub fn jwt(
        login_url: &str,
        audience: &str,
        client_id: &str,
        username: &str,
        key_file: &Path,
    ) -> Result<Self, AuthError> {
        Ok(Credentials::Jwt {
            login_url: checked_url("login URL", login_url)?,
            audience: audience.to_string(),
            client_id: client_id.to_string(),
            username: username.to_string(),
            key: Redacted::new(Arc::new(read_rsa_key(key_file)?)),
        })
    }

    /// The flow these credentials use.
    pub fn flow(&self) -> Flow {
        match self {
            Credentials::AccessToken { .. } => Flow::AccessToken,
            Credentials::RefreshToken { .. } => Flow::RefreshToken,
            Credentials::Jwt { .. } => Flow::JwtBearer,
        }
    }

    /// True when [`Credentials::login`] can get a fresh session after the current one expired.
    pub fn can_renew(&self) -> bool {
        !matches!(self, Credentials::AccessToken { .. })
    }

    /// Gets a session: returns the access token as is, or asks the token endpoint for one.
    pub fn login(&self, http: &reqwest::blocking::Client) -> Result<Session, AuthError> {
        match self {
            Credentials::AccessToken {
                instance_url,
                token,
            } => Ok(Session {
                instance_url: instance_url.clone(),
                access_token: token.clone(),
            }),
            Credentials::RefreshToken {
                login_url,
                client_id,
                client_secret,
                refresh_token,
            } => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("refresh_token", refresh_token.expose().as_str()),
                ];
                // The Salesforce CLI's own connected app has no secret; sending an empty one
                // would be refused as a wrong secret.
                if !client_secret.expose().is_empty() {
                    form.push(("client_secret", client_secret.expose().as_str()));
                }
                token_request(http, Flow::RefreshToken, login_url, &form)
            }
            Credentials::Jwt {
                login_url,
                audience,
                client_id,
                username,
                key,
            } => {
                let assertion =
                    Redacted::new(jwt_assertion(key.expose(), client_id, username, audience)?);
                let form = [
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.expose().as_str()),
                ];
                token_request(http, Flow::JwtBearer, login_url, &form)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_refused_except_on_loopback() {
        for ok in [
            "https://acme.my.salesforce.com",
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://[::1]:9000",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(checked_url("instance URL", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://acme.my.salesforce.com",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "http://128.0.0.1",
        ] {
            let err = checked_url("instance URL", bad).unwrap_err();
            assert!(matches!(err, AuthError::InsecureUrl { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("must use https"), "{err}");
        }
        assert!(matches!(
            checked_url("instance URL", "ftp://x.example"),
            Err(AuthError::BadUrl { .. })
        ));
    }

    #[test]
    fn sfdx_auth_url_is_split_into_its_parts() {
        let creds = Credentials::from_sfdx_auth_url(
            "force://PlatformCLI::5Aep861.x_y==@acme.my.salesforce.com",
        )
        .unwrap();
        let Credentials::RefreshToken {
            login_url,
            client_id,
            client_secret,
            refresh_token,
        } = creds
        else {
            panic!("not a refresh-token credential");
        };
        assert_eq!(login_url.as_str(), "https://acme.my.salesforce.com/");
        assert_eq!(client_id, "PlatformCLI");
        assert_eq!(client_secret.expose(), "");
        assert_eq!(refresh_token.expose(), "5Aep861.x_y==");
    }

    #[test]
    fn bad_sfdx_auth_urls_never_echo_the_secret() {
        for bad in [
            "https://id:secret:SUPERSECRET@host",
            "force://id:SUPERSECRET",
            "force://id:SUPERSECRET@",
            "force://:s:SUPERSECRET@host",
            "force://id:SUPERSECRET@host",
        ] {
            let err = Credentials::from_sfdx_auth_url(bad)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("invalid SFDX auth URL"), "{bad}: {err}");
            assert!(!err.contains("SUPERSECRET"), "{bad}: {err}");
        }
        let err =
            Credentials::from_sfdx_auth_url("force://id:s:tok@http://sf.example.com").unwrap_err();
        assert!(matches!(err, AuthError::InsecureUrl { .. }), "{err}");
    }
}
