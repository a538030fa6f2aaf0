//! Property tests of the receiver library (issue 5): the `standardwebhooks` crate as an oracle in
//! both directions, tampering any byte fails, and no parser panics on arbitrary bytes.
use hyper::header::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use sfhooks::webhook::headers::{
    parse_elements_signature, parse_id, parse_signatures, parse_timestamp,
};
use sfhooks::webhook::{
    encode_secret, parse_envelope, sign, ElementsKey, ElementsVerifier, Headers, Secret, Verifier,
};
use standardwebhooks::Webhook;

use crate::support::receiver::{envelope_body, now};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Ids as a sender could send them: visible ASCII, as header values must be.
fn id() -> impl Strategy<Value = String> {
    "[!-~]{1,64}"
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 24..80)
}

fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> Headers<'a> {
    Headers {
        id: Some(id.as_bytes()),
        timestamp: Some(ts.as_bytes()),
        signature: Some(sig.as_bytes()),
    }
}

fn oracle_headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    let value = |v: &str| HeaderValue::from_str(v).expect("generated values are visible ASCII");
    map.insert("webhook-id", value(id));
    map.insert("webhook-timestamp", value(&ts.to_string()));
    map.insert("webhook-signature", value(sig));
    map
}

proptest! {
    #![proptest_config(config())]

    /// The oracle signs; we verify, and produce the very same signature.
    #[test]
    fn oracle_signatures_verify(key in key(), id in id(), ts in 0i64..4_000_000_000, body in any::<String>()) {
        let oracle = Webhook::new(&encode_secret(&key)).unwrap();
        let signature = oracle.sign(&id, ts, body.as_bytes()).unwrap();
        let secret = Secret::parse(&encode_secret(&key)).unwrap();
        prop_assert_eq!(&sign(&secret, &id, ts, body.as_bytes()), &signature);
        let verifier = Verifier::new(vec![secret]).unwrap();
        let ts_text = ts.to_string();
        let delivery = verifier.verify(&headers(&id, &ts_text, &signature), body.as_bytes(), ts);
        prop_assert!(delivery.is_ok(), "{:?}", delivery);
    }

    /// We sign; the oracle (which reads the real clock) verifies.
    #[test]
    fn our_signatures_verify_with_the_oracle(key in key(), id in id(), skew in -200i64..200, body in any::<String>()) {
        let ts = now() + skew;
        let secret = Secret::from_key(&key).unwrap();
        let signature = sign(&secret, &id, ts, body.as_bytes());
        let oracle = Webhook::from_bytes(key).unwrap();
        let verified = oracle.verify(body.as_bytes(), &oracle_headers(&id, ts, &signature));
        prop_assert!(verified.is_ok(), "{:?}", verified);
    }

    /// Changing any one byte of the id, the timestamp, the body or the signature fails, here and
    /// in the oracle.
    #[test]
    fn tampering_any_byte_fails(
        key in key(),
        id in id(),
        body in prop::collection::vec(any::<u8>(), 1..300),
        field in 0usize..4,
        position in any::<prop::sample::Index>(),
        replacement in any::<prop::sample::Index>(),
    ) {
        let ts = now();
        let secret = Secret::from_key(&key).unwrap();
        let signature = sign(&secret, &id, ts, &body);
        let verifier = Verifier::new(vec![secret]).unwrap();
        let (mut id_t, mut ts_t, mut body_t, mut sig_t) =
            (id.clone().into_bytes(), ts.to_string().into_bytes(), body.clone(), signature.clone().into_bytes());
        // Replacement bytes stay in each field's alphabet, so the change is subtle, not a syntax error.
        let (target, alphabet): (&mut Vec<u8>, Vec<u8>) = match field {
            0 => (&mut id_t, (b'!'..=b'~').collect()),
            1 => (&mut ts_t, (b'0'..=b'9').collect()),
            2 => (&mut body_t, (0..=255).collect()),
            _ => (&mut sig_t, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=,v".to_vec()),
        };
        let at = position.index(target.len());
        let candidates: Vec<u8> = alphabet.into_iter().filter(|b| *b != target[at]).collect();
        target[at] = candidates[replacement.index(candidates.len())];

        let ours = verifier.verify(
            &Headers { id: Some(&id_t), timestamp: Some(&ts_t), signature: Some(&sig_t) },
            &body_t,
            ts,
        );
        prop_assert!(ours.is_err(), "tampered field {} verified", field);
        if field != 2 {
            // The oracle needs UTF-8 bodies and valid header values.
            if let (Ok(body_s), Ok(id_s), Ok(ts_v), Ok(sig_s)) = (
                std::str::from_utf8(&body_t),
                std::str::from_utf8(&id_t),
                std::str::from_utf8(&ts_t).unwrap_or("x").parse::<i64>(),
                std::str::from_utf8(&sig_t),
            ) {
                let oracle = Webhook::from_bytes(key).unwrap();
                prop_assert!(oracle.verify(body_s.as_bytes(), &oracle_headers(id_s, ts_v, sig_s)).is_err());
            }
        }
    }

    /// Rotation: a delivery signed with any one of several secrets verifies with all of them loaded.
    #[test]
    fn any_rotated_secret_verifies(keys in prop::collection::vec(key(), 1..4), pick in any::<prop::sample::Index>(), id in id()) {
        let secrets: Vec<Secret> = keys.iter().map(|k| Secret::from_key(k).unwrap()).collect();
        let signer = &secrets[pick.index(secrets.len())];
        let signature = sign(signer, &id, 1_000, b"[]");
        let verifier = Verifier::new(secrets.clone()).unwrap();
        let verified = verifier.verify(&headers(&id, "1000", &signature), b"[]", 1_000);
        prop_assert!(verified.is_ok(), "{:?}", verified);
    }

    /// Every header parser takes arbitrary bytes without panicking.
    #[test]
    fn header_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_id(&bytes);
        let _ = parse_timestamp(&bytes);
        let _ = parse_signatures(&bytes);
        let _ = parse_elements_signature(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = Secret::parse(text);
            let _ = ElementsKey::new(text);
        }
    }

    /// Header values built from the right pieces in the wrong order or amounts do not panic either.
    #[test]
    fn signature_parser_never_panics_on_near_misses(s in "(v1|v1a|v2|,| |[A-Za-z0-9+/=]{0,50}|sha256=){0,8}") {
        let _ = parse_signatures(s.as_bytes());
        let _ = parse_elements_signature(s.as_bytes());
    }

    /// The whole verifier takes arbitrary header values and bodies without panicking, and never
    /// accepts them.
    #[test]
    fn verifier_never_panics_and_refuses_garbage(
        id in prop::option::of(prop::collection::vec(any::<u8>(), 0..80)),
        ts in prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
        sig in prop::option::of(prop::collection::vec(any::<u8>(), 0..120)),
        body in prop::collection::vec(any::<u8>(), 0..200),
        now in any::<i64>(),
    ) {
        let verifier = Verifier::from_secrets(&["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]).unwrap();
        let h = Headers { id: id.as_deref(), timestamp: ts.as_deref(), signature: sig.as_deref() };
        prop_assert!(verifier.verify(&h, &body, now).is_err());
        let elements = ElementsVerifier::new(vec![ElementsKey::new("k").unwrap()]).unwrap();
        prop_assert!(elements.verify(sig.as_deref(), &body).is_err());
    }

    /// The envelope parser takes arbitrary bytes, and mutations of a real envelope, without panicking.
    #[test]
    fn envelope_parser_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let _ = parse_envelope(&bytes);
        let mut body = envelope_body().into_bytes();
        for (at, byte, op) in edits {
            if body.is_empty() { break; }
            let i = at.index(body.len());
            match op {
                0 => body[i] = byte,
                1 => { body.remove(i); }
                _ => body.insert(i, byte),
            }
        }
        let _ = parse_envelope(&body);
    }
}

#[test]
fn the_sample_envelope_parses() {
    // Guards the mutation test above: it must start from a valid envelope.
    assert_eq!(
        parse_envelope(envelope_body().as_bytes())
            .unwrap()
            .data
            .events
            .len(),
        2
    );
}
