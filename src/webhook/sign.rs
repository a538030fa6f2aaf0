//! Signing: what a sender puts in the signature headers.
//!
//! The verifier computes its expected MAC with the same functions ([`standard_mac`],
//! [`elements_mac`]), so signing and verifying cannot disagree about the signed content.
use hmac::Mac;

use super::headers::{encode_mac, MAC_LEN};
use super::secret::{ElementsKey, Secret};
use super::wire;

/// HMAC-SHA256 over `id.timestamp.body`; the body is never copied.
pub(crate) fn standard_mac(
    secret: &Secret,
    id: &[u8],
    timestamp: &[u8],
    body: &[u8],
) -> [u8; MAC_LEN] {
    let separator = wire::SIGNED_CONTENT_SEPARATOR.as_bytes();
    let mut mac = secret.mac();
    // `id.timestamp.` is assembled on the stack and fed in one update: each update has a fixed
    // cost that is a tenth of the work at a 64-byte body. Verified ids (at most 256 bytes) and
    // timestamps (at most 12 digits) always fit; `sign` accepts any id, hence the fallback.
    let mut prefix = [0u8; 320];
    let len = id.len() + timestamp.len() + 2 * separator.len();
    if let Some(buf) = prefix.get_mut(..len) {
        let (id_part, rest) = buf.split_at_mut(id.len());
        id_part.copy_from_slice(id);
        let (sep1, rest) = rest.split_at_mut(separator.len());
        sep1.copy_from_slice(separator);
        let (ts_part, sep2) = rest.split_at_mut(timestamp.len());
        ts_part.copy_from_slice(timestamp);
        sep2.copy_from_slice(separator);
        mac.update(buf);
    } else {
        mac.update(id);
        mac.update(separator);
        mac.update(timestamp);
        mac.update(separator);
    }
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// `id.timestamp.`, the part of the signed content before the body.
pub(crate) fn standard_prefix(id: &[u8], timestamp: &[u8]) -> Vec<u8> {
    let separator = wire::SIGNED_CONTENT_SEPARATOR.as_bytes();
    [id, separator, timestamp, separator].concat()
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
    let mac = standard_mac(
        secret,
        id.as_bytes(),
        timestamp.to_string().as_bytes(),
        body,
    );
    format!(
        "{}{}{}",
        wire::SIGNATURE_VERSION,
        wire::SIGNATURE_VERSION_SEPARATOR,
        String::from_utf8_lossy(&encode_mac(&mac))
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
        String::from_utf8_lossy(&encode_mac(&elements_mac(key, body)))
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
        assert_eq!(
            both,
            format!(
                "{} {}",
                sign(&a, "msg_1", 5, b"x"),
                sign(&b, "msg_1", 5, b"x")
            )
        );
        assert_ne!(sign(&a, "msg_1", 5, b"x"), sign(&b, "msg_1", 5, b"x"));
    }

    #[test]
    fn long_ids_take_the_piecewise_path_with_the_same_result() {
        use hmac::Mac as _;
        let secret = Secret::from_key(&[5u8; 32]).unwrap();
        for id_len in [1, 200, 308, 309, 400] {
            let id = "i".repeat(id_len);
            let mut reference =
                <super::super::secret::HmacSha256 as hmac::Mac>::new_from_slice(&[5u8; 32])
                    .unwrap();
            reference.update(format!("{id}.1234567890.body").as_bytes());
            let expected: [u8; MAC_LEN] = reference.finalize().into_bytes().into();
            assert_eq!(
                standard_mac(&secret, id.as_bytes(), b"1234567890", b"body"),
                expected,
                "id of {id_len}"
            );
        }
    }
}
