//! The signing secret that `package` and `deploy` write into the settings record: where it comes
//! from (`--secret-file`, else `$SFHOOKS_SECRET`, else the instance JSON's
//! `event.notification.signature.key`) and what makes it usable for a scheme.
//!
//! One rule for every source, the same as the receivers' (`webhook::secret::secret_text`):
//! surrounding whitespace (spaces, tabs, the line break) is not part of a secret and is removed;
//! anything inside is taken as it is, and a secret that is empty after that is refused. No error
//! here ever contains the secret.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::redacted::Redacted;
use crate::scheme::SignatureScheme;
use crate::webhook::secret::secret_text;
use crate::webhook::wire::{MIN_SECRET_BYTES, SECRET_PREFIX};

/// The environment variable that may hold the signing secret.
pub const SECRET_ENV: &str = "SFHOOKS_SECRET";
/// The settings field holding the secret is a Text(255).
pub const MAX_SECRET_CHARS: usize = 255;

/// Where the secret may come from, in the order they are tried.
#[derive(Debug, Clone, Copy)]
pub struct SecretSources<'a> {
    /// `--secret-file`: a file holding exactly one secret (blank lines aside).
    pub file: Option<&'a Path>,
    /// The value of [`SECRET_ENV`] (`None` or empty: not set).
    pub env: Option<&'a OsString>,
    /// `event.notification.signature.key` of the instance JSON.
    pub instance_key: Option<&'a Redacted<String>>,
    /// `--no-secret`: build without a secret record.
    pub no_secret: bool,
}

/// Why no usable secret was found. Every variant is bad input (exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningSecretError {
    /// `--no-secret` together with `--secret-file`.
    #[error("--no-secret and --secret-file contradict each other: choose one")]
    Contradiction,
    /// The secret file cannot be read.
    #[error("cannot read --secret-file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The secret file holds more than one non-blank line.
    #[error("--secret-file {} holds {lines} lines: the package takes exactly one secret", path.display())]
    SeveralLines {
        /// The file.
        path: PathBuf,
        /// How many non-blank lines.
        lines: usize,
    },
    /// `$SFHOOKS_SECRET` is not UTF-8.
    #[error("${SECRET_ENV} is not valid UTF-8")]
    EnvNotUtf8,
    /// No source holds a secret.
    #[error(
        "no signing secret: none in --secret-file, ${SECRET_ENV}, or the --instance JSON's \
         event.notification.signature.key"
    )]
    Missing,
    /// The secret found is not usable for the scheme.
    #[error("the secret from {origin} {problem}")]
    Unusable {
        /// Where it came from, e.g. `--secret-file secret.txt`.
        origin: String,
        /// What is wrong, e.g. `does not start with whsec_: ...`.
        problem: String,
    },
}

/// Finds the secret in `sources` and checks it for `scheme`; `None` only with `--no-secret`.
pub fn resolve(
    sources: SecretSources<'_>,
    scheme: SignatureScheme,
) -> Result<Option<Redacted<String>>, SigningSecretError> {
    if sources.no_secret {
        if sources.file.is_some() {
            return Err(SigningSecretError::Contradiction);
        }
        return Ok(None);
    }
    let (value, origin) = if let Some(path) = sources.file {
        let text =
            std::fs::read_to_string(path).map_err(|source| SigningSecretError::ReadFile {
                path: path.to_path_buf(),
                source,
            })?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() > 1 {
            return Err(SigningSecretError::SeveralLines {
                path: path.to_path_buf(),
                lines: lines.len(),
            });
        }
        let line = lines.first().copied().unwrap_or_default();
        (
            Redacted::new(secret_text(line).to_string()),
            format!("--secret-file {}", path.display()),
        )
    } else if let Some(value) = sources.env.filter(|v| !v.is_empty()) {
        let value = value.to_str().ok_or(SigningSecretError::EnvNotUtf8)?;
        (
            Redacted::new(secret_text(value).to_string()),
            format!("${SECRET_ENV}"),
        )
    } else if let Some(key) = sources.instance_key {
        (
            Redacted::new(secret_text(key.expose()).to_string()),
            "event.notification.signature.key of --instance".to_string(),
        )
    } else {
        return Err(SigningSecretError::Missing);
    };
    check(value.expose(), scheme)
        .map_err(|problem| SigningSecretError::Unusable { origin, problem })?;
    Ok(Some(value))
}

