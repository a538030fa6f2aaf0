//! Property tests of the receiver library: the `standardwebhooks` crate as an oracle in
//! both directions, tampering any byte fails, and no parser panics on arbitrary bytes. Also the
//! wire contract: the generated Apex signs with exactly the constants of `src/webhook/wire.rs`.
use std::collections::BTreeMap;
use std::path::Path;

use hyper::header::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use sfhooks::webhook::headers::{
    parse_elements_signature, parse_id, parse_signatures, parse_timestamp,
};
use sfhooks::webhook::{
    encode_secret, parse_envelope, sign, wire, ElementsKey, ElementsVerifier, Envelope,
    EnvelopeHead, HeadScanner, Headers, Secret, Verifier, VerifyError,
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

        // The clock agrees with the (possibly tampered) timestamp, so a refusal can only come from
        // the signature: this proves the timestamp is signed, not merely checked for freshness.
        let clock = std::str::from_utf8(&ts_t).ok().and_then(|t| t.parse().ok()).unwrap_or(ts);
        let ours = verifier.verify(
            &Headers { id: Some(&id_t), timestamp: Some(&ts_t), signature: Some(&sig_t) },
            &body_t,
            clock,
        );
        match (field, ours) {
            (_, Err(VerifyError::NoMatchingSignature { signatures: 1, secrets: 1 })) => {}
            // A changed `v`, `1` or `,`, or a `=` or `,` inside the base64, breaks the syntax.
            (3, Err(VerifyError::MalformedHeader { header: "webhook-signature", .. })) => {}
            (field, other) => prop_assert!(false, "tampered field {} gave {:?}", field, other),
        }
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

/// What a head keeps of a full parse, to compare the two.
fn heads_of(envelope: &Envelope) -> Vec<String> {
    envelope
        .data
        .events
        .iter()
        .map(|e| {
            format!(
                "{:?}",
                (
                    &e.event_id,
                    e.event_type,
                    &e.object_type,
                    &e.object_id,
                    &e.gap
                )
            )
        })
        .collect()
}

fn scanned(body: &[u8], block: usize) -> Result<EnvelopeHead, sfhooks::webhook::EnvelopeError> {
    let mut scanner = HeadScanner::new();
    for chunk in body.chunks(block) {
        if !scanner.feed(chunk) {
            break;
        }
    }
    scanner.finish()
}

proptest! {
    #![proptest_config(config())]

    /// The streaming head scanner, fed in blocks of any size, agrees with serde's full parse on
    /// every body serde accepts (the envelope and byte-level mutations of it), and never panics.
    #[test]
    fn the_head_scanner_agrees_with_the_full_parse(
        block in 1usize..200,
        pretty in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4),
    ) {
        let value: serde_json::Value = serde_json::from_str(&envelope_body()).unwrap();
        let mut body = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        for (at, byte, op) in edits {
            let i = at.index(body.len());
            match op {
                0 => body[i] = byte,
                1 => { body.remove(i); }
                _ => body.insert(i, byte),
            }
        }
        let head = scanned(&body, block);
        if let Ok(full) = parse_envelope(&body) {
            let head = head.map_err(|e| TestCaseError::fail(format!("scanner refused what serde took: {e}")))?;
            prop_assert_eq!(&head.data.org_id, &full.data.org_id);
            let scanned: Vec<String> = head
                .data
                .events
                .iter()
                .map(|e| format!("{:?}", (&e.event_id, e.event_type, &e.object_type, &e.object_id, &e.gap)))
                .collect();
            prop_assert_eq!(scanned, heads_of(&full));
        }
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

// The wire contract (README, "The wire contract"): "the header names, the algorithm, the separator and the encoding
// come from one place in the Rust code, which also feeds the Apex templates; a test proves the
// generated Apex uses exactly them."

/// `static final` constants of an Apex class: name -> value (strings decoded, integers as text).
fn apex_constants(source: &str) -> BTreeMap<String, String> {
    let (code, literals) = sfhooks::apex::split_literals(source);
    let flat = code.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut constants = BTreeMap::new();
    for statement in flat.split(';') {
        let Some(at) = statement.find("static final ") else {
            continue;
        };
        let decl = &statement[at + "static final ".len()..];
        let Some((left, value)) = decl.split_once(" = ") else {
            continue;
        };
        let Some(name) = left.split(' ').nth(1) else {
            continue;
        };
        let value = value.trim();
        let decoded = match value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => literals[n].clone(),
            None => value.to_string(),
        };
        constants.insert(name.to_string(), decoded);
    }
    constants
}

/// Whitespace-collapsed Apex code without comments (literals replaced by their index).
fn apex_code(source: &str) -> String {
    let (code, _) = sfhooks::apex::split_literals(source);
    code.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs `sfhooks generate` for one Contact trigger and returns classes/<name> of the result.
fn generated_classes(dir: &Path, scheme: &str) -> BTreeMap<String, String> {
    let out = dir.join(scheme);
    let result = crate::support::run(crate::support::sfhooks(dir).args([
        "generate",
        "--objects",
        "Contact",
        "--callback-url",
        "https://hooks.example.com/salesforce",
        "--signature-scheme",
        scheme,
        "--out",
        out.to_str().expect("utf-8 temp path"),
    ]));
    assert_eq!(
        crate::support::code(&result),
        0,
        "{}",
        crate::support::stderr(&result)
    );
    std::fs::read_dir(out.join("classes"))
        .expect("generated classes/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cls"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("utf-8 class"))
        })
        .collect()
}

