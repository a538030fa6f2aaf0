//! Which credentials the flags name: the one resolution shared by every command that talks to an
//! org (`deploy`, `status`, `replay`, `poll`), so they all accept the same flags the same way.
//!
//! The first of these that is given wins: an access token (with its instance URL), an SFDX auth
//! URL, the JWT bearer flow (client id, username and key file together). Nothing here reads the
//! environment or the network: the caller passes what the command line collected, and [`resolve`] returns the
//! [`Credentials`] to log in with.
use std::path::Path;
use std::time::Duration;

use crate::redacted::Redacted;
use crate::salesforce::auth::{AuthError, Credentials, PRODUCTION_LOGIN_URL, SANDBOX_LOGIN_URL};
use crate::salesforce::rest::RestClient;

/// The kind of org, which fixes the JWT `aud` claim (and the default login host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    /// A sandbox: `https://test.salesforce.com`.
    Sandbox,
    /// Production or a Developer Edition org: `https://login.salesforce.com`.
    Production,
}

impl OrgKind {
    /// The JWT audience for this kind of org. Salesforce accepts only these two, even when the
    /// token endpoint is a My Domain URL (JWT Bearer Flow, "aud" claim).
    pub fn audience(self) -> &'static str {
        match self {
            OrgKind::Sandbox => SANDBOX_LOGIN_URL,
            OrgKind::Production => PRODUCTION_LOGIN_URL,
        }
    }
}

/// What the command line said about authentication; every field is optional.
#[derive(Debug, Clone, Copy)]
pub struct CredentialInputs<'a> {
    /// `--access-token` / `$SF_ACCESS_TOKEN`.
    pub access_token: Option<&'a Redacted<String>>,
    /// `--instance-url` / `$SF_INSTANCE_URL`.
    pub instance_url: Option<&'a str>,
    /// `--sfdx-auth-url` / `$SFDX_AUTH_URL`.
    pub sfdx_auth_url: Option<&'a Redacted<String>>,
    /// `--client-id` (JWT).
    pub client_id: Option<&'a str>,
    /// `--username` (JWT).
    pub username: Option<&'a str>,
    /// `--jwt-key-file` (JWT).
    pub jwt_key_file: Option<&'a Path>,
    /// `--login-url` (JWT; default by [`OrgKind`]).
    pub login_url: Option<&'a str>,
    /// Sandbox or production.
    pub kind: OrgKind,
}

/// Why no credentials could be built from the flags.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// An access token without the org it belongs to.
    #[error(
        "--access-token needs --instance-url (or $SF_INSTANCE_URL): the org's URL, e.g. \
         https://acme.my.salesforce.com"
    )]
    NoInstanceUrl,
    /// Some, but not all, of the JWT flags.
    #[error(
        "the JWT bearer flow needs --client-id, --username and --jwt-key-file; missing {}",
        missing.join(", ")
    )]
    IncompleteJwt {
        /// The flags not given.
        missing: Vec<&'static str>,
    },
    /// Nothing at all.
    #[error("no Salesforce credentials")]
    None,
    /// A flag's value was refused (a bad URL, an unreadable key, ...), or signing in failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The HTTP client could not be built (no TLS backend).
    #[error("cannot set up the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

impl CredentialsError {
    /// What to pass instead, for a `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CredentialsError::None => Some(
                "pass --access-token with --instance-url, or --sfdx-auth-url, or --client-id with \
                 --username and --jwt-key-file (the same can come from $SF_ACCESS_TOKEN, \
                 $SF_INSTANCE_URL, $SFDX_AUTH_URL); see docs/deploy.md",
            ),
            _ => None,
        }
    }
}

