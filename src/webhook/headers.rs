//! Parsers of the signature header values, one per header, on raw bytes.
//!
//! They take bytes rather than `&str` because HTTP header values are not guaranteed UTF-8, and a
//! receiver must answer "malformed" (not panic, not guess) whatever arrives. Each is strict about
//! the form the Apex sends and says what was expected.
use super::error::VerifyError;
use super::wire;

/// Length of an HMAC-SHA256 output.
pub const MAC_LEN: usize = 32;
/// Length of the padded standard base64 of an HMAC-SHA256 output.
pub const MAC_BASE64_LEN: usize = 44;
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

/// A well-formed `webhook-signature` value with at least one `v1` entry.
///
/// The signatures stay in base64: the verifier encodes its own MAC and compares the text, as the
/// reference implementations do, which spares decoding every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signatures<'a> {
    value: &'a [u8],
    v1_count: usize,
}

impl<'a> Signatures<'a> {
    /// The base64 text of each `v1` signature (44 characters each), in header order.
    pub fn v1(&self) -> impl Iterator<Item = &'a [u8]> {
        entries(self.value)
            .flatten()
            .filter_map(|(version, encoded)| (version == VERSION).then_some(encoded))
    }

    /// How many `v1` signatures the header carries (at least 1).
    pub fn len(&self) -> usize {
        self.v1_count
    }

    /// Always false: parsing refuses a header without a `v1` signature.
    pub fn is_empty(&self) -> bool {
        self.v1_count == 0
    }
}

// The separators are single characters; splitting on a byte is much cheaper than on a `&str`
// pattern, and this runs for every delivery.
const LIST_SEPARATOR: u8 = single_byte(wire::SIGNATURE_LIST_SEPARATOR);
const VERSION_SEPARATOR: u8 = single_byte(wire::SIGNATURE_VERSION_SEPARATOR);
const VERSION: &[u8] = wire::SIGNATURE_VERSION.as_bytes();

const fn single_byte(separator: &str) -> u8 {
    assert!(separator.len() == 1, "separators are one ASCII character");
    separator.as_bytes()[0]
}

/// Non-empty `version,rest` entries of a signature header; `None` for an entry without a comma.
fn entries(value: &[u8]) -> impl Iterator<Item = Option<(&[u8], &[u8])>> {
    value
        .split(|&b| b == LIST_SEPARATOR)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let at = e.iter().position(|&b| b == VERSION_SEPARATOR)?;
            Some((&e[..at], &e[at + 1..]))
        })
}

// The checks below fold over every byte instead of stopping at the first bad one: they are on the
// hot path of every delivery, and a fold without early exit compiles to vector instructions.

fn all_visible_ascii(value: &[u8]) -> bool {
    value.iter().fold(true, |ok, &b| ok & b.is_ascii_graphic())
}

fn all_digits(value: &[u8]) -> bool {
    value.iter().fold(true, |ok, &b| ok & b.is_ascii_digit())
}

/// True for the padded standard base64 of 32 bytes: 43 alphabet characters and `=`.
fn is_mac_base64(value: &[u8]) -> bool {
    match value.split_last() {
        Some((b'=', body)) if value.len() == MAC_BASE64_LEN => body.iter().fold(true, |ok, &b| {
            ok & (b.is_ascii_alphanumeric() | (b == b'+') | (b == b'/'))
        }),
        _ => false,
    }
}

/// Parses a `webhook-id`: 1 to [`MAX_ID_LEN`] visible ASCII characters.
pub fn parse_id(value: &[u8]) -> Result<&str, VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: wire::HEADER_ID,
        reason,
    };
    if value.is_empty() {
        return Err(malformed(
            "empty; expected the message id, like msg_2Lh9...",
        ));
    }
    if value.len() > MAX_ID_LEN {
        return Err(malformed("longer than 256 bytes"));
    }
    if !all_visible_ascii(value) {
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
    if !all_digits(value) {
        return Err(bad(
            "not a whole number of Unix seconds (digits only, like 1649367553)",
        ));
    }
    if value.len() == 13 {
        return Err(bad(
            "13 digits looks like milliseconds; Standard Webhooks uses seconds",
        ));
    }
    if value.len() > MAX_TIMESTAMP_DIGITS {
        return Err(bad("too many digits for Unix seconds"));
    }
    let text = std::str::from_utf8(value).map_err(|_| bad("not ASCII"))?;
    // At most 12 digits: no overflow.
    let secs = value
        .iter()
        .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    Ok(Timestamp { text, secs })
}

/// Parses a `webhook-signature`: space-separated `version,base64` entries, at least one of them
/// `v1`; entries of other versions (such as `v1a`, asymmetric) are skipped, as the spec says.
pub fn parse_signatures(value: &[u8]) -> Result<Signatures<'_>, VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: wire::HEADER_SIGNATURE,
        reason,
    };
    let printable = value
        .iter()
        .fold(true, |ok, &b| ok & (b.is_ascii_graphic() | (b == b' ')));
    if !printable {
        return Err(malformed("not printable ASCII"));
    }
    let mut v1_count = 0;
    for entry in entries(value) {
        let Some((version, encoded)) = entry else {
            return Err(malformed(
                "each signature must be version,base64 like v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
            ));
        };
        if version != VERSION {
            continue;
        }
        if !is_mac_base64(encoded) {
            return Err(malformed(
                "a v1 signature is not the padded base64 of 32 bytes (44 characters)",
            ));
        }
        v1_count += 1;
    }
    if v1_count == 0 {
        return Err(malformed(
            "no v1 signature; expected space-separated v1,<base64> entries",
        ));
    }
    Ok(Signatures { value, v1_count })
}