/// Checks a secret (already without surrounding whitespace) for a scheme; the message never
/// contains the secret.
///
/// Standard Webhooks: `whsec_` + base64 of at least [`MIN_SECRET_BYTES`] bytes (the Apex signs
/// with the decoded bytes). Open Connectors: any key. Both go into a Text(255) field as XML text,
/// so control characters are refused.
pub fn check(secret: &str, scheme: SignatureScheme) -> Result<(), String> {
    if secret.is_empty() {
        return Err("is empty (surrounding whitespace is not part of a secret)".to_string());
    }
    if secret.chars().count() > MAX_SECRET_CHARS {
        return Err(format!(
            "is longer than {MAX_SECRET_CHARS} characters, the size of the settings field"
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err("contains control characters (a line break?)".to_string());
    }
    if scheme == SignatureScheme::Standard {
        let Some(encoded) = secret.strip_prefix(SECRET_PREFIX) else {
            return Err(format!(
                "does not start with {SECRET_PREFIX}: the standard scheme takes a Standard \
                 Webhooks secret (make one with `sfhooks secret`; an Open Connectors key needs \
                 --signature-scheme elements)"
            ));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| {
                format!("is not {SECRET_PREFIX} followed by base64 (standard alphabet, = padding)")
            })?;
        if decoded.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "decodes to {} bytes; at least {MIN_SECRET_BYTES} are needed",
                decoded.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn from_env(value: &str, scheme: SignatureScheme) -> Result<Option<String>, String> {
        let env = OsString::from(value);
        resolve(
            SecretSources {
                file: None,
                env: Some(&env),
                instance_key: None,
                no_secret: false,
            },
            scheme,
        )
        .map(|s| s.map(|s| s.expose().clone()))
        .map_err(|e| e.to_string())
    }

    #[test]
    fn standard_secrets_need_whsec_and_24_bytes() {
        // The Standard Webhooks spec's example secret: 24 bytes.
        assert_eq!(check(SPEC, SignatureScheme::Standard), Ok(()));
        let short = format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 23])
        );
        assert!(check(&short, SignatureScheme::Standard)
            .expect_err("short")
            .contains("23 bytes"));
        assert!(check(
            "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            SignatureScheme::Standard
        )
        .expect_err("no prefix")
        .contains("does not start with whsec_"));
        assert!(check("whsec_!!!!", SignatureScheme::Standard)
            .expect_err("not base64")
            .contains("base64"));
    }

    #[test]
    fn elements_keys_are_free_form_but_bounded() {
        assert_eq!(check("12345", SignatureScheme::Elements), Ok(()));
        assert!(check("", SignatureScheme::Elements).is_err());
        assert!(check(&"k".repeat(256), SignatureScheme::Elements).is_err());
        assert_eq!(check(&"k".repeat(255), SignatureScheme::Elements), Ok(()));
        assert!(check("a\nb", SignatureScheme::Elements).is_err());
    }

    #[test]
    fn messages_never_contain_the_secret() {
        for (secret, scheme) in [
            ("whsec_c2VjcmV0", SignatureScheme::Standard),
            ("notawhsecvalue", SignatureScheme::Standard),
            ("x\u{7}secretvalue", SignatureScheme::Elements),
        ] {
            let message = check(secret, scheme).expect_err("invalid");
            assert!(!message.contains(secret), "{message}");
            assert!(!message.contains("secretvalue") && !message.contains("c2VjcmV0"));
        }
    }

    #[test]
    fn surrounding_whitespace_is_removed_inner_whitespace_kept() {
        let padded = format!(" \t{SPEC}  ");
        assert_eq!(
            from_env(&padded, SignatureScheme::Standard),
            Ok(Some(SPEC.to_string()))
        );
        assert_eq!(
            from_env("  my key\t", SignatureScheme::Elements),
            Ok(Some("my key".to_string()))
        );
        let blank = from_env("   ", SignatureScheme::Elements).expect_err("blank");
        assert!(
            blank.contains("is empty (surrounding whitespace"),
            "{blank}"
        );
    }

    #[test]
    fn no_secret_contradicts_a_secret_file() {
        let sources = SecretSources {
            file: Some(Path::new("secret.txt")),
            env: None,
            instance_key: None,
            no_secret: true,
        };
        assert!(matches!(
            resolve(sources, SignatureScheme::Standard),
            Err(SigningSecretError::Contradiction)
        ));
    }
}