fn assert_uses(code: &str, expression: &str, what: &str) {
    assert!(
        code.contains(expression),
        "the generated signer no longer {what} (expected `{expression}`):\n{code}"
    );
}

#[test]
fn generated_standard_signer_uses_exactly_the_wire_constants() {
    let dir = tempfile::tempdir().expect("temp dir");
    let classes = generated_classes(dir.path(), "standard");
    let signer = &classes["SfhooksSigner.cls"];
    let constants = apex_constants(signer);
    let expected = [
        ("HEADER_ID", wire::HEADER_ID.to_string()),
        ("HEADER_TIMESTAMP", wire::HEADER_TIMESTAMP.to_string()),
        ("HEADER_SIGNATURE", wire::HEADER_SIGNATURE.to_string()),
        ("MIN_SECRET_BYTES", wire::MIN_SECRET_BYTES.to_string()),
        ("ALGORITHM", wire::APEX_MAC_ALGORITHM.to_string()),
        ("SECRET_PREFIX", wire::SECRET_PREFIX.to_string()),
        ("VERSION", wire::SIGNATURE_VERSION.to_string()),
        (
            "VERSION_SEPARATOR",
            wire::SIGNATURE_VERSION_SEPARATOR.to_string(),
        ),
        ("LIST_SEPARATOR", wire::SIGNATURE_LIST_SEPARATOR.to_string()),
        (
            "CONTENT_SEPARATOR",
            wire::SIGNED_CONTENT_SEPARATOR.to_string(),
        ),
    ];
    for (name, value) in &expected {
        assert_eq!(
            constants.get(*name),
            Some(value),
            "{name} in SfhooksSigner.cls"
        );
    }
    assert_eq!(
        apex_constants(&classes["SfhooksOutbox.cls"]).get("ENVELOPE_TYPE"),
        Some(&wire::ENVELOPE_TYPE.to_string())
    );
    // The wire module's `Crypto.generateMac` name is HMAC-SHA256, what the verifier computes.
    assert_eq!(wire::APEX_MAC_ALGORITHM, "hmacSHA256");

    // The constants are what the signing code is built from.
    let code = apex_code(signer);
    assert_uses(
        &code,
        "EncodingUtil.base64Decode(secret.removeStart(SECRET_PREFIX))",
        "decodes the whsec_ secret's base64",
    );
    assert_uses(&code, "key.size() < MIN_SECRET_BYTES", "refuses short keys");
    assert_uses(
        &code,
        "Blob.valueOf( messageId + CONTENT_SEPARATOR + timestamp + CONTENT_SEPARATOR + body )",
        "signs id.timestamp.body",
    );
    assert_uses(
        &code,
        "Crypto.generateMac(ALGORITHM, content, key)",
        "MACs the content with ALGORITHM",
    );
    assert_uses(
        &code,
        "VERSION + VERSION_SEPARATOR + EncodingUtil.base64Encode(mac)",
        "formats v1,<base64>",
    );
    assert_uses(
        &code,
        "String.join(signatures, LIST_SEPARATOR)",
        "joins the signatures with LIST_SEPARATOR",
    );
    for header in [
        "HEADER_ID => messageId",
        "HEADER_TIMESTAMP => timestamp",
        "HEADER_SIGNATURE => sign(messageId, timestamp, body)",
    ] {
        assert_uses(&code, header, "sets its headers under the constant names");
    }

    // Doing what that code does, with the values read from the generated class, gives the spec
    // vector, and the verifier accepts it under the header names read from the class.
    let c = |name: &str| constants[name].as_str();
    use base64::Engine as _;
    use hmac::Mac as _;
    let spec_secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let key = base64::engine::general_purpose::STANDARD
        .decode(
            spec_secret
                .strip_prefix(c("SECRET_PREFIX"))
                .expect("prefix"),
        )
        .expect("base64 key");
    let (id, ts) = ("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553");
    let body = r#"{"email":"test@example.com","username":"test_user"}"#;
    let content = [id, c("CONTENT_SEPARATOR"), ts, c("CONTENT_SEPARATOR"), body].concat();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(content.as_bytes());
    let signature = [
        c("VERSION"),
        c("VERSION_SEPARATOR"),
        &base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()),
    ]
    .concat();
    assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    let sent: BTreeMap<&str, &str> = [
        (c("HEADER_ID"), id),
        (c("HEADER_TIMESTAMP"), ts),
        (c("HEADER_SIGNATURE"), signature.as_str()),
    ]
    .into();
    let verifier = Verifier::from_secrets(&[spec_secret]).expect("spec secret");
    let headers = Headers::from_fn(|name| sent.get(name).map(|v| v.as_bytes()));
    assert!(verifier
        .verify(&headers, body.as_bytes(), 1_649_367_553)
        .is_ok());
}

