//! The deletes of a window: DELETED events from the delete log, or one GAP event when the log
//! was purged before the window's start.
use serde_json::{Map, Value};

use super::rows::enqueue_all;
use super::{session_or_budget, Ctx, Failure, Plan};
use crate::poll::clock::local_now_ms;
use crate::poll::event::{change_event, gap_event};
use crate::poll::fetch::{self, SubAnswer};
use crate::poll::store::{Known, Store};
use crate::poll::Note;
use crate::webhook::envelope::GapReason;
use crate::webhook::EventType;

/// Handles a `deleted` answer: DELETED events for deletions not seen before, or a GAP event
/// when the org's delete log no longer reaches back to the window's start.
pub(super) fn deletions(
    ctx: &mut Ctx<'_, '_>,
    store: &mut Store,
    plan: &Plan,
    start: i64,
    end: i64,
    answer: SubAnswer,
    org_id: &str,
) -> Result<(), Failure> {
    let org = ctx.job.name.clone();
    let now = local_now_ms();
    match answer {
        SubAnswer::Ok(body) => {
            let deleted = fetch::deleted_of(&body);
            let batch = store.batch()?;
            let mut events = Vec::new();
            for (id, date) in &deleted.records {
                let known = batch.known(&org, &plan.object, id)?;
                let seen = known.as_ref().is_some_and(|k| match k.deleted_at {
                    Some(at) => at == *date,
                    // A live version newer than this deletion: it was undeleted since.
                    None => k.stamp >= *date,
                });
                if seen {
                    continue;
                }
                let remember = Known {
                    stamp: known.as_ref().map_or(*date, |k| k.stamp.max(*date)),
                    deleted_at: Some(*date),
                    digests: known.map(|k| k.digests).unwrap_or_default(),
                };
                batch.remember(&org, &plan.object, id, &remember, now)?;
                let mut record = Map::new();
                record.insert("Id".into(), Value::from(id.as_str()));
                events.push(change_event(
                    org_id,
                    &plan.object,
                    id,
                    *date,
                    EventType::Deleted,
                    None,
                    record,
                ));
            }
            events.sort_by(|a, b| {
                (&a.occurred_at, &a.object_id).cmp(&(&b.occurred_at, &b.object_id))
            });
            enqueue_all(&batch, ctx, &plan.object, events, end, org_id, now)?;
            let covered = deleted.latest_covered.unwrap_or(end).min(end);
            batch.advance_deletes(&org, &plan.object, covered, None)?;
            batch.commit()?;
            Ok(())
        }
        SubAnswer::Failed { error_code, .. } if error_code == "INVALID_REPLICATION_DATE" => {
            // The refusal does not say where the log now starts; it started before the org's
            // clock of this answer, so the lost span ends at that minute's end and the next
            // window starts there (one purge, one GAP).
            let org_now = ctx.rt.clock.map_or(end, |c| c.now());
            let to = (org_now.div_euclid(60_000) + 1) * 60_000;
            let batch = store.batch()?;
            let gap = gap_event(
                org_id,
                &plan.object,
                start,
                to,
                GapReason::DeleteLogPurged,
                end,
            );
            enqueue_all(&batch, ctx, &plan.object, vec![gap], end, org_id, now)?;
            batch.advance_deletes(&org, &plan.object, to, Some(to))?;
            batch.commit()?;
            let message = format!(
                "deletions of {} in org {org:?} since {} are lost: the org's delete log was purged \
                 (INVALID_REPLICATION_DATE); a GAP event was sent; resync with `sfhooks poll \
                 --backfill {} --org {org} --object {}` and compare the receiver's records",
                plan.object,
                crate::poll::clock::format_ms(start),
                crate::poll::clock::soql_literal(start),
                plan.object
            );
            let _ = store.note_object_error(&org, &plan.object, Some(&message));
            ctx.note(Note::Gap {
                org,
                object: plan.object.clone(),
                from: start,
                to,
                message,
            });
            Ok(())
        }
        SubAnswer::Failed {
            status,
            error_code,
            message,
        } => {
            if let Some(failure) = session_or_budget(&error_code, &message) {
                return Err(failure);
            }
            Err(Failure::Other(format!(
                "the deleted records of {} could not be read: HTTP {status} {error_code}: {message}",
                plan.object
            )))
        }
    }
}
