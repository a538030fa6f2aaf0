//! The signing-secret flags that `package` and `deploy` share (`--secret-file`, `--no-secret`),
//! turned into the library's [`SecretSources`] and its errors into the binary's exit codes. The
//! rules themselves live in the library ([`sfhooks::signing_secret`]); only the environment and
//! the hint are read here, so neither command needs the other.
use std::path::Path;

use sfhooks::config::Config;
use sfhooks::mdapi::PackageKind;
use sfhooks::redacted::Redacted;
use sfhooks::scheme::SignatureScheme;
use sfhooks::signing_secret::{self, SecretSources, SigningSecretError};

use crate::exit::{self, Hinted, UsageError};

/// How to get a secret, for the error that says there is none.
const NO_SECRET_HINT: &str = "make one with `sfhooks secret > secret.txt` and pass \
`--secret-file secret.txt` (or set SFHOOKS_SECRET); or build with --no-secret and add the \
settings record in Setup > Custom Metadata Types afterwards";

/// Where a secret may come from, besides the environment and the instance JSON.
#[derive(Clone, Copy)]
pub struct SecretFlags<'a> {
    /// `--secret-file`.
    pub file: Option<&'a Path>,
    /// `--no-secret`.
    pub no_secret: bool,
}

impl SecretFlags<'_> {
    /// The secret for a zip of `kind` built from a loaded configuration: none for an uninstall.
    pub fn for_config(
        self,
        config: &Config,
        kind: PackageKind,
    ) -> anyhow::Result<Option<Redacted<String>>> {
        match kind {
            PackageKind::Uninstall => Ok(None),
            _ => self.resolve(config.signature_key.as_ref(), config.signature_scheme),
        }
    }

    /// Finds and checks the secret with the library's one set of rules; `None` only with
    /// `--no-secret`.
    pub fn resolve(
        self,
        instance_key: Option<&Redacted<String>>,
        scheme: SignatureScheme,
    ) -> anyhow::Result<Option<Redacted<String>>> {
        let env = std::env::var_os(signing_secret::SECRET_ENV);
        let sources = SecretSources {
            file: self.file,
            env: env.as_ref(),
            instance_key,
            no_secret: self.no_secret,
        };
        signing_secret::resolve(sources, scheme).map_err(|e| match e {
            SigningSecretError::Missing => Hinted {
                message: e.to_string(),
                hint: NO_SECRET_HINT.to_string(),
                code: exit::USAGE,
            }
            .into(),
            other => UsageError::new(other.to_string()).into(),
        })
    }
}
