//! Salesforce org ids, compared the way Salesforce defines them, for receivers that accept
//! deliveries from known orgs only (`envelope.data.orgId`).
//!
//! An id has two spellings (SOAP API Developer Guide, "Field Types", ID: "15-character
//! case-sensitive" and "18-character case-insensitive" versions; Apex `Id` and the APIs return
//! the 18-character one, formulas' `CASESAFEID()` builds it): the first 15 characters are the
//! case-sensitive id, the last 3 encode, for each block of 5, which of its characters are upper-case
//! letters (bit i set for an upper-case character i, then `A..Z0..5`), so that the 18-character
//! form survives case-insensitive systems. Two ids name the same org exactly when their 15-character
//! forms are equal, with case; an 18-character id whose suffix does not match its first 15 characters
//! was mistyped, or changed case in transit.
use std::fmt;
use std::str::FromStr;

/// The alphabet of the 18-character suffix.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
/// Key prefix of an Organization record id.
const ORG_KEY_PREFIX: &str = "00D";

/// A Salesforce org id, kept in its case-sensitive 15-character form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgId([u8; 15]);

/// Why a value is not an org id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrgIdError {
    /// Not 15 or 18 ASCII letters and digits.
    #[error("org id {value:?} is not 15 or 18 letters and digits: copy it from Setup > Company Information (Salesforce.com Organization ID)")]
    Shape {
        /// The value given.
        value: String,
    },
    /// Not an Organization id.
    #[error("{value:?} is not an org id: org ids start with 00D")]
    NotAnOrg {
        /// The value given.
        value: String,
    },
    /// The 18-character suffix does not match the first 15 characters.
    #[error("org id {value:?} has a wrong 18-character suffix (expected {expected}): check the case of its first 15 characters")]
    Checksum {
        /// The value given.
        value: String,
        /// The suffix its first 15 characters give.
        expected: String,
    },
}

impl OrgId {
    /// Parses a 15- or 18-character org id (`00D...`), checking the suffix of the long form.
    pub fn parse(value: &str) -> Result<OrgId, OrgIdError> {
        let bytes = value.as_bytes();
        if !matches!(bytes.len(), 15 | 18) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return Err(OrgIdError::Shape {
                value: value.to_owned(),
            });
        }
        if !value.starts_with(ORG_KEY_PREFIX) {
            return Err(OrgIdError::NotAnOrg {
                value: value.to_owned(),
            });
        }
        let mut short = [0u8; 15];
        short.copy_from_slice(&bytes[..15]);
        if bytes.len() == 18 {
            let expected = suffix(&short);
            // The suffix itself is case-insensitive: that is what it is for.
            if !bytes[15..].eq_ignore_ascii_case(&expected) {
                return Err(OrgIdError::Checksum {
                    value: value.to_owned(),
                    expected: String::from_utf8_lossy(&expected).into_owned(),
                });
            }
        }
        Ok(OrgId(short))
    }

    /// True when `value` (an envelope's `orgId`, 15 or 18 characters) names this org. A value that
    /// is no valid org id matches nothing.
    pub fn matches(&self, value: &str) -> bool {
        OrgId::parse(value).is_ok_and(|other| other == *self)
    }

    /// The 15-character, case-sensitive form.
    pub fn as_15(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 18-character form Salesforce's APIs return.
    pub fn to_18(&self) -> String {
        let suffix = suffix(&self.0);
        format!("{}{}", self.as_15(), String::from_utf8_lossy(&suffix))
    }
}

impl FromStr for OrgId {
    type Err = OrgIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrgId::parse(s)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_18())
    }
}

/// The 3-character suffix of a 15-character id.
fn suffix(short: &[u8; 15]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (block, chars) in short.chunks(5).enumerate() {
        let bits = chars
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        out[block] = SUFFIX_ALPHABET[bits];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_matches_known_ids() {
        // Vectors from public 15 -> 18 converters (the suffix is documented, not secret).
        assert_eq!(suffix(b"a0BA0000000L2ZC"), *b"MA0");
        assert_eq!(suffix(b"AaaAABbbBBCccCC"), *b"ZZZ");
        assert_eq!(suffix(b"ABCDEFGHIJKLMNO"), *b"555");
        assert_eq!(suffix(b"AAaAAbbBBBCcCCC"), *b"123");
        assert_eq!(suffix(b"00D000000000001"), *b"EAA");
        assert_eq!(suffix(b"00D5g000004ABCD"), *b"EA4");
    }

    #[test]
    fn fifteen_and_eighteen_characters_name_the_same_org() {
        let short = OrgId::parse("00D5g000004ABCD").unwrap();
        let long = OrgId::parse(&short.to_18()).unwrap();
        assert_eq!(short, long);
        assert_eq!(short.to_18(), "00D5g000004ABCDEA4");
        assert!(short.matches("00D5g000004ABCDEA4"));
        assert!(
            short.matches("00D5g000004ABCDea4"),
            "the suffix is case-insensitive"
        );
        assert!(short.matches("00D5g000004ABCD"));
        assert_eq!(short.to_string(), "00D5g000004ABCDEA4");
        assert_eq!(long.as_15(), "00D5g000004ABCD");
    }

    #[test]
    fn ids_differing_only_in_case_are_different_orgs() {
        let org = OrgId::parse("00D5g000004ABCD").unwrap();
        assert!(!org.matches("00D5g000004abcd"));
        assert!(
            !org.matches("00D5G000004ABCDEA4"),
            "wrong suffix for this case"
        );
        assert!(!org.matches("00D5g000004ABCDEAA"), "wrong suffix");
        assert!(!org.matches("00D5g000004ABCE"));
        assert!(!org.matches(""));
        assert!(!org.matches("not an id at all"));
    }

    #[test]
    fn malformed_ids_are_refused_with_the_reason() {
        assert!(matches!(
            OrgId::parse("00D5g000004ABC"),
            Err(OrgIdError::Shape { .. })
        ));
        assert!(matches!(
            OrgId::parse("00D5g000004AB-D"),
            Err(OrgIdError::Shape { .. })
        ));
        assert!(matches!(
            OrgId::parse("0035g000004ABCD"),
            Err(OrgIdError::NotAnOrg { .. })
        ));
        let err = OrgId::parse("00D5g000004ABCDAAA").unwrap_err();
        assert_eq!(
            err,
            OrgIdError::Checksum {
                value: "00D5g000004ABCDAAA".into(),
                expected: "EA4".into()
            }
        );
        assert!(err.to_string().contains("expected EA4"), "{err}");
    }
}
