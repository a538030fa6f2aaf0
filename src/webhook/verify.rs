//! Verification of one delivery: [`Verifier`] (Standard Webhooks v1) and [`ElementsVerifier`]
//! (Open Connectors).
//!
//! The order of the checks is deliberate: header syntax first (400-type errors), then the
//! timestamp (cheap, and a stale delivery is refused without spending an HMAC on it), then one HMAC
//! per secret compared in constant time against every `v1` signature. The clock is a parameter
//! (`now`, Unix seconds) so callers and tests decide what time it is.
//!
//! [`Verifier::begin`] and [`ElementsVerifier::begin`] verify a body fed in pieces (a file read in
//! blocks), with the same checks in the same order and constant memory.
use hmac::Mac as _;
use subtle::{Choice, ConstantTimeEq};

use super::error::{SecretError, VerifyError};
use super::headers::{self, encode_mac, Signatures, MAC_BASE64_LEN};
use super::secret::{ElementsKey, HmacSha256, Secret};
use super::sign::{elements_mac, standard_mac, standard_prefix};
use super::wire;

/// The three Standard Webhooks header values of a delivery, as raw bytes (`None` when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    /// `webhook-id`.
    pub id: Option<&'a [u8]>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a [u8]>,
    /// `webhook-signature`.
    pub signature: Option<&'a [u8]>,
}

impl<'a> Headers<'a> {
    /// Collects the three headers from any header map, through a lookup by (lowercase) name.
    pub fn from_fn(mut get: impl FnMut(&str) -> Option<&'a [u8]>) -> Self {
        Headers {
            id: get(wire::HEADER_ID),
            timestamp: get(wire::HEADER_TIMESTAMP),
            signature: get(wire::HEADER_SIGNATURE),
        }
    }
}

/// What a verified Standard Webhooks delivery told us (borrowing the id from the headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    /// The `webhook-id`: stable across retries, the key for deduplication.
    pub id: &'a str,
    /// The `webhook-timestamp`, Unix seconds.
    pub timestamp: i64,
}

/// Verifies Standard Webhooks v1 deliveries against one or more secrets.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
    tolerance_secs: u64,
}