/// The credentials the flags name: access token, then SFDX auth URL, then JWT.
pub fn resolve(inputs: &CredentialInputs<'_>) -> Result<Credentials, CredentialsError> {
    if let Some(token) = inputs.access_token {
        let instance_url = inputs.instance_url.ok_or(CredentialsError::NoInstanceUrl)?;
        return Ok(Credentials::access_token(
            instance_url,
            token.expose().clone(),
        )?);
    }
    if let Some(auth_url) = inputs.sfdx_auth_url {
        return Ok(Credentials::from_sfdx_auth_url(auth_url.expose())?);
    }
    let jwt_flags = [
        ("--client-id", inputs.client_id.is_some()),
        ("--username", inputs.username.is_some()),
        ("--jwt-key-file", inputs.jwt_key_file.is_some()),
    ];
    if let (Some(client_id), Some(username), Some(key_file)) =
        (inputs.client_id, inputs.username, inputs.jwt_key_file)
    {
        let audience = inputs.kind.audience();
        let login_url = inputs.login_url.unwrap_or(audience);
        return Ok(Credentials::jwt(
            login_url, audience, client_id, username, key_file,
        )?);
    }
    if jwt_flags.iter().any(|f| f.1) {
        let missing = jwt_flags.iter().filter(|f| !f.1).map(|f| f.0).collect();
        return Err(CredentialsError::IncompleteJwt { missing });
    }
    Err(CredentialsError::None)
}

/// The HTTP client every command that talks to an org uses: sfhooks' user agent, a bounded
/// connect and request time.
pub fn http_client(timeout: Duration) -> Result<reqwest::blocking::Client, CredentialsError> {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("sfhooks/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(timeout)
        .build()
        .map_err(CredentialsError::HttpClient)
}

/// Resolves the credentials, signs in, and returns a REST client that renews the session
/// through the same credentials when it expires.
pub fn connect(
    inputs: &CredentialInputs<'_>,
    api_version: &str,
) -> Result<RestClient, CredentialsError> {
    let credentials = resolve(inputs)?;
    let http = http_client(Duration::from_secs(120))?;
    let session = credentials.login(&http)?;
    Ok(RestClient::new(
        http,
        session,
        Some(credentials),
        api_version,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::auth::Flow;

    fn none() -> CredentialInputs<'static> {
        CredentialInputs {
            access_token: None,
            instance_url: None,
            sfdx_auth_url: None,
            client_id: None,
            username: None,
            jwt_key_file: None,
            login_url: None,
            kind: OrgKind::Production,
        }
    }

    #[test]
    fn the_access_token_wins_and_needs_its_instance_url() {
        let token = Redacted::new("00Dx!tok".to_string());
        let auth_url = Redacted::new("force://id::refresh@acme.my.salesforce.com".to_string());
        let both = CredentialInputs {
            access_token: Some(&token),
            instance_url: Some("https://acme.my.salesforce.com"),
            sfdx_auth_url: Some(&auth_url),
            ..none()
        };
        assert_eq!(resolve(&both).unwrap().flow(), Flow::AccessToken);
        let alone = CredentialInputs {
            access_token: Some(&token),
            ..none()
        };
        assert!(matches!(
            resolve(&alone),
            Err(CredentialsError::NoInstanceUrl)
        ));
        let auth = CredentialInputs {
            sfdx_auth_url: Some(&auth_url),
            ..none()
        };
        assert_eq!(resolve(&auth).unwrap().flow(), Flow::RefreshToken);
    }

    #[test]
    fn partial_jwt_flags_name_what_is_missing_and_nothing_has_a_hint() {
        let partial = CredentialInputs {
            client_id: Some("id"),
            ..none()
        };
        let err = resolve(&partial).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the JWT bearer flow needs --client-id, --username and --jwt-key-file; missing \
             --username, --jwt-key-file"
        );
        let err = resolve(&none()).unwrap_err();
        assert!(matches!(err, CredentialsError::None));
        assert!(err.hint().is_some_and(|h| h.contains("--sfdx-auth-url")));
    }

    #[test]
    fn the_kind_of_org_fixes_the_audience() {
        assert_eq!(OrgKind::Sandbox.audience(), "https://test.salesforce.com");
        assert_eq!(
            OrgKind::Production.audience(),
            "https://login.salesforce.com"
        );
    }
}
