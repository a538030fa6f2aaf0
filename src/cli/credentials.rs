//! The org's credential flags, shared by `deploy`, `status`, `replay` and `poll`: access token,
//! SFDX auth URL or the JWT bearer flow, resolved by the library's `salesforce::login`.
use std::path::PathBuf;

use clap::Args;
use sfhooks::redacted::Redacted;
use sfhooks::salesforce::login::{CredentialInputs, OrgKind};

/// How to authenticate with the org (the first of these that is given wins).
#[derive(Debug, Clone, Args)]
pub struct CredentialArgs {
    /// Access token (or $SF_ACCESS_TOKEN), with --instance-url.
    #[arg(
        long,
        env = "SF_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = redacted
    )]
    pub access_token: Option<Redacted<String>>,
    /// Instance URL (or $SF_INSTANCE_URL), e.g. https://acme.my.salesforce.com.
    #[arg(long, env = "SF_INSTANCE_URL", value_name = "URL")]
    pub instance_url: Option<String>,
    /// SFDX auth URL (or $SFDX_AUTH_URL): force://<clientId>:<clientSecret>:<refreshToken>@<host>.
    #[arg(
        long,
        env = "SFDX_AUTH_URL",
        hide_env_values = true,
        value_name = "URL",
        value_parser = redacted
    )]
    pub sfdx_auth_url: Option<Redacted<String>>,
    /// Connected app consumer key, for the JWT bearer flow.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Salesforce username, for the JWT bearer flow.
    #[arg(long, value_name = "USERNAME")]
    pub username: Option<String>,
    /// PEM RSA private key, for the JWT bearer flow.
    #[arg(long, value_name = "PATH")]
    pub jwt_key_file: Option<PathBuf>,
    /// Login URL for the JWT flow (My Domain) [default: login.salesforce.com, or
    /// test.salesforce.com with --sandbox].
    #[arg(long, value_name = "URL")]
    pub login_url: Option<String>,
}

impl CredentialArgs {
    /// The flags as the library's credential inputs, for an org of this kind.
    pub fn inputs(&self, kind: OrgKind) -> CredentialInputs<'_> {
        CredentialInputs {
            access_token: self.access_token.as_ref(),
            instance_url: self.instance_url.as_deref(),
            sfdx_auth_url: self.sfdx_auth_url.as_ref(),
            client_id: self.client_id.as_deref(),
            username: self.username.as_deref(),
            jwt_key_file: self.jwt_key_file.as_deref(),
            login_url: self.login_url.as_deref(),
            kind,
        }
    }
}

/// The org to talk to, with the same credential flags as `deploy`.
#[derive(Debug, Clone, Args)]
pub struct OrgArgs {
    /// The org is a sandbox: the JWT audience (and default login URL) is test.salesforce.com.
    #[arg(long)]
    pub sandbox: bool,
    /// How to authenticate with the org.
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

impl OrgArgs {
    /// The flags as the library's credential inputs.
    pub fn credential_inputs(&self) -> CredentialInputs<'_> {
        self.credentials.inputs(if self.sandbox {
            OrgKind::Sandbox
        } else {
            OrgKind::Production
        })
    }
}

/// Wraps a secret flag value at parse time, so not even `{:?}` of the parsed arguments shows it.
fn redacted(value: &str) -> Result<Redacted<String>, std::convert::Infallible> {
    Ok(Redacted::new(value.to_string()))
}