impl Verifier {
    /// A verifier accepting a signature by any of `secrets` (several during a rotation), with the
    /// default tolerance of [`wire::DEFAULT_TOLERANCE_SECS`].
    pub fn new(secrets: Vec<Secret>) -> Result<Self, SecretError> {
        if secrets.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Verifier {
            secrets,
            tolerance_secs: wire::DEFAULT_TOLERANCE_SECS,
        })
    }

    /// Parses `whsec_` secrets and builds a verifier from them.
    pub fn from_secrets<S: AsRef<str>>(secrets: &[S]) -> Result<Self, SecretError> {
        let parsed = secrets
            .iter()
            .map(|s| Secret::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(parsed)
    }

    /// Sets how far, in seconds, the timestamp may be from `now` in either direction.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance_secs: u64) -> Self {
        self.tolerance_secs = tolerance_secs;
        self
    }

    /// The tolerance in force, in seconds.
    pub fn tolerance_secs(&self) -> u64 {
        self.tolerance_secs
    }

    /// Verifies one delivery: `body` must be the raw bytes received, `now` the current Unix time.
    pub fn verify<'a>(
        &self,
        headers: &Headers<'a>,
        body: &[u8],
        now: i64,
    ) -> Result<Delivery<'a>, VerifyError> {
        let (id, timestamp, signatures) = self.signed_headers(headers, now)?;
        for secret in &self.secrets {
            let expected = standard_mac(secret, id.as_bytes(), timestamp.text.as_bytes(), body);
            if matches_any(&encode_mac(&expected), signatures.v1()) {
                return Ok(Delivery {
                    id,
                    timestamp: timestamp.secs,
                });
            }
        }
        Err(VerifyError::NoMatchingSignature {
            signatures: signatures.len(),
            secrets: self.secrets.len(),
        })
    }

    /// Starts verifying a delivery whose body comes in pieces: checks the headers and the
    /// timestamp now (the same errors as [`Verifier::verify`]), then [`BodyCheck::update`] takes
    /// the body and [`BodyCheck::finish`] compares the signatures.
    pub fn begin<'a>(&self, headers: &Headers<'a>, now: i64) -> Result<BodyCheck<'a>, VerifyError> {
        let (id, timestamp, signatures) = self.signed_headers(headers, now)?;
        let prefix = standard_prefix(id.as_bytes(), timestamp.text.as_bytes());
        let macs = self
            .secrets
            .iter()
            .map(|secret| {
                let mut mac = secret.mac();
                mac.update(&prefix);
                mac
            })
            .collect();
        Ok(BodyCheck {
            macs,
            expected: Expected::Standard {
                signatures,
                delivery: Delivery {
                    id,
                    timestamp: timestamp.secs,
                },
            },
        })
    }

    /// The three Standard Webhooks headers, parsed, with the timestamp inside the tolerance.
    fn signed_headers<'a>(
        &self,
        headers: &Headers<'a>,
        now: i64,
    ) -> Result<(&'a str, headers::Timestamp<'a>, headers::Signatures<'a>), VerifyError> {
        // Every missing header is reported before any malformed one.
        let id_raw = required(headers.id, wire::HEADER_ID)?;
        let ts_raw = required(headers.timestamp, wire::HEADER_TIMESTAMP)?;
        let sig_raw = required(headers.signature, wire::HEADER_SIGNATURE)?;
        let id = headers::parse_id(id_raw)?;
        let timestamp = headers::parse_timestamp(ts_raw)?;
        let signatures = headers::parse_signatures(sig_raw)?;
        self.check_time(timestamp.secs, now)?;
        Ok((id, timestamp, signatures))
    }

    fn check_time(&self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        // i128: `now` is caller-supplied and may be anything; no overflow either way.
        let diff = i128::from(now) - i128::from(timestamp);
        let tolerance = i128::from(self.tolerance_secs);
        let secs = |d: i128| u64::try_from(d).unwrap_or(u64::MAX);
        if diff > tolerance {
            Err(VerifyError::TooOld {
                age_secs: secs(diff),
                tolerance_secs: self.tolerance_secs,
            })
        } else if -diff > tolerance {
            Err(VerifyError::TooNew {
                ahead_secs: secs(-diff),
                tolerance_secs: self.tolerance_secs,
            })
        } else {
            Ok(())
        }
    }
}

/// The value of a required header, or which one is missing.
fn required<'a>(value: Option<&'a [u8]>, header: &'static str) -> Result<&'a [u8], VerifyError> {
    value.ok_or(VerifyError::MissingHeader { header })
}

/// Verifies Open Connectors deliveries (`Elements-Webhook-Signature`).
///
/// The scheme signs the body only: there is no timestamp and no id, so a captured delivery verifies
/// forever (no replay protection) and duplicates cannot be recognised by id. Accepting several keys
/// is a convenience of this crate, not part of the scheme.
#[derive(Debug, Clone)]
pub struct ElementsVerifier {
    keys: Vec<ElementsKey>,
}

impl ElementsVerifier {
    /// A verifier accepting a signature by any of `keys`.
    pub fn new(keys: Vec<ElementsKey>) -> Result<Self, SecretError> {
        if keys.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(ElementsVerifier { keys })
    }

    /// Starts verifying a delivery whose body comes in pieces, from its
    /// `Elements-Webhook-Signature` value; see [`BodyCheck`].
    pub fn begin<'a>(&self, signature: Option<&'a [u8]>) -> Result<BodyCheck<'a>, VerifyError> {
        let raw = signature.ok_or(VerifyError::MissingHeader {
            header: wire::ELEMENTS_HEADER_SIGNATURE,
        })?;
        let signature = headers::parse_elements_signature(raw)?;
        Ok(BodyCheck {
            macs: self.keys.iter().map(ElementsKey::mac).collect(),
            expected: Expected::Elements { signature },
        })
    }

    /// Verifies one delivery from its `Elements-Webhook-Signature` value and raw body.
    pub fn verify(&self, signature: Option<&[u8]>, body: &[u8]) -> Result<(), VerifyError> {
        let raw = signature.ok_or(VerifyError::MissingHeader {
            header: wire::ELEMENTS_HEADER_SIGNATURE,
        })?;
        let given = headers::parse_elements_signature(raw)?;
        for key in &self.keys {
            if matches_any(&encode_mac(&elements_mac(key, body)), [given]) {
                return Ok(());
            }
        }
        Err(VerifyError::NoMatchingSignature {
            signatures: 1,
            secrets: self.keys.len(),
        })
    }
}

