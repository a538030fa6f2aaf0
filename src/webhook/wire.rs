//! The wire contract, in one place: header names, algorithm, separators and encodings.
//!
//! The receiver code in this crate and the Apex templates both read these constants (the render
//! context carries them into every template), so what the Apex signs and what the verifier checks
//! cannot drift apart. Sources: Standard Webhooks v1 (github.com/standard-webhooks,
//! spec/standard-webhooks.md) and the Open Connectors "Event Notification Signature" doc.

/// Standard Webhooks: the message id header; stable across retries, never contains '.'.
pub const HEADER_ID: &str = "webhook-id";
/// Standard Webhooks: Unix seconds at this delivery attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks: space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// Standard Webhooks: version tag before the comma of each signature.
pub const SIGNATURE_VERSION: &str = "v1";
/// Standard Webhooks: separator between version tag and base64 signature.
pub const SIGNATURE_VERSION_SEPARATOR: &str = ",";
/// Standard Webhooks: separator between signatures when several secrets are active.
pub const SIGNATURE_LIST_SEPARATOR: &str = " ";
/// Standard Webhooks: separator between id, timestamp and body in the signed content.
pub const SIGNED_CONTENT_SEPARATOR: &str = ".";
/// Standard Webhooks: prefix of a secret; the rest is the base64 of the key bytes.
pub const SECRET_PREFIX: &str = "whsec_";
/// Smallest key accepted, in decoded bytes.
pub const MIN_SECRET_BYTES: usize = 24;
/// Open Connectors: the signature header.
pub const ELEMENTS_HEADER_SIGNATURE: &str = "Elements-Webhook-Signature";
/// Open Connectors: prefix of the header value.
pub const ELEMENTS_SIGNATURE_PREFIX: &str = "sha256=";
/// The algorithm name Apex's `Crypto.generateMac` takes for HMAC-SHA256.
pub const APEX_MAC_ALGORITHM: &str = "hmacSHA256";
/// The `type` of every envelope.
pub const ENVELOPE_TYPE: &str = "sfhooks.events";
/// Default tolerance between the sender's and the receiver's clocks, in seconds.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// All of the above as one serializable value, for the template context.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Wire {
    pub header_id: &'static str,
    pub header_timestamp: &'static str,
    pub header_signature: &'static str,
    pub signature_version: &'static str,
    pub signature_version_separator: &'static str,
    pub signature_list_separator: &'static str,
    pub signed_content_separator: &'static str,
    pub secret_prefix: &'static str,
    pub min_secret_bytes: usize,
    pub elements_header_signature: &'static str,
    pub elements_signature_prefix: &'static str,
    pub apex_mac_algorithm: &'static str,
    pub envelope_type: &'static str,
}

/// The wire constants for the template context.
pub const WIRE: Wire = Wire {
    header_id: HEADER_ID,
    header_timestamp: HEADER_TIMESTAMP,
    header_signature: HEADER_SIGNATURE,
    signature_version: SIGNATURE_VERSION,
    signature_version_separator: SIGNATURE_VERSION_SEPARATOR,
    signature_list_separator: SIGNATURE_LIST_SEPARATOR,
    signed_content_separator: SIGNED_CONTENT_SEPARATOR,
    secret_prefix: SECRET_PREFIX,
    min_secret_bytes: MIN_SECRET_BYTES,
    elements_header_signature: ELEMENTS_HEADER_SIGNATURE,
    elements_signature_prefix: ELEMENTS_SIGNATURE_PREFIX,
    apex_mac_algorithm: APEX_MAC_ALGORITHM,
    envelope_type: ENVELOPE_TYPE,
};
