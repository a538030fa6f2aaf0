//! `sfhooks poll`: polls orgs through the REST API and delivers signed events.
//!
//! Flags + sfhooks.toml -> the orgs to poll (`setup`) -> the scheduler (`sfhooks::poll`) with a
//! printer for its notes (`output`) -> the exit code. `poll status` and `poll replay` read and
//! mend the state only (`state`).
mod jetstream;
mod output;
mod setup;
mod state;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cli::{PollAction, PollArgs};
use crate::exit::{self, UsageError};
use sfhooks::poll::publish::Sink;
use sfhooks::poll::scheduler::{self, RunOptions};
use sfhooks::poll::store::{StateLock, Store, StoreError};

/// Runs `sfhooks poll`, or its subcommand.
pub fn run(args: &PollArgs) -> anyhow::Result<u8> {
    match &args.action {
        Some(PollAction::Status(a)) => state::status(a),
        Some(PollAction::Replay(a)) => state::replay(a),
        None => poll(args),
    }
}

/// The state errors that are the user's to fix (exit 2).
pub(crate) fn store_failed(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::InUse { .. }
        | StoreError::OtherOrg { .. }
        | StoreError::Schema { .. }
        | StoreError::Lock { .. } => UsageError::new(err.to_string()).into(),
        other => anyhow::Error::new(other),
    }
}

fn poll(args: &PollArgs) -> anyhow::Result<u8> {
    let plan = setup::plan(&args.run)?;
    if let Some(parent) = plan.state.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(UsageError::new(format!(
                "the folder of the poll state {} does not exist: create it, or pass --state",
                plan.state.display()
            ))
            .into());
        }
    }
    let _lock = StateLock::acquire(&plan.state).map_err(store_failed)?;
    // A state made for another org is refused at the first sign-in; check what we can now.
    drop(Store::open(&plan.state).map_err(store_failed)?);
    let sink = plan
        .jetstream
        .as_ref()
        .map(jetstream::connect)
        .transpose()?;
    let stop = Arc::new(AtomicBool::new(false));
    if !args.run.once {
        watch_signals(Arc::clone(&stop));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let printer = output::Printer::start(rx, args.run.json);
    let connect = setup::connector(&plan, &args.run.org);
    let run_end = scheduler::run(RunOptions {
        jobs: &plan.jobs,
        settings: &plan.settings,
        interval: plan.interval,
        concurrency: plan.concurrency,
        once: args.run.once,
        state: &plan.state,
        retention: plan.retention,
        connect: &connect,
        sink: match &sink {
            Some(js) => Sink::JetStream(js),
            None => Sink::Post(&plan.receiver_http),
        },
        notes: tx,
        stop: &stop,
    });
    let seen = printer.finish();
    let run_end = run_end.map_err(store_failed)?;
    let store = Store::open(&plan.state).map_err(store_failed)?;
    let mut counts = sfhooks::poll::store::OutboxCounts::default();
    for job in &plan.jobs {
        let c = store.counts(Some(&job.name)).map_err(store_failed)?;
        counts.pending += c.pending;
        counts.retrying += c.retrying;
        counts.dead += c.dead;
    }
    output::summary(args.run.json, seen.delivered, &counts)?;
    if let Some(duplicates) = sink.as_ref().map(|s| s.duplicates()).filter(|d| *d > 0) {
        // Another poller of the org, or an earlier attempt whose acknowledgement was lost.
        eprintln!("sfhooks poll: {duplicates} of them JetStream had already (not stored twice)");
    }
    if !args.run.once {
        // Stopped by a signal: what was committed stays, the next run resumes there.
        return Ok(exit::OK);
    }
    let code = if run_end.orgs.iter().any(|e| e.config_error.is_some()) {
        exit::USAGE
    } else if run_end.orgs.iter().any(|e| e.auth_error.is_some()) {
        exit::AUTH
    } else if counts.pending + counts.retrying + counts.dead > 0
        || run_end.orgs.iter().any(|e| e.error.is_some() || e.paused)
    {
        exit::FAILURE
    } else {
        exit::OK
    };
    Ok(code)
}

/// SIGINT and SIGTERM set `stop`: the workers finish the transaction they are in and return.
fn watch_signals(stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                let Ok(mut term) = signal(SignalKind::terminate()) else {
                    return;
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        });
        eprintln!("sfhooks poll: stopping after the current transaction");
        stop.store(true, Ordering::SeqCst);
    });
}