/// A verification in progress over a body fed in pieces; see [`Verifier::begin`] and
/// [`ElementsVerifier::begin`]. Holds one keyed HMAC state per secret, whatever the body's size.
#[derive(Clone)]
pub struct BodyCheck<'a> {
    macs: Vec<HmacSha256>,
    expected: Expected<'a>,
}

#[derive(Clone)]
enum Expected<'a> {
    Standard {
        signatures: Signatures<'a>,
        delivery: Delivery<'a>,
    },
    Elements {
        signature: &'a [u8],
    },
}

impl std::fmt::Debug for BodyCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The HMAC states are keyed: never print them.
        f.debug_struct("BodyCheck")
            .field("secrets", &self.macs.len())
            .finish_non_exhaustive()
    }
}

impl<'a> BodyCheck<'a> {
    /// Feeds the next piece of the raw body.
    pub fn update(&mut self, chunk: &[u8]) {
        for mac in &mut self.macs {
            mac.update(chunk);
        }
    }

    /// Compares the signatures over everything fed; the outcome [`Verifier::verify`] or
    /// [`ElementsVerifier::verify`] would give for the whole body. Standard Webhooks deliveries
    /// return their id and timestamp, Open Connectors ones `None`.
    pub fn finish(self) -> Result<Option<Delivery<'a>>, VerifyError> {
        let secrets = self.macs.len();
        let mut found = Choice::from(0);
        let (signatures, delivery) = match &self.expected {
            Expected::Standard {
                signatures,
                delivery,
            } => (signatures.len(), Some(*delivery)),
            Expected::Elements { .. } => (1, None),
        };
        for mac in self.macs {
            let expected = encode_mac(&mac.finalize().into_bytes().into());
            found |= match &self.expected {
                Expected::Standard { signatures, .. } => {
                    Choice::from(u8::from(matches_any(&expected, signatures.v1())))
                }
                Expected::Elements { signature } => ct_eq(&expected, signature),
            };
        }
        if bool::from(found) {
            Ok(delivery)
        } else {
            Err(VerifyError::NoMatchingSignature {
                signatures,
                secrets,
            })
        }
    }
}

/// Whether any candidate equals the expected signature (base64), in constant time: every
/// candidate is compared in full, whatever matched before.
fn matches_any<'a>(
    expected: &[u8; MAC_BASE64_LEN],
    candidates: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    let mut found = Choice::from(0);
    for candidate in candidates {
        found |= ct_eq(expected, candidate);
    }
    found.into()
}

