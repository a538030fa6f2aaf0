//! Unit tests of the URL, subject, id, window and duration rules.
use super::*;

#[test]
fn urls_without_credentials_only() {
    assert_eq!(
        NatsUrl::parse("nats://127.0.0.1:4222").unwrap().as_str(),
        "nats://127.0.0.1:4222"
    );
    assert_eq!(
        NatsUrl::parse("tls://nats.example.com").unwrap().as_str(),
        "tls://nats.example.com:4222"
    );
    let err = NatsUrl::parse("nats://alice:hunter2@127.0.0.1:4222").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, NatsConfigError::CredentialsInUrl { .. }));
    assert!(
        !text.contains("hunter2") && !text.contains("alice"),
        "{text}"
    );
    assert!(text.contains("$SFHOOKS_NATS_PASSWORD"), "{text}");
    let err = NatsUrl::parse("nats://s3cr3t-token@127.0.0.1").unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(NatsUrl::parse("http://127.0.0.1:4222").is_err());
    assert!(!NatsUrl::parse("nats//x:pw@host")
        .unwrap_err()
        .to_string()
        .contains("pw"));
}

#[test]
fn tokens_cannot_split_or_widen_a_subject() {
    assert_eq!(subject_token("acme__Order__c"), "acme__Order__c");
    assert_eq!(subject_token("a.b"), "a%2Eb");
    assert_eq!(subject_token("*"), "%2A");
    assert_eq!(subject_token(">"), "%3E");
    assert_eq!(subject_token("a b"), "a%20b");
    assert_eq!(subject_token("%"), "%25");
    assert_eq!(subject_token(""), "%");
    assert_eq!(org_token("00D000000000001"), "00D000000000001EAA");
    assert_eq!(org_token("00D000000000001EAA"), "00D000000000001EAA");
    assert_eq!(org_token("not.an.org"), "not%2Ean%2Eorg");
}

#[test]
fn the_body_id_is_the_sha256_of_the_body() {
    assert_eq!(
        body_id(b""),
        "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_ne!(body_id(b"a"), body_id(b"b"));
}

#[test]
fn windows_are_checked_against_the_tolerance_and_the_max_age() {
    let spec = |window: u64, max_age: u64| StreamSpec {
        name: "S".into(),
        duplicate_window: Duration::from_secs(window),
        max_age: Duration::from_secs(max_age),
        tolerance: Duration::from_secs(300),
        per_event: false,
    };
    assert!(spec(86_400, 0).check().is_ok());
    assert!(spec(300, 300).check().is_ok());
    let err = spec(120, 0).check().unwrap_err();
    assert_eq!(err.to_string().split(':').next(), Some("stream S"));
    assert!(
        err.to_string()
            .contains("duplicate window 2m is shorter than the signature tolerance 5m"),
        "{err}"
    );
    assert!(err.is_setting());
    let err = spec(86_400, 3600).check().unwrap_err();
    assert!(
        err.to_string()
            .contains("longer than the stream's max age 1h, which JetStream refuses"),
        "{err}"
    );
}

#[test]
fn stream_subjects_cover_with_wildcards() {
    assert!(covers("sfhooks.deliveries.>", "sfhooks.deliveries.>"));
    assert!(covers("sfhooks.>", "sfhooks.events.>"));
    assert!(covers(">", "sfhooks.events.>"));
    assert!(!covers("sfhooks.deliveries.*", "sfhooks.deliveries.>"));
    assert!(!covers("sfhooks.events.>", "sfhooks.deliveries.>"));
}

#[test]
fn durations_parse_and_print() {
    assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
    assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
    assert!(parse_duration("1w").is_err());
    assert!(parse_duration("").is_err());
    assert_eq!(human(Duration::from_secs(86_400)), "24h");
    assert_eq!(human(Duration::from_secs(90)), "90s");
    assert_eq!(human(Duration::from_millis(1500)), "1500ms");
}

#[test]
fn auth_debug_never_shows_the_secret() {
    let auth = NatsAuth::UserPassword {
        user: "svc".into(),
        password: Redacted::new("hunter2".into()),
    };
    assert!(!format!("{auth:?}").contains("hunter2"));
    let auth = NatsAuth::Token(Redacted::new("tok3n".into()));
    assert!(!format!("{auth:?}").contains("tok3n"));
}
