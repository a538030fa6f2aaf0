//! The changes of a window: every page of every part of the query, classified and committed
//! batch by batch with the cursor (see the parent module for why batches end at page boundaries).
use serde_json::{Map, Value};

use super::{rest_failure, session_or_budget, Ctx, Failure, Plan, Window};
use crate::config::Events;
use crate::poll::classify::{classify, Row};
use crate::poll::clock::{local_now_ms, parse_ms};
use crate::poll::event::{build_delivery, change_event};
use crate::poll::fetch::{self, SubAnswer};
use crate::poll::store::{Batch, Store, StoreError};
use crate::salesforce::rest::RestClient;
use crate::webhook::envelope::Event;
use crate::webhook::EventType;

/// The record as the event carries it: with `fields`, `Id` and those fields (nulls kept); else
/// every populated field, as the Apex's `getPopulatedFieldsAsMap`.
pub(super) fn record_of(plan: &Plan, fields: &Map<String, Value>) -> Map<String, Value> {
    match &plan.fields {
        Some(list) => {
            let mut out = Map::new();
            if let Some(id) = fields.get("Id") {
                out.insert("Id".into(), id.clone());
            }
            for name in list {
                let value = fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map_or(Value::Null, |(_, v)| v.clone());
                out.insert(name.clone(), value);
            }
            out
        }
        None => fields
            .iter()
            .filter(|(k, v)| !v.is_null() && *k != "attributes")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

pub(super) fn enabled(events: &Events, kind: EventType) -> bool {
    match kind {
        EventType::Created => events.created,
        EventType::Updated => events.updated,
        EventType::Deleted => events.deleted,
        EventType::Undeleted => events.undeleted,
        _ => true,
    }
}

/// Reads the changes of a window (every page of every part) and commits them batch by batch.
/// Returns (rows read, events built).
pub(super) fn changes(
    ctx: &mut Ctx<'_, '_>,
    store: &mut Store,
    client: &RestClient,
    plan: &Plan,
    window: &Window,
    firsts: Vec<SubAnswer>,
    org_id: &str,
) -> Result<(usize, usize), Failure> {
    let mut pages = Vec::with_capacity(firsts.len());
    for first in firsts {
        match first {
            SubAnswer::Ok(body) => pages.push(fetch::page_of(body).map_err(Failure::Other)?),
            SubAnswer::Failed {
                status,
                error_code,
                message,
            } => {
                let text = format!(
                    "the changes query of {} failed: HTTP {status} {error_code}: {message}",
                    plan.object
                );
                if error_code == "INVALID_FIELD" || error_code == "INVALID_TYPE" {
                    return Err(Failure::Config(format!("org {:?}: {text}", ctx.job.name)));
                }
                if let Some(failure) = session_or_budget(&error_code, &text) {
                    return Err(failure);
                }
                let _ = store.note_object_error(&ctx.job.name, &plan.object, Some(&text));
                return Err(Failure::Other(text));
            }
        }
    }
    if pages.len() > 1 {
        // A split field list: read every part whole and join the rows on Id and SystemModstamp.
        let mut parts: Vec<Vec<Value>> = Vec::new();
        for page in pages {
            let mut rows = page.records;
            let mut next = page.next;
            while let Some(url) = next {
                let (p, meta) = fetch::next_page(client, &url).map_err(rest_failure)?;
                ctx.meta(&meta)?;
                rows.extend(p.records);
                next = p.next;
            }
            parts.push(rows);
        }
        let rows = join_parts(parts);
        let n = rows.len();
        let events = commit_rows(ctx, store, plan, window, rows, window.end, org_id)?;
        return Ok((n, events));
    }
    let mut page = pages.pop().expect("one part");
    let (mut rows_read, mut events) = (0, 0);
    let mut carry: Vec<Value> = Vec::new();
    loop {
        rows_read += page.records.len();
        let mut rows = std::mem::take(&mut carry);
        rows.extend(page.records);
        match page.next.take() {
            None => {
                events += commit_rows(ctx, store, plan, window, rows, window.end, org_id)?;
                return Ok((rows_read, events));
            }
            Some(url) => {
                let last = rows.last().map(stamp_of).unwrap_or(window.start);
                let cut = rows.partition_point(|r| stamp_of(r) < last);
                carry = rows.split_off(cut);
                if !rows.is_empty() {
                    events += commit_rows(ctx, store, plan, window, rows, last, org_id)?;
                }
                if ctx.stop.load(std::sync::atomic::Ordering::SeqCst) {
                    // SIGTERM: what is committed stays; the next run resumes at this cursor.
                    return Ok((rows_read, events));
                }
                let (p, meta) = fetch::next_page(client, &url).map_err(rest_failure)?;
                ctx.meta(&meta)?;
                page = p;
            }
        }
    }
}

pub(super) fn stamp_of(row: &Value) -> i64 {
    row.get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_ms)
        .unwrap_or(0)
}

/// The rows present in every part with the same stamp, their fields merged (a row missing from
/// a later part changed between the queries; the next window reads its newer version).
pub(super) fn join_parts(parts: Vec<Vec<Value>>) -> Vec<Value> {
    let mut iter = parts.into_iter();
    let Some(first) = iter.next() else {
        return Vec::new();
    };
    let mut rows: Vec<Value> = first;
    for part in iter {
        let mut by_id: std::collections::HashMap<String, Value> = part
            .into_iter()
            .filter_map(|r| Some((r.get("Id")?.as_str()?.to_string(), r)))
            .collect();
        rows.retain_mut(|row| {
            let id = row
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match by_id.remove(&id) {
                Some(other) if stamp_of(&other) == stamp_of(row) => {
                    if let (Some(a), Value::Object(b)) = (row.as_object_mut(), other) {
                        a.extend(b);
                    }
                    true
                }
                _ => false,
            }
        });
    }
    rows
}

/// Classifies rows and commits their events, memories and the cursor in one transaction.
pub(super) fn commit_rows(
    ctx: &mut Ctx<'_, '_>,
    store: &mut Store,
    plan: &Plan,
    window: &Window,
    rows: Vec<Value>,
    cursor_to: i64,
    org_id: &str,
) -> Result<usize, Failure> {
    let org = ctx.job.name.as_str();
    let now = local_now_ms();
    let batch = store.batch()?;
    let mut events: Vec<Event> = Vec::new();
    for row in rows {
        let Value::Object(mut fields) = row else {
            continue;
        };
        fields.remove("attributes");
        let Some(id) = fields.get("Id").and_then(Value::as_str).map(str::to_string) else {
            continue;
        };
        let stamp = fields
            .get("SystemModstamp")
            .and_then(Value::as_str)
            .and_then(parse_ms)
            .unwrap_or(0);
        let created = fields
            .get("CreatedDate")
            .and_then(Value::as_str)
            .and_then(parse_ms);
        let known = batch.known(org, &plan.object, &id)?;
        let verdict = classify(
            known.as_ref(),
            Row {
                stamp,
                created,
                fields: &fields,
            },
            window.start,
            plan.watched.as_deref(),
        );
        if let Some(remember) = &verdict.remember {
            batch.remember(org, &plan.object, &id, remember, now)?;
        }
        if let Some((kind, changed)) = verdict.event {
            if enabled(&ctx.job.events, kind) {
                events.push(change_event(
                    org_id,
                    &plan.object,
                    &id,
                    stamp,
                    kind,
                    changed,
                    record_of(plan, &fields),
                ));
            }
        }
    }
    let count = events.len();
    enqueue_all(&batch, ctx, &plan.object, events, window.end, org_id, now)?;
    batch.advance_changes(org, &plan.object, cursor_to, now)?;
    batch.commit()?;
    Ok(count)
}

pub(super) fn enqueue_all(
    batch: &Batch<'_>,
    ctx: &Ctx<'_, '_>,
    object: &str,
    events: Vec<Event>,
    timestamp: i64,
    org_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<Event> = events.by_ref().take(ctx.settings.max_events).collect();
        let built = build_delivery(org_id, chunk, timestamp);
        batch.enqueue(
            &ctx.job.name,
            object,
            &built.webhook_id,
            &built.body,
            built.events,
            now,
        )?;
    }
    Ok(())
}
