//! The report as one JSON object: the shape `sfhooks status --json` prints (README documents it).
use serde_json::{json, Value};

use super::super::time::format_datetime;
use super::{remote_site_allows, remote_site_origin, same_org, shorten, Part, Report};

fn opt_time(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_datetime(t)))
}

fn part_json<T>(part: &Part<T>, f: impl FnOnce(&T) -> Value) -> Value {
    match part {
        Ok(value) => f(value),
        Err(err) => err.to_json(),
    }
}

impl Report {
    /// The report as one JSON object (the shape `--json` prints; README documents it).
    pub fn to_json(&self) -> Value {
        let f = &self.facts;
        let names = &self.expect.names;
        let outbox = part_json(&f.outbox, |o| {
            let oldest_pending = o.oldest("Pending");
            json!({
                "object": names.outbox,
                "pending": o.count("Pending"),
                "retrying": o.count("Retrying"),
                "dead": o.count("Dead"),
                "delivered": o.count("Delivered"),
                "oldestPendingAt": opt_time(oldest_pending),
                "lagSeconds": oldest_pending.map(|t| (f.now - t).max(0)),
                "newestDead": o.dead.iter().map(|r| json!({
                    "id": r.id,
                    "name": r.name,
                    "objectType": r.object,
                    "eventType": r.event_type,
                    "attempts": r.attempts,
                    "lastStatusCode": r.status_code,
                    "lastError": r.last_error.as_deref().map(|e| shorten(e, 255)),
                    "lastAttemptAt": opt_time(r.last_attempt_at),
                })).collect::<Vec<_>>(),
                "gaps": o.gap_count(),
                "newestGaps": o.gaps.iter().map(|g| json!({
                    "id": g.id,
                    "name": g.name,
                    "objectType": g.object,
                    "status": g.status,
                    "createdAt": opt_time(g.created),
                    "from": opt_time(g.from),
                    "to": opt_time(g.to),
                    "count": g.count,
                    "reason": g.reason,
                })).collect::<Vec<_>>(),
            })
        });
        let settings = part_json(&f.settings, |s| match s {
            None => json!({"exists": false}),
            Some(s) => {
                let pinned = s.org_id.as_deref().filter(|id| !id.trim().is_empty());
                json!({
                    "exists": true,
                    "secretSet": s.secret_set,
                    "orgId": pinned,
                    "orgIdMatches": pinned.map(|p| same_org(p, &f.org.id)),
                    "bypassCapture": s.bypass_capture,
                    "bypassDelivery": s.bypass_delivery,
                })
            }
        });
        let state = part_json(&f.state, |s| {
            let s = s.clone().unwrap_or_default();
            json!({
                "paused": s.paused,
                "deliveryOff": s.delivery_off,
                "deliveryOffReason": s.delivery_off_reason,
                "heldReason": s.held_reason,
            })
        });
        let jobs = part_json(&f.jobs, |jobs| {
            Value::Array(
                jobs.iter()
                    .map(|j| {
                        json!({
                            "id": j.id,
                            "name": j.name,
                            "state": j.state,
                            "nextFireTime": opt_time(j.next_fire),
                            "previousFireTime": opt_time(j.previous_fire),
                            "ownerId": j.owner_id,
                            "owner": j.owner.as_ref().map(|o| o.username.clone()),
                            "ownerActive": j.owner.as_ref().map(|o| o.active),
                        })
                    })
                    .collect(),
            )
        });
        let dispatchers = part_json(&f.dispatchers, |jobs| {
            Value::Array(
                jobs.iter()
                    .map(|j| json!({"id": j.id, "status": j.status, "createdAt": opt_time(j.created)}))
                    .collect(),
            )
        });
        let expected = remote_site_origin(&self.expect.callback_url);
        let remote = part_json(&f.remote_site, |s| match s {
            None => json!({"name": names.remote_site, "exists": false, "expected": expected}),
            Some(s) => json!({
                "name": s.name,
                "exists": true,
                "url": s.url,
                "active": s.active,
                "matches": remote_site_allows(&s.url, &self.expect.callback_url),
                "expected": expected,
            }),
        });
        json!({
            "status": self.code(),
            "healthy": self.healthy(),
            "reasons": self.reasons.iter().map(|r| json!({"code": r.code, "message": r.message})).collect::<Vec<_>>(),
            "checkedAt": format_datetime(f.now),
            "org": {"id": f.org.id, "name": f.org.name, "sandbox": f.org.sandbox},
            "prefix": names.prefix,
            "outbox": outbox,
            "settings": settings,
            "runtime": state,
            "scheduledJobs": jobs,
            "dispatchers": dispatchers,
            "remoteSite": remote,
            "apiUsage": f.api_usage.map(|(used, max)| json!({"used": used, "max": max})),
        })
    }
}