#[test]
fn generated_elements_signer_uses_exactly_the_wire_constants() {
    let dir = tempfile::tempdir().expect("temp dir");
    let classes = generated_classes(dir.path(), "elements");
    let signer = &classes["SfhooksSigner.cls"];
    let constants = apex_constants(signer);
    let c = |name: &str| constants.get(name).map(String::as_str);
    assert_eq!(c("HEADER_ID"), Some(wire::HEADER_ID));
    assert_eq!(c("HEADER_SIGNATURE"), Some(wire::ELEMENTS_HEADER_SIGNATURE));
    assert_eq!(c("ALGORITHM"), Some(wire::APEX_MAC_ALGORITHM));
    assert_eq!(c("SIGNATURE_PREFIX"), Some(wire::ELEMENTS_SIGNATURE_PREFIX));
    let code = apex_code(signer);
    assert_uses(
        &code,
        "Blob.valueOf(secrets[0])",
        "keys with the UTF-8 bytes",
    );
    assert_uses(
        &code,
        "Crypto.generateMac(ALGORITHM, Blob.valueOf(body), key)",
        "MACs the body alone with ALGORITHM",
    );
    assert_uses(
        &code,
        "SIGNATURE_PREFIX + EncodingUtil.base64Encode(mac)",
        "formats sha256=<base64>",
    );
    assert_uses(
        &code,
        "HEADER_SIGNATURE => sign(body)",
        "sets the signature under HEADER_SIGNATURE",
    );
    assert_eq!(
        apex_constants(&classes["SfhooksOutbox.cls"]).get("ENVELOPE_TYPE"),
        Some(&wire::ENVELOPE_TYPE.to_string())
    );
}

/// No Apex template spells a wire value out itself: each comes in through `{{ wire.* }}`, so
/// changing `wire.rs` changes every generated use.
#[test]
fn apex_templates_take_wire_values_only_from_the_context() {
    let distinctive = [
        wire::HEADER_ID,
        wire::HEADER_TIMESTAMP,
        wire::HEADER_SIGNATURE,
        wire::ELEMENTS_HEADER_SIGNATURE,
        wire::ELEMENTS_SIGNATURE_PREFIX,
        wire::APEX_MAC_ALGORITHM,
        wire::SECRET_PREFIX,
        wire::ENVELOPE_TYPE,
    ];
    let root = crate::support::repo_root().join("templates");
    let mut stack = vec![root.clone()];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable templates folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.to_string_lossy().into_owned();
            if !(name.ends_with(".cls.tera") || name.ends_with(".trigger.tera")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("utf-8 template");
            // Tera comments may hold apostrophes; they are not Apex.
            let mut apex = String::new();
            let mut rest = text.as_str();
            while let Some(at) = rest.find("{#") {
                apex.push_str(&rest[..at]);
                rest = rest[at..].split_once("#}").map_or("", |(_, after)| after);
            }
            apex.push_str(rest);
            let (_, literals) = sfhooks::apex::split_literals(&apex);
            for literal in literals {
                let lower = literal.to_ascii_lowercase();
                for value in distinctive {
                    assert!(
                        !lower.starts_with(&value.to_ascii_lowercase()) || literal.contains(' '),
                        "{name} hard-codes {literal:?}: use {{{{ wire.* | apex_string }}}} instead"
                    );
                }
                assert!(
                    literal
                        != format!(
                            "{}{}",
                            wire::SIGNATURE_VERSION,
                            wire::SIGNATURE_VERSION_SEPARATOR
                        ),
                    "{name} hard-codes {literal:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} Apex templates found under {root:?}"
    );
}
