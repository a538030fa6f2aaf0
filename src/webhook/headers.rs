//! Parsers of the signature header values, one per header, on raw bytes.
//!
//! They take bytes rather than `&str` because HTTP header values are not guaranteed UTF-8, and a
//! receiver must answer "malformed" (not panic, not guess) whatever arrives. Each is strict about
//! the form the Apex sends and says what was expected.
use base64::Engine as _;

use super::error::VerifyError;
use super::wire;

/// Length of an HMAC-SHA256 output.
pub const MAC_LEN: usize = 32;
/// Length of the padded standard base64 of an HMAC-SHA256 output.
const MAC_BASE64_LEN: usize = 44;
/// Longest `webhook-id` accepted: ids are kept in memory for replay detection, so bound them.
pub const MAX_ID_LEN: usize = 256;
/// Longest timestamp accepted, in digits: Unix seconds have 10 digits until the year 2286; 13
/// digits is the classic milliseconds mistake, reported as such.
const MAX_TIMESTAMP_DIGITS: usize = 12;

/// A parsed `webhook-timestamp`: the text as sent (it is what was signed) and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp<'a> {
    /// The header text, exactly as received.
    pub text: &'a str,
    /// Unix seconds.
    pub secs: i64,
}

/// Parses a `webhook-id`: 1 to [`MAX_ID_LEN`] visible ASCII characters.
pub fn parse_id(value: &[u8]) -> Result<&str, VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: wire::HEADER_ID,
        reason,
    };
    if value.is_empty() {
        return Err(malformed("empty; expected the message id, like msg_2Lh9..."));
    }
    if value.len() > MAX_ID_LEN {
        return Err(malformed("longer than 256 bytes"));
    }
    if !value.iter().all(|b| b.is_ascii_graphic()) {
        return Err(malformed(
            "contains a byte that is not visible ASCII (space, control or non-ASCII)",
        ));
    }
    // Visible ASCII is valid UTF-8, so this cannot fail; map rather than unwrap all the same.
    std::str::from_utf8(value).map_err(|_| malformed("not ASCII"))
}

/// Parses a `webhook-timestamp`: Unix seconds as ASCII digits, nothing else.
pub fn parse_timestamp(value: &[u8]) -> Result<Timestamp<'_>, VerifyError> {
    let bad = |reason| VerifyError::BadTimestamp { reason };
    if value.is_empty() {
        return Err(bad("empty; expected Unix seconds like 1649367553"));
    }
    if !value.iter().all(u8::is_ascii_digit) {
        return Err(bad(
            "not a whole number of Unix seconds (digits only, like 1649367553)",
        ));
    }
    if value.len() == 13 {
        return Err(bad("13 digits looks like milliseconds; Standard Webhooks uses seconds"));
    }
    if value.len() > MAX_TIMESTAMP_DIGITS {
        return Err(bad("too many digits for Unix seconds"));
    }
    let text = std::str::from_utf8(value).map_err(|_| bad("not ASCII"))?;
    let secs = text
        .parse::<i64>()
        .map_err(|_| bad("not a whole number of Unix seconds"))?;
    Ok(Timestamp { text, secs })
}

/// Parses a `webhook-signature`: space-separated `version,base64` entries. Returns the decoded
/// `v1` MACs; entries of other versions (such as `v1a`, asymmetric) are skipped, as the spec says.
pub fn parse_signatures(value: &[u8]) -> Result<Vec<[u8; MAC_LEN]>, VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: wire::HEADER_SIGNATURE,
        reason,
    };
    let text = std::str::from_utf8(value)
        .ok()
        .filter(|t| t.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        .ok_or_else(|| malformed("not printable ASCII"))?;
    let mut macs = Vec::new();
    for entry in text
        .split(wire::SIGNATURE_LIST_SEPARATOR)
        .filter(|e| !e.is_empty())
    {
        let (version, encoded) = entry
            .split_once(wire::SIGNATURE_VERSION_SEPARATOR)
            .ok_or_else(|| {
                malformed("each signature must be version,base64 like v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=")
            })?;
        if version != wire::SIGNATURE_VERSION {
            continue;
        }
        macs.push(decode_mac(encoded).ok_or_else(|| {
            malformed("a v1 signature is not the padded base64 of 32 bytes (44 characters)")
        })?);
    }
    if macs.is_empty() {
        return Err(malformed(
            "no v1 signature; expected space-separated v1,<base64> entries",
        ));
    }
    Ok(macs)
}

