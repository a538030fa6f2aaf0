//! Typed errors of the receiver library: why a secret was refused, why a delivery was refused.
//!
//! Messages are lowercase, name the header or value at fault and say what to check, because a
//! receiver's operator usually sees nothing but this line. They never contain a secret.

/// Why a secret or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No secret at all was given.
    #[error("no secret given: pass at least one whsec_ secret")]
    Empty,
    /// A Standard Webhooks secret without its `whsec_` prefix.
    #[error("secret does not start with whsec_: use the whole value `sfhooks secret` printed, prefix included")]
    MissingPrefix,
    /// The part after `whsec_` is not base64.
    #[error("secret is not valid base64 after whsec_: check it was copied whole, without quotes or spaces")]
    NotBase64,
    /// The decoded key is too short to be safe.
    #[error("secret key is {len} bytes, at least {min} are required: generate a new one with `sfhooks secret`")]
    TooShort {
        /// Decoded length.
        len: usize,
        /// Smallest accepted length ([`crate::webhook::wire::MIN_SECRET_BYTES`]).
        min: usize,
    },
    /// An Open Connectors signature key that is empty.
    #[error(
        "elements signature key is empty: use the instance's event.notification.signature.key"
    )]
    EmptyElementsKey,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing header {header}: the sender must set it on every delivery")]
    MissingHeader {
        /// The header's name.
        header: &'static str,
    },
    /// A header is present but its value cannot be parsed.
    #[error("malformed header {header}: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it and what it should look like.
        reason: &'static str,
    },
    /// The timestamp header is not Unix seconds.
    #[error("bad timestamp in {header}: {reason}", header = crate::webhook::wire::HEADER_TIMESTAMP)]
    BadTimestamp {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is further in the past than the tolerance.
    #[error("timestamp too old by {age_secs} s (tolerance {tolerance_secs} s): check the sender's and this machine's clocks; a replayed delivery also looks like this")]
    TooOld {
        /// How many seconds before `now` the timestamp is.
        age_secs: u64,
        /// The tolerance in force.
        tolerance_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp too new by {ahead_secs} s (tolerance {tolerance_secs} s): check the sender's and this machine's clocks")]
    TooNew {
        /// How many seconds after `now` the timestamp is.
        ahead_secs: u64,
        /// The tolerance in force.
        tolerance_secs: u64,
    },
    /// No signature matches any secret.
    #[error("no matching signature: none of the {signatures} signature(s) matches any of the {secrets} secret(s); check the secret, and that the body checked is the raw bytes received, not re-serialised JSON")]
    NoMatchingSignature {
        /// How many signatures of a known version the header carried.
        signatures: usize,
        /// How many secrets were tried.
        secrets: usize,
    },
    /// A secret could not be used.
    #[error("bad secret: {0}")]
    BadSecret(#[from] SecretError),
}

impl VerifyError {
    /// True when the delivery is well-formed but not authentic or not fresh (bad signature, stale or
    /// future timestamp): HTTP 401 rather than 400.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            VerifyError::TooOld { .. }
                | VerifyError::TooNew { .. }
                | VerifyError::NoMatchingSignature { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_the_header() {
        let e = VerifyError::MissingHeader {
            header: "webhook-id",
        };
        assert_eq!(
            e.to_string(),
            "missing header webhook-id: the sender must set it on every delivery"
        );
        let e = VerifyError::BadTimestamp { reason: "empty" };
        assert_eq!(e.to_string(), "bad timestamp in webhook-timestamp: empty");
        let e = VerifyError::TooOld {
            age_secs: 301,
            tolerance_secs: 300,
        };
        assert!(e
            .to_string()
            .starts_with("timestamp too old by 301 s (tolerance 300 s)"));
    }

    #[test]
    fn only_signature_and_time_failures_are_authentication_failures() {
        assert!(VerifyError::NoMatchingSignature {
            signatures: 1,
            secrets: 1
        }
        .is_authentication_failure());
        assert!(VerifyError::TooNew {
            ahead_secs: 1,
            tolerance_secs: 0
        }
        .is_authentication_failure());
        assert!(!VerifyError::MissingHeader { header: "x" }.is_authentication_failure());
        assert!(!VerifyError::BadSecret(SecretError::Empty).is_authentication_failure());
    }
}
