//! The I/O of `status` and `replay`: the queries of [`super::soql`] through the shared REST
//! client, their records turned into the model of [`super::health`] and [`super::replay`].
//!
//! A part of the org that this user cannot read (an object or field that does not exist for
//! them: `INVALID_TYPE`, `INVALID_FIELD`; a refusal: `INSUFFICIENT_ACCESS...`) becomes an
//! [`Unreadable`] part of the facts; anything else (an expired session that cannot be renewed,
//! the API limit, no answer) ends the reading with the [`RestError`].
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::health::{
    AsyncJob, CronJob, DeadRow, Facts, GapRow, Group, Org, Outbox, Owner, Part, RemoteSite,
    RuntimeState, Settings, Unreadable, LISTED_ROWS,
};
use super::names::Names;
use super::replay::{reset_record, Candidate, Tally, BATCH_SIZE};
use super::soql::{self, Selection};
use super::time::parse_datetime;
use crate::salesforce::rest::{AnonymousResult, AnswerMeta, RestClient, RestError};

/// The org's clock from an answer, else this machine's.
pub fn org_now(meta: &AnswerMeta) -> i64 {
    let time = meta.date.unwrap_or_else(SystemTime::now);
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The org's clock, read from the answer to a one-row query (so `--since 6h` means six hours
/// of the org's time, not of this machine's).
pub fn org_clock(client: &RestClient) -> Result<i64, RestError> {
    Ok(org_now(&client.query(&soql::organization())?.meta))
}

/// Turns the refusals that mean "this user cannot read that" into an [`Unreadable`] part.
fn part<T>(object: &str, result: Result<T, RestError>) -> Result<Part<T>, RestError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) => {
            let code = err.error_code().unwrap_or_default().to_string();
            let detail = match &err {
                RestError::Api { message, .. } => {
                    super::health::shorten(&format!("{code}: {message}"), 200)
                }
                other => other.to_string(),
            };
            let object = object.to_string();
            if matches!(
                code.as_str(),
                "INVALID_TYPE" | "INVALID_FIELD" | "NOT_FOUND"
            ) {
                Ok(Err(Unreadable::Missing { object, detail }))
            } else if code.starts_with("INSUFFICIENT_ACCESS") || code == "INSUFFICIENT_PRIVILEGES" {
                Ok(Err(Unreadable::NoAccess { object, detail }))
            } else {
                Err(err)
            }
        }
    }
}

fn string(record: &Value, field: &str) -> Option<String> {
    super::record_field(record, field)
        .as_str()
        .map(str::to_string)
}

fn boolean(record: &Value, field: &str) -> bool {
    super::record_field(record, field)
        .as_bool()
        .unwrap_or(false)
}

fn number(record: &Value, field: &str) -> Option<f64> {
    super::record_field(record, field).as_f64()
}

fn time(record: &Value, field: &str) -> Option<i64> {
    string(record, field).and_then(|t| parse_datetime(&t))
}

/// Reads everything `sfhooks status` judges.
pub fn status_facts(client: &RestClient, names: &Names) -> Result<Facts, RestError> {
    let org = client.query(&soql::organization())?;
    let now = org_now(&org.meta);
    let org_usage = org.meta.api_usage;
    let org = org
        .records
        .first()
        .map(|r| Org {
            id: string(r, "Id").unwrap_or_default(),
            name: string(r, "Name").unwrap_or_default(),
            sandbox: boolean(r, "IsSandbox"),
        })
        .ok_or_else(|| RestError::Decode {
            method: reqwest::Method::GET,
            path: client.data_path("query"),
            detail: "the Organization query returned no row".into(),
        })?;

    let outbox = part(&names.outbox, outbox(client, names))?;
    let settings = part(&names.settings, settings(client, names))?;
    let state = part(&names.state, runtime_state(client, names, &org.id))?;
    let jobs = part("CronTrigger", scheduled_jobs(client, names))?;
    let dispatchers = part("AsyncApexJob", dispatchers(client, names))?;
    let remote_site = part("RemoteProxy", remote_site(client, names))?;
    Ok(Facts {
        now,
        org,
        outbox,
        settings,
        state,
        jobs,
        dispatchers,
        remote_site,
        // The first answer's count: the reading itself adds about ten.
        api_usage: org_usage,
    })
}

