//! Unit tests of the judgement and both renderings of a report.
use super::*;

const ORG: &str = "00D000000000001AAA";

fn healthy_facts() -> Facts {
    let names = Names::new("Sfhooks");
    let now = 1_796_000_000;
    Facts {
        now,
        org: Org {
            id: ORG.into(),
            name: "Acme".into(),
            sandbox: false,
        },
        outbox: Ok(Outbox {
            groups: vec![
                Group {
                    status: "Pending".into(),
                    event_type: Some("UPDATED".into()),
                    count: 2,
                    oldest: Some(now - 30),
                },
                Group {
                    status: "Delivered".into(),
                    event_type: Some("CREATED".into()),
                    count: 40,
                    oldest: Some(now - 86_400),
                },
            ],
            dead: vec![],
            gaps: vec![],
        }),
        settings: Ok(Some(Settings {
            org_id: Some(ORG[..15].into()),
            bypass_capture: false,
            bypass_delivery: false,
            secret_set: true,
        })),
        state: Ok(None),
        jobs: Ok(names
            .sweeper_jobs()
            .into_iter()
            .enumerate()
            .map(|(i, name)| CronJob {
                id: format!("08e00000000000{i}AAA"),
                name,
                state: "WAITING".into(),
                next_fire: Some(now + 60),
                previous_fire: None,
                owner_id: "005000000000001AAA".into(),
                owner: Some(Owner {
                    username: "admin@acme.com".into(),
                    active: true,
                }),
            })
            .collect()),
        dispatchers: Ok(vec![]),
        remote_site: Ok(Some(RemoteSite {
            name: "Sfhooks_Callback".into(),
            url: "https://hooks.example.com".into(),
            active: true,
        })),
        api_usage: Some((12, 15000)),
    }
}

fn expect() -> Expect {
    Expect {
        names: Names::new("Sfhooks"),
        callback_url: url::Url::parse("https://hooks.example.com/salesforce").unwrap(),
        max_lag_secs: 1800,
    }
}

fn codes(report: &Report) -> Vec<&'static str> {
    report.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn a_healthy_org_has_no_reasons() {
    let report = evaluate(healthy_facts(), expect());
    assert!(report.healthy(), "{:?}", report.reasons);
    assert_eq!(report.code(), 0);
    assert!(
        report.to_text().ends_with("\nhealthy\n"),
        "{}",
        report.to_text()
    );
    let json = report.to_json();
    assert_eq!(json["healthy"], true);
    assert_eq!(json["outbox"]["pending"], 2);
    assert_eq!(json["outbox"]["lagSeconds"], 30);
    assert_eq!(json["settings"]["orgIdMatches"], true);
    assert_eq!(json["remoteSite"]["matches"], true);
}

#[test]
fn dead_rows_and_a_missing_sweeper_give_both_reasons() {
    let mut facts = healthy_facts();
    if let Ok(outbox) = &mut facts.outbox {
        outbox.groups.push(Group {
            status: "Dead".into(),
            event_type: Some("UPDATED".into()),
            count: 12,
            oldest: Some(facts.now - 90_000),
        });
        outbox.dead.push(DeadRow {
            name: "OB-000042".into(),
            status_code: Some(503),
            last_error: Some("Service Unavailable\n<html>…".into()),
            ..DeadRow::default()
        });
    }
    if let Ok(jobs) = &mut facts.jobs {
        jobs.remove(1);
        jobs[2].state = "ERROR".into();
    }
    let report = evaluate(facts, expect());
    assert_eq!(codes(&report), ["DEAD_ROWS", "SWEEPER"]);
    assert!(report.reasons[0].message.contains("12 Dead rows"));
    assert!(report.reasons[0]
        .message
        .contains("HTTP 503, Service Unavailable <html>…"));
    assert!(
        report.reasons[1]
            .message
            .contains("2 of the 4 sweeper jobs are not scheduled (SfhooksSweeper :15, SfhooksSweeper :45: ERROR)"),
        "{}",
        report.reasons[1].message
    );
    assert_eq!(report.code(), 1);
}

#[test]
fn a_record_pinned_to_another_org_says_delivery_is_held() {
    let mut facts = healthy_facts();
    facts.settings = Ok(Some(Settings {
        org_id: Some("00D000000000009AAA".into()),
        secret_set: true,
        ..Settings::default()
    }));
    let report = evaluate(facts, expect());
    assert_eq!(codes(&report), ["OTHER_ORG"]);
    assert!(report.reasons[0]
        .message
        .contains("pinned to org 00D000000000009AAA"));
    assert_eq!(report.to_json()["settings"]["orgIdMatches"], false);
    let mut facts = healthy_facts();
    facts.settings = Ok(Some(Settings {
        secret_set: false,
        bypass_delivery: true,
        ..Settings::default()
    }));
    let report = evaluate(facts, expect());
    assert_eq!(codes(&report), ["NO_SECRET", "NOT_PINNED", "DELIVERY_OFF"]);
}

