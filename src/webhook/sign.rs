//! Signing: what a sender puts in the signature headers.
//!
//! The verifier computes its expected MAC with the same functions ([`standard_mac`],
//! [`elements_mac`]), so signing and verifying cannot disagree about the signed content.
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::Mac;

use super::headers::MAC_LEN;
use super::secret::{ElementsKey, Secret};
use super::wire;

/// HMAC-SHA256 over `id.timestamp.body`, fed in pieces so the body is never copied.
pub(crate) fn standard_mac(secret: &Secret, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = secret.mac();
    mac.update(id);
    mac.update(wire::SIGNED_CONTENT_SEPARATOR.as_bytes());
    mac.update(timestamp);
    mac.update(wire::SIGNED_CONTENT_SEPARATOR.as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 over the body alone (Open Connectors).
pub(crate) fn elements_mac(key: &ElementsKey, body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = key.mac();
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `webhook-signature` value for one secret: `v1,<base64>`.
///
/// `id` is signed as given; [`crate::webhook::Verifier`] only accepts ids of 1 to 256 visible ASCII
/// characters, so a receiver-testing sender should stay within that.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = standard_mac(secret, id.as_bytes(), timestamp.to_string().as_bytes(), body);
    format!(
        "{}{}{}",
        wire::SIGNATURE_VERSION,
        wire::SIGNATURE_VERSION_SEPARATOR,
        STANDARD.encode(mac)
    )
}

/// The `webhook-signature` value while several secrets are active (rotation): one `v1,<base64>`
/// per secret, space-separated, in the order given.
pub fn sign_all(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(wire::SIGNATURE_LIST_SEPARATOR)
}

/// The `Elements-Webhook-Signature` value: `sha256=<base64 HMAC-SHA256(body)>`.
///
/// The scheme signs the body only: no id, no timestamp, so a captured delivery can be replayed
/// forever. Prefer the standard scheme.
pub fn sign_elements(key: &ElementsKey, body: &[u8]) -> String {
    format!(
        "{}{}",
        wire::ELEMENTS_SIGNATURE_PREFIX,
        STANDARD.encode(elements_mac(key, body))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_spec_vector() {
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            sign(
                &secret,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn open_connectors_doc_vector() {
        let key = ElementsKey::new("MySecretEventSignatureKey").unwrap();
        assert_eq!(
            sign_elements(&key, b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>"),
            "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ="
        );
    }

    #[test]
    fn sign_all_joins_one_signature_per_secret() {
        let a = Secret::from_key(&[1u8; 32]).unwrap();
        let b = Secret::from_key(&[2u8; 32]).unwrap();
        let both = sign_all(&[a.clone(), b.clone()], "msg_1", 5, b"x");
        assert_eq!(both, format!("{} {}", sign(&a, "msg_1", 5, b"x"), sign(&b, "msg_1", 5, b"x")));
        assert_ne!(sign(&a, "msg_1", 5, b"x"), sign(&b, "msg_1", 5, b"x"));
    }
}
