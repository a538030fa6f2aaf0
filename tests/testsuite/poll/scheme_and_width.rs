//! Two shapes of a poll that the main file's org does not have: the Open Connectors signature
//! scheme, verified by a real `sfhooks listen`, and an object whose field list does not fit in one
//! query URL.
use super::*;

#[test]
fn the_elements_scheme_signs_what_listen_verifies() {
    // The Open Connectors scheme end to end: the poller signs with the instance's raw key and a
    // real `sfhooks listen --signature-scheme elements` verifies every delivery.
    let p = setup();
    let key = "MySecretEventSignatureKey";
    std::fs::write(p.dir.path().join("elements.key"), format!("{key}\n")).expect("write key");
    let listener =
        crate::support::receiver::Listener::start(key, &["--signature-scheme", "elements"]);
    let url = format!("http://{}/hooks", listener.addr);
    // `sfhooks poll --once` under the elements scheme to `listen`, with `extra` flags.
    let poll = |extra: &[&str]| {
        run(sfhooks(p.dir.path())
            .args([
                "poll",
                "--objects",
                "Contact",
                "--allow-insecure-http",
                "--once",
            ])
            .args([
                "--signature-scheme",
                "elements",
                "--secret-file",
                "elements.key",
            ])
            .args([
                "--callback-url",
                &url,
                "--state",
                "poll.db",
                "--retry-delay",
                "0s",
            ])
            .args(p.org.access_token_args())
            .args(extra))
    };
    ok(&poll(&[]));
    p.advance(30);
    let id = contact(&p, "ada");
    p.advance(150);
    let out = poll(&[]);
    ok(&out);
    let line = listener.stdout_line();
    assert!(
        line.starts_with(&format!("CREATED Contact {id} at ")),
        "{line}; poll said {}",
        stderr(&out)
    );
    // A previous secret has no meaning under this scheme: refused before anything is read.
    std::fs::write(p.dir.path().join("old.key"), "OldKey\n").expect("write old key");
    let out = poll(&["--previous-secret-file", "old.key"]);
    refused(&out, "the elements signature scheme has one key");
}

#[test]
fn a_field_list_past_the_url_limit_is_split_and_joined_on_id_and_stamp() {
    // 600 long custom field names: one query URL would be about 27 KB, past Salesforce's 16,384
    // bytes (the fake org answers 414 to a longer one and records it as unexpected).
    let fields: Vec<String> = (0..600)
        .map(|i| format!("A_Rather_Long_Custom_Field_Name_{i:03}__c"))
        .collect();
    let org = FakeOrg::start();
    org.with_rest(|r| {
        r.set_clock(Some(t0()));
        let defs: Vec<(&str, &str)> = fields.iter().map(|f| (f.as_str(), "string")).collect();
        r.define_object("Contact", &defs);
    });
    let rx = PollReceiver::start(&[SECRET]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("secret.txt"), format!("{SECRET}\n")).expect("write");
    let p = Poll { org, rx, dir };
    ok(&p.once(&[]));
    p.advance(30);
    let (first, last) = (&fields[0], &fields[599]);
    let id = p.org.with_rest(|r| {
        r.create(
            "Contact",
            json!({"LastName": "wide", first.as_str(): "alpha", last.as_str(): "omega"}),
        )
    });
    p.advance(150);
    ok(&p.once(&[]));
    let delivered = p.rx.delivered();
    let event = &delivered.last().expect("a delivery").envelope.data.events[0];
    assert_eq!(event.object_id, id);
    assert_eq!(
        event.record.get(first.as_str()),
        Some(&json!("alpha")),
        "a field of the first query"
    );
    assert_eq!(
        event.record.get(last.as_str()),
        Some(&json!("omega")),
        "a field of the last query"
    );
    // The window was read by more than one query (the first cycle only sets the cursor), each
    // under the limit, each with the join keys.
    let changes: Vec<String> = p
        .org
        .with_rest(|r| {
            let mut all = r.poll_queries();
            all.extend(
                r.requests_to("/query")
                    .into_iter()
                    .flat_map(|q| q.query)
                    .map(|(_, v)| v),
            );
            all
        })
        .into_iter()
        .filter(|q| q.contains("FROM Contact WHERE SystemModstamp"))
        .collect();
    assert!(
        changes.len() >= 2,
        "split in two or more: {} query",
        changes.len()
    );
    assert!(
        changes
            .iter()
            .all(|q| q.starts_with("SELECT Id, SystemModstamp, ")),
        "every part carries the join keys"
    );
}
