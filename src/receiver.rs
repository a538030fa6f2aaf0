//! What the receiving commands (`verify`, `listen`) share: reading the verification secrets from
//! where the operator keeps them and turning them into a verifier, and the clock.
//!
//! Secrets come only from an environment variable or a file, never an argument, since process
//! lists leak arguments. Several secrets (a rotation) are separated by whitespace in a variable and
//! one per line in a file. Errors name the source and never show a secret.
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::redacted::Redacted;
use crate::webhook::{ElementsKey, ElementsVerifier, Secret, SecretError, Verifier};

/// Where the secrets are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable: secrets separated by whitespace.
    Env(String),
    /// A file: one secret per line, blank lines ignored.
    File(PathBuf),
}

impl KeySource {
    /// `$VAR` or the path, as messages name the source.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Env(var) => format!("${var}"),
            KeySource::File(path) => path.display().to_string(),
        }
    }
}

/// Why the verification keys could not be loaded. Every case is the operator's input (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The variable is not set.
    #[error("environment variable {var} is not set (or not UTF-8): export the secret there; several are separated by spaces")]
    EnvNotSet {
        /// The variable's name.
        var: String,
    },
    /// The variable holds only whitespace.
    #[error("environment variable {var} is empty: export the secret there")]
    EnvEmpty {
        /// The variable's name.
        var: String,
    },
    /// The file cannot be read.
    #[error("cannot read secret file {path}: {source}")]
    FileUnreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file has no secret in it.
    #[error("secret file {path} is empty: put one secret per line")]
    FileEmpty {
        /// The file.
        path: String,
    },
    /// One of the secrets is malformed.
    #[error("secret {index} of {count} in {origin}: {source}")]
    BadSecret {
        /// 1-based position of the secret.
        index: usize,
        /// How many secrets the source holds.
        count: usize,
        /// `$VAR` or the file.
        origin: String,
        /// What is wrong with it.
        source: SecretError,
    },
}

/// The verifier for one signature scheme, built from the secrets of a [`KeySource`].
#[derive(Debug)]
pub enum Keys {
    /// Standard Webhooks v1.
    Standard(Verifier),
    /// Open Connectors.
    Elements(ElementsVerifier),
}

impl Keys {
    /// Standard Webhooks secrets (`whsec_...`), with `tolerance_secs` between the clocks.
    pub fn standard(source: &KeySource, tolerance_secs: u64) -> Result<Keys, KeysError> {
        let secrets = read_secrets(source)?;
        let parsed = parse_each(source, &secrets, Secret::parse)?;
        // Not empty: read_secrets refuses an empty source.
        let verifier = Verifier::new(parsed).map_err(|source_err| bad(source, 1, 1, source_err))?;
        Ok(Keys::Standard(verifier.with_tolerance(tolerance_secs)))
    }

    /// Open Connectors signature keys.
    pub fn elements(source: &KeySource) -> Result<Keys, KeysError> {
        let secrets = read_secrets(source)?;
        let parsed = parse_each(source, &secrets, ElementsKey::new)?;
        let verifier =
            ElementsVerifier::new(parsed).map_err(|source_err| bad(source, 1, 1, source_err))?;
        Ok(Keys::Elements(verifier))
    }
}

fn parse_each<T>(
    source: &KeySource,
    secrets: &[Redacted<String>],
    parse: impl Fn(&str) -> Result<T, SecretError>,
) -> Result<Vec<T>, KeysError> {
    secrets
        .iter()
        .enumerate()
        .map(|(i, s)| parse(s.expose()).map_err(|e| bad(source, i + 1, secrets.len(), e)))
        .collect()
}

fn bad(source: &KeySource, index: usize, count: usize, err: SecretError) -> KeysError {
    KeysError::BadSecret {
        index,
        count,
        origin: source.describe(),
        source: err,
    }
}

/// The secrets of a source, each wrapped so no `Debug` shows it.
fn read_secrets(source: &KeySource) -> Result<Vec<Redacted<String>>, KeysError> {
    match source {
        KeySource::Env(var) => {
            let value =
                std::env::var(var).map_err(|_| KeysError::EnvNotSet { var: var.clone() })?;
            let secrets: Vec<_> = value
                .split_whitespace()
                .map(|s| Redacted::new(s.to_owned()))
                .collect();
            if secrets.is_empty() {
                return Err(KeysError::EnvEmpty { var: var.clone() });
            }
            Ok(secrets)
        }
        KeySource::File(path) => {
            let shown = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|source| KeysError::FileUnreadable {
                    path: shown.clone(),
                    source,
                })?;
            let secrets: Vec<_> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|s| Redacted::new(s.to_owned()))
                .collect();
            if secrets.is_empty() {
                return Err(KeysError::FileEmpty { path: shown });
            }
            Ok(secrets)
        }
    }
}

/// The current Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_holds_one_secret_per_line_and_errors_name_it_without_the_secret() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("secrets.txt");
        let good = crate::webhook::encode_secret(&[7u8; 32]);
        std::fs::write(&path, format!("\n{good}\n\nwhsec_short\n")).expect("write");
        let err = Keys::standard(&KeySource::File(path.clone()), 300).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("secret 2 of 2 in "), "{text}");
        assert!(text.contains("secrets.txt"), "{text}");
        assert!(!text.contains(&good[6..]), "{text}");
        std::fs::write(&path, format!("{good}\n")).expect("write");
        assert!(matches!(
            Keys::standard(&KeySource::File(path.clone()), 300),
            Ok(Keys::Standard(v)) if v.tolerance_secs() == 300
        ));
        std::fs::write(&path, "  \n").expect("write");
        assert!(matches!(
            Keys::elements(&KeySource::File(path)),
            Err(KeysError::FileEmpty { .. })
        ));
        assert!(matches!(
            Keys::elements(&KeySource::File(dir.path().join("absent"))),
            Err(KeysError::FileUnreadable { .. })
        ));
    }

    #[test]
    fn an_unset_variable_is_named() {
        let var = "SFHOOKS_RECEIVER_UNIT_TEST_UNSET_VARIABLE";
        let err = Keys::standard(&KeySource::Env(var.into()), 300).unwrap_err();
        assert!(matches!(&err, KeysError::EnvNotSet { var: v } if v == var));
        assert!(err.to_string().contains(var));
    }

    #[test]
    fn the_clock_is_after_2020() {
        assert!(unix_now() > 1_577_836_800);
    }
}