/// Parses an `Elements-Webhook-Signature`: `sha256=` and the base64 of 32 bytes.
pub fn parse_elements_signature(value: &[u8]) -> Result<[u8; MAC_LEN], VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: wire::ELEMENTS_HEADER_SIGNATURE,
        reason,
    };
    let encoded = value
        .strip_prefix(wire::ELEMENTS_SIGNATURE_PREFIX.as_bytes())
        .ok_or_else(|| malformed("does not start with sha256="))?;
    decode_mac(encoded).ok_or_else(|| {
        malformed("not sha256= and the padded base64 of 32 bytes (44 characters)")
    })
}

/// Decodes the canonical padded base64 of a 32-byte MAC, without allocating.
fn decode_mac(encoded: impl AsRef<[u8]>) -> Option<[u8; MAC_LEN]> {
    let encoded = encoded.as_ref();
    if encoded.len() != MAC_BASE64_LEN {
        return None;
    }
    // One spare byte: the decoder's size estimate for 44 characters is 33.
    let mut buf = [0u8; MAC_LEN + 1];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(encoded, &mut buf)
        .ok()?;
    if n != MAC_LEN {
        return None;
    }
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(&buf[..MAC_LEN]);
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn reason(e: VerifyError) -> &'static str {
        match e {
            VerifyError::MalformedHeader { reason, .. } | VerifyError::BadTimestamp { reason } => {
                reason
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn id_accepts_visible_ascii_and_refuses_the_rest() {
        assert_eq!(parse_id(b"msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"), Ok("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"));
        assert!(reason(parse_id(b"").unwrap_err()).starts_with("empty"));
        assert!(reason(parse_id(b"msg 1").unwrap_err()).contains("not visible ASCII"));
        assert!(reason(parse_id("msg_é".as_bytes()).unwrap_err()).contains("not visible ASCII"));
        assert!(parse_id(&[b'a'; MAX_ID_LEN]).is_ok());
        assert!(reason(parse_id(&[b'a'; MAX_ID_LEN + 1]).unwrap_err()).contains("256"));
    }

    #[test]
    fn timestamp_is_digits_only_seconds() {
        assert_eq!(
            parse_timestamp(b"1649367553"),
            Ok(Timestamp {
                text: "1649367553",
                secs: 1_649_367_553
            })
        );
        assert_eq!(parse_timestamp(b"0").map(|t| t.secs), Ok(0));
        for bad in [&b""[..], b"-5", b"+5", b" 1", b"1.5", b"1e9", b"\xff"] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?} accepted");
        }
        assert!(reason(parse_timestamp(b"1649367553000").unwrap_err()).contains("milliseconds"));
        assert!(reason(parse_timestamp(b"99999999999999999999999").unwrap_err()).contains("too many"));
    }

    #[test]
    fn signatures_keep_v1_entries_and_skip_other_versions() {
        let macs = parse_signatures(SPEC_SIG.as_bytes()).unwrap();
        assert_eq!(macs.len(), 1);
        assert_eq!(macs[0][0], 0xb5); // base64 "tZ1I" starts with 0xb5 0x9d 0x48
        let two = format!("v1a,AAAA {SPEC_SIG}  {SPEC_SIG}");
        assert_eq!(parse_signatures(two.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn signatures_refuse_what_is_not_version_comma_base64() {
        assert!(reason(parse_signatures(b"").unwrap_err()).starts_with("no v1"));
        assert!(reason(parse_signatures(b"v2,abc").unwrap_err()).starts_with("no v1"));
        assert!(reason(parse_signatures(b"tZ1I4").unwrap_err()).starts_with("each signature"));
        assert!(reason(parse_signatures(b"v1,").unwrap_err()).contains("44 characters"));
        // Truncated, and non-canonical padding bits.
        assert!(parse_signatures(b"v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw").is_err());
        assert!(parse_signatures(b"v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkx=").is_err());
        assert!(reason(parse_signatures(b"v1,\x00").unwrap_err()).contains("ASCII"));
    }

    #[test]
    fn elements_signature_is_sha256_equals_base64() {
        let mac = parse_elements_signature(b"sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=").unwrap();
        assert_eq!(mac[0], 0x8c);
        assert!(parse_elements_signature(b"jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=").is_err());
        assert!(parse_elements_signature(b"sha256=").is_err());
        assert!(parse_elements_signature(b"SHA256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=").is_err());
    }
}
