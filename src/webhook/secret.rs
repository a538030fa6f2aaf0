//! Signing keys: Standard Webhooks `whsec_` secrets and Open Connectors signature keys.
//!
//! Each key is turned into a pre-keyed HMAC-SHA256 state once, when it is parsed; signing or
//! verifying a message clones that state instead of re-deriving the inner and outer pads, which
//! saves two SHA-256 compressions per message (a third of the work for a 64-byte body). Neither
//! type prints its key: `Debug` shows `[redacted]`.
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::SecretError;
use super::wire;

/// HMAC-SHA256, the one algorithm both schemes use.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Secrets are printed padded, but people paste them with or without the trailing `=`.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// The one rule for a secret's text, wherever it comes from (a file line, a variable, a JSON key,
/// a library caller): surrounding whitespace (spaces, tabs, line breaks) is not part of a secret
/// and is removed; whitespace inside is kept. [`Secret::parse`] and [`ElementsKey::new`] apply it,
/// and so does `sfhooks package` before it writes the secret into the settings record, so the
/// Apex and every receiver sign with the same bytes.
pub fn secret_text(raw: &str) -> &str {
    raw.trim()
}

/// A Standard Webhooks signing secret (`whsec_` + base64 of at least 24 bytes), pre-keyed.
#[derive(Clone)]
pub struct Secret {
    mac: HmacSha256,
}

impl Secret {
    /// Parses `whsec_<base64>` (see [`secret_text`] for surrounding whitespace); refuses keys
    /// shorter than [`wire::MIN_SECRET_BYTES`].
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = secret_text(text)
            .strip_prefix(wire::SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = SECRET_BASE64
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        Self::from_key(&key)
    }

    /// Uses raw key bytes (the decoded part of a `whsec_` secret).
    pub fn from_key(key: &[u8]) -> Result<Self, SecretError> {
        if key.len() < wire::MIN_SECRET_BYTES {
            return Err(SecretError::TooShort {
                len: key.len(),
                min: wire::MIN_SECRET_BYTES,
            });
        }
        Ok(Secret { mac: keyed(key) })
    }

    /// A fresh copy of the keyed HMAC state, ready for one message.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Secret::parse(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// An Open Connectors signature key: HMAC-SHA256 keyed with its UTF-8 bytes, pre-keyed.
#[derive(Clone)]
pub struct ElementsKey {
    mac: HmacSha256,
}

impl ElementsKey {
    /// Uses the key (`event.notification.signature.key`) without surrounding whitespace (see
    /// [`secret_text`]); refuses a key that is empty then.
    pub fn new(key: &str) -> Result<Self, SecretError> {
        let key = secret_text(key);
        if key.is_empty() {
            return Err(SecretError::EmptyElementsKey);
        }
        Ok(ElementsKey {
            mac: keyed(key.as_bytes()),
        })
    }

    /// A fresh copy of the keyed HMAC state, ready for one message.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl fmt::Debug for ElementsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ElementsKey([redacted])")
    }
}

/// Formats key bytes as a secret: `whsec_` + padded standard base64.
pub fn encode_secret(key: &[u8]) -> String {
    format!("{}{}", wire::SECRET_PREFIX, STANDARD.encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_secret() {
        assert!(Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_ok());
    }

    #[test]
    fn refuses_missing_prefix_bad_base64_and_short_keys() {
        assert_eq!(
            Secret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            Secret::parse("whsec_!!!!").unwrap_err(),
            SecretError::NotBase64
        );
        // 23 bytes: one short of the minimum.
        let short = encode_secret(&[7u8; 23]);
        assert_eq!(
            Secret::parse(&short).unwrap_err(),
            SecretError::TooShort { len: 23, min: 24 }
        );
        assert!(Secret::parse(&encode_secret(&[7u8; 24])).is_ok());
        assert_eq!(
            Secret::parse("whsec_").unwrap_err(),
            SecretError::TooShort { len: 0, min: 24 }
        );
    }

    #[test]
    fn accepts_base64_with_or_without_padding() {
        let padded = encode_secret(&[1u8; 32]);
        assert!(padded.ends_with('='));
        assert!(Secret::parse(&padded).is_ok());
        assert!(Secret::parse(padded.trim_end_matches('=')).is_ok());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        let k = ElementsKey::new("MySecretEventSignatureKey").unwrap();
        assert_eq!(format!("{k:?}"), "ElementsKey([redacted])");
    }

    #[test]
    fn surrounding_whitespace_is_not_part_of_a_secret() {
        let body = b"{}";
        let spec = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let padded = Secret::parse(&format!(" {spec}\t\r\n")).unwrap();
        let plain = Secret::parse(spec).unwrap();
        assert_eq!(
            crate::webhook::sign(&padded, "msg_1", 1, body),
            crate::webhook::sign(&plain, "msg_1", 1, body)
        );
        let padded = ElementsKey::new("  key with space ").unwrap();
        let plain = ElementsKey::new("key with space").unwrap();
        assert_eq!(
            crate::webhook::sign_elements(&padded, body),
            crate::webhook::sign_elements(&plain, body)
        );
        assert_eq!(
            ElementsKey::new(" \t ").unwrap_err(),
            SecretError::EmptyElementsKey
        );
    }

    #[test]
    fn elements_key_must_not_be_empty() {
        assert_eq!(
            ElementsKey::new("").unwrap_err(),
            SecretError::EmptyElementsKey
        );
    }
}