/// Parses an `Elements-Webhook-Signature`: `sha256=` and the base64 of 32 bytes, which it returns.
pub fn parse_elements_signature(value: &[u8]) -> Result<&[u8], VerifyError> {
    let malformed = |reason| VerifyError::MalformedHeader {
        header: wire::ELEMENTS_HEADER_SIGNATURE,
        reason,
    };
    let encoded = value
        .strip_prefix(wire::ELEMENTS_SIGNATURE_PREFIX.as_bytes())
        .ok_or_else(|| malformed("does not start with sha256="))?;
    if !is_mac_base64(encoded) {
        return Err(malformed(
            "not sha256= and the padded base64 of 32 bytes (44 characters)",
        ));
    }
    Ok(encoded)
}

/// The padded standard base64 of a MAC, on the stack: what the signature headers carry.
pub(crate) fn encode_mac(mac: &[u8; MAC_LEN]) -> [u8; MAC_BASE64_LEN] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = [b'='; MAC_BASE64_LEN];
    // 32 bytes = 10 groups of 3 (40 characters) + 2 bytes (3 characters and one '=').
    for (group, chunk) in mac.chunks(3).enumerate() {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let o = group * 4;
        out[o] = ALPHABET[usize::from(b0 >> 2)];
        out[o + 1] = ALPHABET[usize::from(((b0 & 0x03) << 4) | (b1 >> 4))];
        out[o + 2] = ALPHABET[usize::from(((b1 & 0x0f) << 2) | (b2 >> 6))];
        if chunk.len() == 3 {
            out[o + 3] = ALPHABET[usize::from(b2 & 0x3f)];
        }
    }
    out
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
        assert_eq!(
            parse_id(b"msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
            Ok("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk")
        );
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
        assert!(
            reason(parse_timestamp(b"99999999999999999999999").unwrap_err()).contains("too many")
        );
    }

    #[test]
    fn signatures_keep_v1_entries_and_skip_other_versions() {
        let sigs = parse_signatures(SPEC_SIG.as_bytes()).unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs.v1().collect::<Vec<_>>(), [&SPEC_SIG.as_bytes()[3..]]);
        let other = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let two = format!("v1a,AAAA {SPEC_SIG}  {other}");
        let sigs = parse_signatures(two.as_bytes()).unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(
            sigs.v1().collect::<Vec<_>>(),
            [&SPEC_SIG.as_bytes()[3..], &other.as_bytes()[3..]]
        );
    }

    #[test]
    fn signatures_refuse_what_is_not_version_comma_base64() {
        assert!(reason(parse_signatures(b"").unwrap_err()).starts_with("no v1"));
        assert!(reason(parse_signatures(b"v2,abc").unwrap_err()).starts_with("no v1"));
        assert!(reason(parse_signatures(b"tZ1I4").unwrap_err()).starts_with("each signature"));
        assert!(reason(parse_signatures(b"v1,").unwrap_err()).contains("44 characters"));
        // Truncated, a character outside the alphabet, and padding in the wrong place.
        assert!(parse_signatures(b"v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw").is_err());
        assert!(parse_signatures(b"v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3K-w=").is_err());
        assert!(parse_signatures(b"v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3K=w=").is_err());
        assert!(parse_signatures(b"v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=,").is_err());
        assert!(reason(parse_signatures(b"v1,\x00").unwrap_err()).contains("ASCII"));
    }

    #[test]
    fn elements_signature_is_sha256_equals_base64() {
        let mac = parse_elements_signature(b"sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=")
            .unwrap();
        assert_eq!(mac, b"jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=");
        assert!(parse_elements_signature(b"jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=").is_err());
        assert!(parse_elements_signature(b"sha256=").is_err());
        assert!(
            parse_elements_signature(b"SHA256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=")
                .is_err()
        );
    }

    #[test]
    fn encode_mac_matches_the_base64_crate() {
        use base64::Engine as _;
        let mut mac = [0u8; MAC_LEN];
        for seed in 0u8..=255 {
            for (i, b) in mac.iter_mut().enumerate() {
                *b = seed
                    .wrapping_mul(31)
                    .wrapping_add((i as u8).wrapping_mul(seed | 1));
            }
            let expected = base64::engine::general_purpose::STANDARD.encode(mac);
            assert_eq!(&encode_mac(&mac)[..], expected.as_bytes(), "seed {seed}");
        }
        assert_eq!(
            &encode_mac(&[0xff; MAC_LEN])[..],
            b"//////////////////////////////////////////8="
        );
    }
}