#[test]
fn a_remote_site_must_allow_the_callback_url() {
    let url = url::Url::parse("https://hooks.example.com/salesforce").unwrap();
    assert!(remote_site_allows("https://hooks.example.com", &url));
    assert!(remote_site_allows("https://HOOKS.example.com:443/", &url));
    assert!(remote_site_allows("https://hooks.example.com/sales", &url));
    assert!(!remote_site_allows("https://old-hooks.example.com", &url));
    assert!(!remote_site_allows("http://hooks.example.com", &url));
    assert!(!remote_site_allows("https://hooks.example.com:8443", &url));
    assert!(!remote_site_allows("https://hooks.example.com/other", &url));
    assert!(!remote_site_allows("not a url", &url));
    let mut facts = healthy_facts();
    facts.remote_site = Ok(Some(RemoteSite {
        name: "Sfhooks_Callback".into(),
        url: "https://old-hooks.example.com".into(),
        active: true,
    }));
    let report = evaluate(facts, expect());
    assert_eq!(codes(&report), ["REMOTE_SITE"]);
    assert!(report.reasons[0]
        .message
        .contains("allows https://old-hooks.example.com"));
    let mut facts = healthy_facts();
    facts.remote_site = Ok(None);
    assert_eq!(codes(&evaluate(facts, expect())), ["REMOTE_SITE"]);
}

#[test]
fn without_the_outbox_one_reason_says_sfhooks_is_not_deployed() {
    let mut facts = healthy_facts();
    facts.outbox = Err(Unreadable::Missing {
        object: "Sfhooks_Outbox__c".into(),
        detail: "sObject type 'Sfhooks_Outbox__c' is not supported".into(),
    });
    facts.settings = Ok(None);
    facts.remote_site = Ok(None);
    let report = evaluate(facts, expect());
    assert_eq!(codes(&report), ["NOT_DEPLOYED"]);
    assert!(report.reasons[0]
        .message
        .contains("sfhooks is not deployed in this org"));
    assert!(report.reasons[0].message.contains("Sfhooks_Viewer"));
    let mut facts = healthy_facts();
    facts.outbox = Err(Unreadable::Missing {
        object: "Sfhooks_Outbox__c".into(),
        detail: "INVALID_FIELD: No such column 'Event_Type__c'".into(),
    });
    let report = evaluate(facts, expect());
    assert_eq!(codes(&report), ["OUTDATED"]);
    assert!(report.reasons[0].message.contains("older sfhooks"));
}

#[test]
fn lag_gaps_switches_and_unreadable_parts_each_have_a_reason() {
    let mut facts = healthy_facts();
    let now = facts.now;
    if let Ok(outbox) = &mut facts.outbox {
        outbox.groups[0].oldest = Some(now - 7200);
        outbox.groups.push(Group {
            status: "Pending".into(),
            event_type: Some("GAP".into()),
            count: 1,
            oldest: Some(now - 600),
        });
        outbox.gaps.push(GapRow {
            name: "OB-9".into(),
            object: Some("Contact".into()),
            created: Some(now - 600),
            ..GapRow::default()
        });
        outbox.gaps.push(GapRow {
            name: "OB-1".into(),
            object: Some("Account".into()),
            created: Some(now - 3 * 86_400),
            ..GapRow::default()
        });
    }
    facts.state = Ok(Some(RuntimeState {
        delivery_off: true,
        delivery_off_reason: Some("GONE: 410 from https://hooks.example.com/salesforce".into()),
        ..RuntimeState::default()
    }));
    facts.remote_site = Err(Unreadable::NoAccess {
        object: "RemoteProxy".into(),
        detail: "insufficient access rights".into(),
    });
    if let Ok(jobs) = &mut facts.jobs {
        jobs[0].owner = Some(Owner {
            username: "gone@acme.com".into(),
            active: false,
        });
    }
    let report = evaluate(facts, expect());
    assert_eq!(
        codes(&report),
        [
            "LAG",
            "GAPS",
            "STOPPED_BY_APEX",
            "JOB_OWNER_INACTIVE",
            "NO_ACCESS"
        ]
    );
    assert!(
        report.reasons[0].message.contains("waited 2 h"),
        "{}",
        report.reasons[0].message
    );
    assert!(report.reasons[1]
        .message
        .starts_with("1 gap marker in the last 24 h (Contact)"));
    assert!(report.reasons[2].message.contains("GONE: 410 from"));
    assert!(report.reasons[3].message.contains("gone@acme.com"));
    assert!(report.reasons[4].message.contains("View Setup"));
    let json = report.to_json();
    assert_eq!(json["outbox"]["gaps"], 1);
    assert_eq!(json["remoteSite"]["error"], "noAccess");
    assert_eq!(json["runtime"]["deliveryOff"], true);
    let mut facts = healthy_facts();
    facts.state = Ok(Some(RuntimeState {
        paused: true,
        held_reason: Some("ORG_MISMATCH: the settings record was made for org X".into()),
        ..RuntimeState::default()
    }));
    let report = evaluate(facts, expect());
    assert_eq!(codes(&report), ["PAUSED", "HELD"]);
    assert!(report.reasons[0].message.contains("SfhooksJobs.restore();"));
}

#[test]
fn two_running_dispatchers_are_a_reason_a_queued_next_one_is_not() {
    let job = |status: &str| AsyncJob {
        status: status.into(),
        ..AsyncJob::default()
    };
    let mut facts = healthy_facts();
    facts.dispatchers = Ok(vec![job("Processing"), job("Queued")]);
    assert!(evaluate(facts, expect()).healthy());
    let mut facts = healthy_facts();
    facts.dispatchers = Ok(vec![job("Processing"), job("Processing")]);
    assert_eq!(codes(&evaluate(facts, expect())), ["CHAINS"]);
}

#[test]
fn org_ids_compare_on_their_first_15_characters() {
    assert!(same_org("00D000000000001", "00D000000000001AAA"));
    assert!(!same_org("00D000000000001", "00d000000000001AAA"));
    assert!(!same_org("", "00D000000000001AAA"));
}
