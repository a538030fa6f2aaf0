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
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::PrivateKeyDer;
use url::Url;

use crate::redacted::Redacted;

/// Login host of production orgs and Developer Edition orgs; also the JWT `aud` for them.
pub const PRODUCTION_LOGIN_URL: &str = "https://login.salesforce.com";
/// Login host of sandboxes; also the JWT `aud` for them.
pub const SANDBOX_LOGIN_URL: &str = "https://test.salesforce.com";

/// How long a JWT assertion is valid. Salesforce wants `exp` a few minutes ahead at most
/// ("OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration": within 3 minutes).
const JWT_LIFETIME_SECS: u64 = 180;

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

/// Reads an unencrypted RSA private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`): guides for the JWT flow produce either, depending on the OpenSSL
/// version.
pub fn read_rsa_key(path: &Path) -> Result<RsaKeyPair, AuthError> {
    let pem = std::fs::read(path).map_err(|source| AuthError::KeyFile {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: &str| AuthError::BadKey {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if contains(&pem, b"ENCRYPTED") {
        return Err(bad(
            "it is encrypted; write a decrypted copy with `openssl pkey -in KEY -out key.pem` \
             and keep it as secret as the original",
        ));
    }
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| bad(&format!("no PEM private key found ({e})")))?;
    let parsed = match &der {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err(bad("it is not an RSA key; the JWT bearer flow needs RS256")),
    };
    parsed.map_err(|e| bad(&format!("ring refused it ({e})")))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Builds the signed assertion: header `{"alg":"RS256"}`, claims iss, sub, aud, exp.
fn jwt_assertion(
    key: &RsaKeyPair,
    client_id: &str,
    username: &str,
    audience: &str,
) -> Result<String, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": username,
        "aud": audience,
        "exp": now + JWT_LIFETIME_SECS,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| AuthError::Signing)?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
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
fn token_request(
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
                detail: format!("not an OAuth error: {}", super::snippet(&body)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/deploy")
            .join(name)
    }

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

    #[test]
    fn pkcs8_and_pkcs1_keys_load_to_the_same_key() {
        let pkcs8 = read_rsa_key(&fixture("jwt-key.pem")).unwrap();
        let pkcs1 = read_rsa_key(&fixture("jwt-key-pkcs1.pem")).unwrap();
        assert_eq!(pkcs8.public().as_ref(), pkcs1.public().as_ref());
    }

    #[test]
    fn a_public_key_or_missing_file_is_a_clear_error() {
        let err = read_rsa_key(&fixture("jwt-key.pub.pem")).unwrap_err();
        assert!(matches!(err, AuthError::BadKey { .. }), "{err}");
        let err = read_rsa_key(&fixture("no-such-key.pem")).unwrap_err();
        assert!(matches!(err, AuthError::KeyFile { .. }), "{err}");
    }

    #[test]
    fn jwt_assertion_has_the_claims_salesforce_reads() {
        let key = read_rsa_key(&fixture("jwt-key.pem")).unwrap();
        let jwt = jwt_assertion(&key, "client-1", "a@b.example", SANDBOX_LOGIN_URL).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "RS256"}));
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "a@b.example");
        assert_eq!(claims["aud"], "https://test.salesforce.com");
        assert!(claims["exp"].as_u64().unwrap() > 1_700_000_000);
        // The signature verifies with the public half.
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            key.public().as_ref(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(
                signed.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }
}
