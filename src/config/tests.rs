//! Unit tests of the parent module.
use super::*;

fn flags(objects: &str, url: &str) -> Overrides {
    Overrides {
        objects: Some(objects.split(',').map(str::to_string).collect()),
        callback_url: Some(url.to_string()),
        ..Overrides::default()
    }
}

fn with_raw(objects: &str, url: &str) -> Raw {
    let mut raw = Raw::default();
    apply_flags(&mut raw, &flags(objects, url), None);
    raw
}

#[test]
fn defaults_apply() {
    let config = validate(with_raw(
        "Contact,Account",
        "https://hooks.example.com/salesforce",
    ))
    .expect("valid");
    assert_eq!(config.api_version, "63.0");
    assert_eq!(config.prefix, "Sfhooks");
    assert_eq!(config.events, Events::ALL);
    assert_eq!(config.out_dir, PathBuf::from("force-app/main/default"));
    assert_eq!(config.signature_scheme, SignatureScheme::Standard);
    assert_eq!(config.objects.len(), 2);
}

#[test]
fn hostile_callback_urls_are_refused_with_the_fix() {
    for (url, needle) in [
        ("https://x.example.com/a'b", "percent-encode"),
        ("https://x.example.com/a\"b", "percent-encode"),
        ("https://x.example.com/a\\b", "percent-encode"),
        ("https://x.example.com/a\nb", "percent-encode"),
        ("https://x.example.com/a*/b", "\"*/\""),
        ("https://x.example.com/a b", "percent-encode"),
        ("http://x.example.com/", "--allow-insecure-http"),
        ("ftp://x.example.com/", "scheme"),
        ("/relative", "absolute"),
        ("https://user:pw@x.example.com/", "credentials"),
        ("https://x.example.com/#frag", "fragment"),
    ] {
        let err = validate_callback_url(url, false)
            .expect_err(url)
            .to_string();
        assert!(err.contains(needle), "{url:?}: {err}");
        assert!(!err.contains("pw@"), "{err}");
    }
    let err = validate_callback_url("https://user:s3cr%40t@x.example.com/p", false)
        .expect_err("credentials")
        .to_string();
    assert!(err.contains("\"https://***@x.example.com/p\""), "{err}");
    assert!(!err.contains("s3cr") && !err.contains("user"), "{err}");
    assert!(validate_callback_url("http://127.0.0.1:8080/x", true).is_ok());
    assert!(validate_callback_url("https://x.example.com/hook?a=1&b=2", false).is_ok());
}

#[test]
fn events_parse_and_refuse_unknown_or_empty() {
    let e = Events::parse(&["created".into(), "DELETED".into()]).expect("valid");
    assert!(e.created && e.deleted && !e.updated && !e.undeleted);
    assert!(Events::parse(&["created".into(), "merged".into()])
        .expect_err("unknown")
        .to_string()
        .contains("merged"));
    assert!(Events::parse(&[]).is_err());
}

#[test]
fn api_versions_are_checked() {
    assert!(validate_api_version("63.0").is_ok());
    assert!(validate_api_version("60.0").is_ok());
    assert!(validate_api_version("59.0").is_err());
    assert!(validate_api_version("63").is_err());
    assert!(validate_api_version("63.1").is_err());
    assert!(validate_api_version("abc").is_err());
}

#[test]
fn empty_and_duplicate_objects_are_refused() {
    let empty = validate(with_raw("", "https://x.example.com/")).expect_err("empty");
    assert!(empty.to_string().contains("empty"), "{empty}");
    let dup = validate(with_raw("Contact,contact", "https://x.example.com/")).expect_err("dup");
    assert!(dup.to_string().contains("twice"), "{dup}");
}

#[test]
fn later_sources_win() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("sfhooks.toml");
    std::fs::write(
        &toml,
        "objects = [\"Lead\"]\ncallback_url = \"https://a.example.com/\"\nprefix = \"Toml\"\nout = \"src\"\n",
    )
    .expect("write");
    let instance = dir.path().join("instance.json");
    std::fs::write(
        &instance,
        r#"{"element":{"key":"sfdc"},"configuration":{"event.notification.enabled":true,
        "event.vendor.type":"webhooks","event.notification.callback.url":"https://b.example.com/",
        "event.notification.signature.key":"12345","event.objects":"Contact,Account",
        "event.notification.subscription.id":"x"},"name":"x"}"#,
    )
    .expect("write");
    let input = Overrides {
        config: Some(toml.clone()),
        instance: Some(instance),
        prefix: Some("Flag".into()),
        ..Overrides::default()
    };
    let config = load(&input).expect("valid");
    assert_eq!(
        config.callback_url.as_ref().map(url::Url::as_str),
        Some("https://b.example.com/")
    );
    assert_eq!(config.objects[0].name.api_name, "Contact");
    assert_eq!(config.prefix, "Flag");
    assert_eq!(config.out_dir, dir.path().join("src"));
    assert_eq!(
        config.signature_key.as_ref().map(|k| k.expose().as_str()),
        Some("12345")
    );
    assert!(
        config.warnings[0].contains("event.notification.subscription.id"),
        "{:?}",
        config.warnings
    );
}

#[test]
fn unknown_toml_keys_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("sfhooks.toml");
    std::fs::write(&toml, "objetcs = [\"Lead\"]\n").expect("write");
    let input = Overrides {
        config: Some(toml),
        ..Overrides::default()
    };
    let err = load(&input).expect_err("typo").to_string();
    assert!(err.contains("objetcs"), "{err}");
}

#[test]
fn per_object_fields_are_validated() {
    let mut raw = with_raw("Invoice__c", "https://x.example.com/");
    raw.objects_config.insert(
        "Invoice__c".into(),
        ObjectFile {
            fields: Some(vec!["Name".into(), "Amount__c".into()]),
            watched_fields: Some(vec!["Amount__c".into()]),
        },
    );
    let config = validate(raw).expect("valid");
    assert_eq!(config.objects[0].fields.as_ref().map(Vec::len), Some(2));

    let mut raw = with_raw("Invoice__c", "https://x.example.com/");
    raw.objects_config
        .insert("Contact".into(), ObjectFile::default());
    assert!(validate(raw)
        .expect_err("stray")
        .to_string()
        .contains("objects_config.Contact"));
}