fn outbox(client: &RestClient, names: &Names) -> Result<Outbox, RestError> {
    let groups = client
        .query(&soql::outbox_summary(names))?
        .records
        .iter()
        .map(|r| Group {
            status: string(r, "Status__c").unwrap_or_default(),
            event_type: string(r, "Event_Type__c"),
            count: number(r, "total").unwrap_or(0.0) as u64,
            oldest: time(r, "oldest"),
        })
        .collect::<Vec<_>>();
    let has = |status: &str| groups.iter().any(|g| g.status == status && g.count > 0);
    let dead = if has("Dead") {
        client
            .query(&soql::newest_dead(names, LISTED_ROWS))?
            .records
            .iter()
            .map(|r| DeadRow {
                id: string(r, "Id").unwrap_or_default(),
                name: string(r, "Name").unwrap_or_default(),
                object: string(r, "Object_Type__c"),
                event_type: string(r, "Event_Type__c"),
                attempts: number(r, "Attempts__c").map(|n| n as u32),
                status_code: number(r, "Last_Status_Code__c").map(|n| n as u16),
                last_error: string(r, "Last_Error__c"),
                last_attempt_at: time(r, "Last_Attempt_At__c"),
            })
            .collect()
    } else {
        Vec::new()
    };
    let any_gap = groups
        .iter()
        .any(|g| g.event_type.as_deref() == Some(soql::GAP_EVENT_TYPE));
    let gaps = if any_gap {
        client
            .query(&soql::newest_gaps(names, LISTED_ROWS))?
            .records
            .iter()
            .map(|r| GapRow {
                id: string(r, "Id").unwrap_or_default(),
                name: string(r, "Name").unwrap_or_default(),
                object: string(r, "Object_Type__c"),
                status: string(r, "Status__c"),
                created: time(r, "CreatedDate"),
                from: time(r, "Gap_From__c"),
                to: time(r, "Gap_To__c"),
                count: number(r, "Gap_Count__c").map(|n| n as u64),
                reason: string(r, "Gap_Reason__c"),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Outbox { groups, dead, gaps })
}

fn settings(client: &RestClient, names: &Names) -> Result<Option<Settings>, RestError> {
    let found = client.query(&soql::settings(names))?;
    let Some(record) = found.records.first() else {
        return Ok(None);
    };
    let secret = client.query(&soql::secret_is_set(names))?;
    Ok(Some(Settings {
        org_id: string(record, "Org_Id__c"),
        bypass_capture: boolean(record, "Bypass_Capture__c"),
        bypass_delivery: boolean(record, "Bypass_Delivery__c"),
        secret_set: !secret.records.is_empty(),
    }))
}

fn runtime_state(
    client: &RestClient,
    names: &Names,
    org_id: &str,
) -> Result<Option<RuntimeState>, RestError> {
    let rows = client.query(&soql::runtime_state(names))?.records;
    let org_default = rows.iter().find(|r| {
        string(r, "SetupOwnerId").is_some_and(|owner| super::health::same_org(&owner, org_id))
    });
    Ok(org_default.map(|r| RuntimeState {
        paused: boolean(r, "Paused__c"),
        delivery_off: boolean(r, "Delivery_Off__c"),
        delivery_off_reason: string(r, "Delivery_Off_Reason__c"),
        held_reason: string(r, "Held_Reason__c"),
    }))
}

fn scheduled_jobs(client: &RestClient, names: &Names) -> Result<Vec<CronJob>, RestError> {
    let mut jobs: Vec<CronJob> = client
        .query(&soql::scheduled_jobs(names))?
        .records
        .iter()
        .map(|r| CronJob {
            id: string(r, "Id").unwrap_or_default(),
            name: string(r, "CronJobDetail.Name").unwrap_or_default(),
            state: string(r, "State").unwrap_or_default(),
            next_fire: time(r, "NextFireTime"),
            previous_fire: time(r, "PreviousFireTime"),
            owner_id: string(r, "OwnerId").unwrap_or_default(),
            owner: None,
        })
        .collect();
    let mut owners: Vec<&str> = jobs.iter().map(|j| j.owner_id.as_str()).collect();
    owners.sort_unstable();
    owners.dedup();
    owners.retain(|id| !id.is_empty());
    if owners.is_empty() {
        return Ok(jobs);
    }
    // Whether the owners are active is a detail: a user who may read the jobs but not the
    // users still gets the jobs.
    let users = match client.query(&soql::users(&owners)) {
        Ok(found) => found.records,
        Err(RestError::Api { .. }) => Vec::new(),
        Err(err) => return Err(err),
    };
    for job in &mut jobs {
        job.owner = users
            .iter()
            .find(|u| string(u, "Id").as_deref() == Some(job.owner_id.as_str()))
            .map(|u| Owner {
                username: string(u, "Username").unwrap_or_default(),
                active: boolean(u, "IsActive"),
            });
    }
    Ok(jobs)
}

fn dispatchers(client: &RestClient, names: &Names) -> Result<Vec<AsyncJob>, RestError> {
    Ok(client
        .query(&soql::open_dispatchers(names))?
        .records
        .iter()
        .map(|r| AsyncJob {
            id: string(r, "Id").unwrap_or_default(),
            status: string(r, "Status").unwrap_or_default(),
            created: time(r, "CreatedDate"),
        })
        .collect())
}

fn remote_site(client: &RestClient, names: &Names) -> Result<Option<RemoteSite>, RestError> {
    Ok(client
        .tooling_query(&soql::remote_site(names))?
        .records
        .first()
        .map(|r| RemoteSite {
            name: string(r, "SiteName").unwrap_or_default(),
            url: string(r, "EndpointUrl").unwrap_or_default(),
            active: boolean(r, "IsActive"),
        }))
}

/// The rows a replay would put back to Pending, and the org's clock when they were read.
/// Refusals that mean "not deployed" or "no access" come back as the [`Unreadable`].
pub fn select_rows(
    client: &RestClient,
    names: &Names,
    selection: &Selection,
) -> Result<Result<(Vec<Candidate>, i64), Unreadable>, RestError> {
    let found = part(
        &names.outbox,
        client.query(&soql::replay_candidates(names, selection)),
    )?;
    Ok(found.map(|result| {
        let rows = result
            .records
            .iter()
            .map(|r| Candidate {
                id: string(r, "Id").unwrap_or_default(),
                object: string(r, "Object_Type__c"),
            })
            .collect();
        (rows, org_now(&result.meta))
    }))
}

/// A replay that stopped before its last batch: what it did, and why it stopped.
#[derive(Debug, thiserror::Error)]
#[error("replay stopped after {} of {} rows: {source}", tally.replayed + tally.failed.len(), tally.selected)]
pub struct Interrupted {
    /// What was done before the error.
    pub tally: Tally,
    /// The error (boxed: a `RestError` is large).
    #[source]
    pub source: Box<RestError>,
}

/// Puts the rows back to Pending, [`BATCH_SIZE`] per sObject Collections request (not all or
/// none: one refused row does not hold back the others), calling `progress` after each batch.
pub fn reset_rows(
    client: &RestClient,
    names: &Names,
    rows: &[Candidate],
    now: i64,
    mut progress: impl FnMut(&Tally),
) -> Result<Tally, Box<Interrupted>> {
    let mut tally = Tally {
        selected: rows.len(),
        ..Tally::default()
    };
    for batch in rows.chunks(BATCH_SIZE) {
        let records: Vec<Value> = batch
            .iter()
            .map(|row| reset_record(names, &row.id, now))
            .collect();
        match client.patch_collection(&records, false) {
            Ok(answer) => tally.record(batch, &answer.body),
            Err(source) => {
                return Err(Box::new(Interrupted {
                    tally,
                    source: Box::new(source),
                }))
            }
        }
        progress(&tally);
    }
    Ok(tally)
}

/// Starts a dispatcher now (`<Prefix>Dispatcher.requestRun();`, which enqueues one unless one
/// is waiting) through the Tooling API's `executeAnonymous`: the one call here that needs
/// "Author Apex"; without it the sweeper starts one within 15 minutes.
pub fn start_dispatcher(client: &RestClient, names: &Names) -> Result<AnonymousResult, RestError> {
    client.execute_anonymous(&format!("{}.requestRun();", names.dispatcher))
}