/// Constant-time equality: the time taken does not depend on where the first differing byte is,
/// so an attacker cannot find a valid signature byte by byte. The differences are OR-ed over every
/// byte without an early exit, then the accumulator is tested with `subtle`. (`subtle`'s own slice
/// comparison puts an optimisation barrier on each byte: 75 ns for 44 bytes here, against 5 ns.)
fn ct_eq(a: &[u8], b: &[u8]) -> Choice {
    // Lengths are public (a signature is always 44 characters), so this branch leaks nothing.
    if a.len() != b.len() {
        return Choice::from(0);
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff.ct_eq(&0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::sign::{sign, sign_all, sign_elements};

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &[u8] = b"msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIG: &[u8] = b"v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn spec_headers(sig: &[u8]) -> Headers<'_> {
        Headers {
            id: Some(ID),
            timestamp: Some(b"1649367553"),
            signature: Some(sig),
        }
    }

    #[test]
    fn accepts_the_spec_vector() {
        let v = Verifier::from_secrets(&[SECRET]).unwrap();
        let d = v.verify(&spec_headers(SIG), BODY, TS).unwrap();
        assert_eq!(d.id, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk");
        assert_eq!(d.timestamp, TS);
    }

    #[test]
    fn refuses_a_re_serialised_body() {
        // The classic receiver bug: parsing the JSON and serialising it again changes the bytes.
        let v = Verifier::from_secrets(&[SECRET]).unwrap();
        let pretty = br#"{"email": "test@example.com", "username": "test_user"}"#;
        assert!(matches!(
            v.verify(&spec_headers(SIG), pretty, TS),
            Err(VerifyError::NoMatchingSignature {
                signatures: 1,
                secrets: 1
            })
        ));
    }

    #[test]
    fn tolerance_is_inclusive_in_both_directions() {
        let v = Verifier::from_secrets(&[SECRET])
            .unwrap()
            .with_tolerance(300);
        assert!(v.verify(&spec_headers(SIG), BODY, TS + 300).is_ok());
        assert!(v.verify(&spec_headers(SIG), BODY, TS - 300).is_ok());
        assert_eq!(
            v.verify(&spec_headers(SIG), BODY, TS + 301),
            Err(VerifyError::TooOld {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            v.verify(&spec_headers(SIG), BODY, TS - 302),
            Err(VerifyError::TooNew {
                ahead_secs: 302,
                tolerance_secs: 300
            })
        );
        // Extreme clocks do not overflow.
        assert!(matches!(
            v.verify(&spec_headers(SIG), BODY, i64::MAX),
            Err(VerifyError::TooOld { .. })
        ));
        assert!(matches!(
            v.verify(&spec_headers(SIG), BODY, i64::MIN),
            Err(VerifyError::TooNew { .. })
        ));
    }

    #[test]
    fn stale_is_reported_before_a_bad_signature() {
        let v = Verifier::from_secrets(&[SECRET]).unwrap();
        let wrong = b"v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert!(matches!(
            v.verify(&spec_headers(wrong), BODY, TS + 10_000),
            Err(VerifyError::TooOld { .. })
        ));
        assert!(matches!(
            v.verify(&spec_headers(wrong), BODY, TS),
            Err(VerifyError::NoMatchingSignature { .. })
        ));
    }

    #[test]
    fn rotation_accepts_any_secret_and_any_listed_signature() {
        let old = Secret::from_key(&[1u8; 32]).unwrap();
        let new = Secret::from_key(&[2u8; 32]).unwrap();
        let other = Secret::from_key(&[3u8; 32]).unwrap();
        let both = sign_all(&[new.clone(), old.clone()], "msg_1", 100, b"{}");
        let only_old = sign(&old, "msg_1", 100, b"{}");
        fn h(sig: &str) -> Headers<'_> {
            Headers {
                id: Some(b"msg_1"),
                timestamp: Some(b"100"),
                signature: Some(sig.as_bytes()),
            }
        }
        // Receiver knows only the new secret; sender signs with both.
        let v_new = Verifier::new(vec![new.clone()]).unwrap();
        assert!(v_new.verify(&h(&both), b"{}", 100).is_ok());
        // Receiver knows both; sender still signs with the old one only.
        let v_both = Verifier::new(vec![new, old]).unwrap();
        assert!(v_both.verify(&h(&only_old), b"{}", 100).is_ok());
        // A secret nobody signed with.
        let v_other = Verifier::new(vec![other]).unwrap();
        assert_eq!(
            v_other.verify(&h(&both), b"{}", 100),
            Err(VerifyError::NoMatchingSignature {
                signatures: 2,
                secrets: 1
            })
        );
    }

    #[test]
    fn missing_headers_are_named() {
        let v = Verifier::from_secrets(&[SECRET]).unwrap();
        let mut h = spec_headers(SIG);
        h.signature = None;
        assert_eq!(
            v.verify(&h, BODY, TS),
            Err(VerifyError::MissingHeader {
                header: "webhook-signature"
            })
        );
        h.id = None;
        assert_eq!(
            v.verify(&h, BODY, TS),
            Err(VerifyError::MissingHeader {
                header: "webhook-id"
            })
        );
    }

    #[test]
    fn headers_from_fn_looks_up_the_wire_names() {
        let h = Headers::from_fn(|name| match name {
            "webhook-id" => Some(&b"a"[..]),
            "webhook-timestamp" => Some(&b"1"[..]),
            _ => None,
        });
        assert_eq!(h.id, Some(&b"a"[..]));
        assert_eq!(h.timestamp, Some(&b"1"[..]));
        assert_eq!(h.signature, None);
    }

    #[test]
    fn no_secrets_is_an_error() {
        assert_eq!(Verifier::new(vec![]).unwrap_err(), SecretError::Empty);
        assert_eq!(
            ElementsVerifier::new(vec![]).unwrap_err(),
            SecretError::Empty
        );
    }

    #[test]
    fn elements_doc_vector_and_tampering() {
        let v = ElementsVerifier::new(vec![ElementsKey::new("MySecretEventSignatureKey").unwrap()])
            .unwrap();
        let sig = b"sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=";
        assert_eq!(
            v.verify(Some(sig), b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>"),
            Ok(())
        );
        assert!(matches!(
            v.verify(Some(sig), b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY> "),
            Err(VerifyError::NoMatchingSignature { .. })
        ));
        assert_eq!(
            v.verify(None, b""),
            Err(VerifyError::MissingHeader {
                header: "Elements-Webhook-Signature"
            })
        );
        let key = ElementsKey::new("k").unwrap();
        let v = ElementsVerifier::new(vec![key.clone()]).unwrap();
        assert!(v
            .verify(Some(sign_elements(&key, b"x").as_bytes()), b"x")
            .is_ok());
    }

    #[test]
    fn a_body_fed_in_pieces_verifies_like_the_whole_body() {
        let v = Verifier::from_secrets(&[SECRET]).unwrap();
        for split in [0, 1, 17, BODY.len()] {
            let mut check = v.begin(&spec_headers(SIG), TS).unwrap();
            check.update(&BODY[..split]);
            check.update(&BODY[split..]);
            let delivery = check.finish().unwrap().unwrap();
            assert_eq!(delivery.id, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk");
            assert_eq!(delivery.timestamp, TS);
        }
        let mut check = v.begin(&spec_headers(SIG), TS).unwrap();
        check.update(&BODY[..BODY.len() - 1]);
        assert_eq!(
            check.finish(),
            Err(VerifyError::NoMatchingSignature {
                signatures: 1,
                secrets: 1
            })
        );
        // Header and time errors come before any byte of the body.
        assert!(matches!(
            v.begin(&spec_headers(SIG), TS + 10_000),
            Err(VerifyError::TooOld { .. })
        ));
        let mut h = spec_headers(SIG);
        h.id = None;
        assert!(matches!(
            v.begin(&h, TS),
            Err(VerifyError::MissingHeader {
                header: "webhook-id"
            })
        ));
        // Rotation: the second of two secrets matches.
        let other = Secret::from_key(&[3u8; 32]).unwrap();
        let both = Verifier::new(vec![other, Secret::parse(SECRET).unwrap()]).unwrap();
        let mut check = both.begin(&spec_headers(SIG), TS).unwrap();
        check.update(BODY);
        assert!(check.finish().is_ok());
        assert!(format!(
            "{check:?}",
            check = both.begin(&spec_headers(SIG), TS).unwrap()
        )
        .contains("secrets: 2"));
    }

    #[test]
    fn an_elements_body_fed_in_pieces_verifies_like_the_whole_body() {
        let key = ElementsKey::new("MySecretEventSignatureKey").unwrap();
        let v = ElementsVerifier::new(vec![key]).unwrap();
        let sig = b"sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=";
        let body = b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>";
        let mut check = v.begin(Some(sig)).unwrap();
        check.update(&body[..5]);
        check.update(&body[5..]);
        assert_eq!(check.finish(), Ok(None));
        let mut check = v.begin(Some(sig)).unwrap();
        check.update(body);
        check.update(b" ");
        assert!(check.finish().is_err());
        assert!(matches!(
            v.begin(None),
            Err(VerifyError::MissingHeader { .. })
        ));
    }

    #[test]
    fn ct_eq_compares_every_byte_and_the_length() {
        assert!(bool::from(ct_eq(b"abc", b"abc")));
        assert!(!bool::from(ct_eq(b"abc", b"abd")));
        assert!(!bool::from(ct_eq(b"abc", b"xbc")));
        assert!(!bool::from(ct_eq(b"abc", b"ab")));
        assert!(bool::from(ct_eq(b"", b"")));
        let expected = [b'a'; MAC_BASE64_LEN];
        let other = [b'b'; MAC_BASE64_LEN];
        assert!(matches_any(&expected, [&other[..], &expected[..]]));
        assert!(!matches_any(&expected, [&other[..]]));
        assert!(!matches_any(&expected, []));
    }
}
