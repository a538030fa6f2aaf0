//! Subject tokens and message ids: the org token, escaping, the body hash id, wildcard cover.
use std::borrow::Cow;
use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

use crate::webhook::OrgId;

/// The org id as a subject token: its 18-character form when valid, else escaped as sent.
pub(super) fn org_token(org_id: &str) -> Cow<'_, str> {
    match OrgId::parse(org_id) {
        Ok(org) => Cow::Owned(org.to_18()),
        Err(_) => subject_token(org_id),
    }
}

/// A value as one subject token: letters, digits, `_` and `-` are kept, every other byte becomes
/// `%HH` (so `.`, `*`, `>` and spaces, which NATS gives meaning to, cannot split or widen a
/// subject); an empty value becomes `%`.
pub fn subject_token(value: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if !value.is_empty() && value.bytes().all(plain) {
        return Cow::Borrowed(value);
    }
    if value.is_empty() {
        return Cow::Borrowed("%");
    }
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// The id of an Open Connectors delivery, which has no `webhook-id`: `sha256-<hex>` of the body.
/// The sender's retries resend identical bytes, so they share it.
pub fn body_id(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut id = String::with_capacity(7 + 64);
    id.push_str("sha256-");
    for b in digest {
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// Whether a stream subject (with `*` and `>` wildcards) captures every subject `wanted` does.
pub(super) fn covers(have: &str, wanted: &str) -> bool {
    let mut have = have.split('.');
    let mut wanted = wanted.split('.');
    loop {
        match (have.next(), wanted.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(w)) if w != ">" => {}
            (Some(h), Some(w)) if h == w => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}
