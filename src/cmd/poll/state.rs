//! `sfhooks poll status` and `sfhooks poll replay`: read and mend the state file only, no org
//! call, so they work while a poller runs (SQLite WAL lets them read beside it).
use std::path::PathBuf;

use serde_json::json;

use crate::cli::{PollReplayArgs, PollStatusArgs, StateArgs};
use crate::exit::{self, UsageError};
use sfhooks::pipeline::time::format_age;
use sfhooks::poll::clock::{format_ms, local_now_ms};
use sfhooks::poll::store::Store;

fn state_of(args: &StateArgs) -> anyhow::Result<PathBuf> {
    if let Some(state) = &args.state {
        return Ok(state.clone());
    }
    let config = match &args.config {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from(sfhooks::config::DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
    };
    // Only the [poll] table matters here: read it without the rest of the configuration's rules.
    let Some(config) = config else {
        return Ok(PathBuf::from(sfhooks::config::poll::DEFAULT_STATE_FILE));
    };
    let loaded = sfhooks::config::load(&sfhooks::config::Overrides {
        config: Some(config.clone()),
        ..Default::default()
    })?;
    Ok(loaded.poll.state)
}

fn open(args: &StateArgs) -> anyhow::Result<Store> {
    let path = state_of(args)?;
    Store::open_existing(&path)
        .map_err(super::store_failed)?
        .ok_or_else(|| {
            UsageError::new(format!(
                "there is no poll state at {}: run `sfhooks poll` first, or pass --state",
                path.display()
            ))
            .into()
        })
}

pub fn status(args: &PollStatusArgs) -> anyhow::Result<u8> {
    let store = open(&args.state)?;
    let orgs = store.overview().map_err(super::store_failed)?;
    let dead: i64 = orgs.iter().map(|o| o.counts.dead).sum();
    if args.json {
        let doc = json!({"orgs": orgs.iter().map(|o| json!({
            "name": o.name, "orgId": o.org_id,
            "orgClock": o.org_clock.map(format_ms),
            "pending": o.counts.pending, "retrying": o.counts.retrying, "dead": o.counts.dead,
            "delivered": o.counts.delivered, "lastError": o.last_error,
            "lastDeliveryError": o.last_delivery_error,
            "objects": o.objects.iter().map(|ob| json!({
                "object": ob.object, "cursor": format_ms(ob.changes_at),
                "lagSeconds": o.org_clock.map(|c| (c - ob.changes_at).max(0) / 1000),
                "lastError": ob.last_error,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()});
        println!("{doc}");
    } else {
        if orgs.is_empty() {
            println!("no org has been polled yet");
        }
        for o in &orgs {
            println!(
                "org {} ({}): pending {} · retrying {} · dead {} · delivered {} (in the retention)",
                o.name,
                o.org_id,
                o.counts.pending,
                o.counts.retrying,
                o.counts.dead,
                o.counts.delivered
            );
            if let Some(e) = &o.last_error {
                println!("  last error: {e}");
            }
            if let Some(e) = &o.last_delivery_error {
                println!("  last delivery error: {e}");
            }
            for ob in &o.objects {
                let lag = o
                    .org_clock
                    .map(|c| {
                        format!(
                            ", {} behind the org's clock",
                            format_age((c - ob.changes_at) / 1000)
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "  {:<24} cursor {}{lag}",
                    ob.object,
                    format_ms(ob.changes_at)
                );
                if let Some(e) = &ob.last_error {
                    println!("  {:<24} last error: {e}", "");
                }
            }
        }
        if dead > 0 {
            println!("{dead} dead deliveries: fix the receiver, then `sfhooks poll replay --dead`");
        }
    }
    Ok(if dead > 0 { exit::FAILURE } else { exit::OK })
}

pub fn replay(args: &PollReplayArgs) -> anyhow::Result<u8> {
    let store = open(&args.state)?;
    if let Some(org) = &args.org {
        let names = store.org_names().map_err(super::store_failed)?;
        if !names.contains(org) {
            return Err(UsageError::new(format!(
                "--org {org:?} is not in the poll state; its orgs: {}",
                names.join(", ")
            ))
            .into());
        }
    }
    let n = store
        .replay_dead(args.org.as_deref(), local_now_ms())
        .map_err(super::store_failed)?;
    println!(
        "{n} dead deliveries put back to pending; the next `sfhooks poll` sends them with the same \
         webhook-id and bytes, so receivers that dedupe on it ignore what they already have"
    );
    Ok(exit::OK)
}
