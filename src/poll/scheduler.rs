//! Many orgs on a few worker threads. The workers are the global cap on concurrent requests
//! (each makes one request at a time); an org is handed to one worker at a time, so a slow or
//! failing org holds one worker for one cycle and never delays another org's schedule beyond
//! that. Each worker has its own SQLite connection.
//!
//! First cycles are spread over the first half-minute by a hash of the org's name, later ones
//! come every interval plus up to a tenth of it, so a thousand orgs do not all query at once;
//! an org with a delivery retry due sooner comes back sooner.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::clock::{local_now_ms, ms};
use super::engine::{run_cycle, Connect, CycleEnd, OrgJob, OrgRuntime, Settings, Shared};
use super::publish::Sink;
use super::store::{Store, StoreError};
use super::Note;

/// How the run goes.
pub struct RunOptions<'a> {
    /// The orgs.
    pub jobs: &'a [OrgJob],
    /// Shared settings.
    pub settings: &'a Settings,
    /// Time between two cycles of an org.
    pub interval: Duration,
    /// Worker threads.
    pub concurrency: usize,
    /// One cycle per org, then return.
    pub once: bool,
    /// The state file.
    pub state: &'a Path,
    /// Retention of delivered rows and record memories.
    pub retention: Duration,
    /// Signs an org in.
    pub connect: &'a Connect<'a>,
    /// Where deliveries go.
    pub sink: Sink<'a>,
    /// Where notes go.
    pub notes: Sender<Note>,
    /// Set by SIGINT/SIGTERM: finish the current cycle, then return.
    pub stop: &'a AtomicBool,
}

/// What the run saw, per org: its last cycle's end.
#[derive(Debug, Default)]
pub struct RunEnd {
    /// The last cycle of each org, in the order of the jobs.
    pub orgs: Vec<CycleEnd>,
}

struct Queue {
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    running: usize,
}

fn jitter(name: &str, span_ms: i64) -> i64 {
    if span_ms <= 0 {
        return 0;
    }
    let h = Sha256::digest(name.as_bytes());
    let n = u64::from_le_bytes(h[..8].try_into().expect("8 bytes"));
    i64::try_from(n % span_ms.unsigned_abs()).unwrap_or(0)
}

/// Runs the orgs until `once` is done or `stop` is set.
pub fn run(opts: RunOptions<'_>) -> Result<RunEnd, StoreError> {
    let store = Store::open(opts.state)?;
    store.purge(local_now_ms(), opts.retention)?;
    drop(store);
    let now = local_now_ms();
    let interval = ms(opts.interval);
    let first_span = if opts.once { 0 } else { interval.min(30_000) };
    let queue = Mutex::new(Queue {
        heap: opts
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| Reverse((now + jitter(&j.name, first_span), i)))
            .collect(),
        running: 0,
    });
    let wake = Condvar::new();
    let runtimes: Vec<Mutex<OrgRuntime>> = opts
        .jobs
        .iter()
        .map(|_| Mutex::new(OrgRuntime::default()))
        .collect();
    let ends: Vec<Mutex<CycleEnd>> = opts
        .jobs
        .iter()
        .map(|_| Mutex::new(CycleEnd::default()))
        .collect();
    let last_purge = Mutex::new(now);
    let workers = opts.concurrency.clamp(1, opts.jobs.len().max(1));
    let failure: Mutex<Option<StoreError>> = Mutex::new(None);
    let shared = Shared {
        settings: opts.settings,
        connect: opts.connect,
        sink: opts.sink,
        notes: &opts.notes,
        stop: opts.stop,
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut store = match Store::open(opts.state) {
                    Ok(s) => s,
                    Err(e) => {
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        opts.stop.store(true, Ordering::SeqCst);
                        wake.notify_all();
                        return;
                    }
                };
                loop {
                    let picked = {
                        let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                        loop {
                            if opts.stop.load(Ordering::SeqCst) {
                                break None;
                            }
                            if opts.once && q.heap.is_empty() && q.running == 0 {
                                break None;
                            }
                            let now = local_now_ms();
                            match q.heap.peek().copied() {
                                Some(Reverse((due, i))) if due <= now => {
                                    q.heap.pop();
                                    q.running += 1;
                                    break Some(i);
                                }
                                Some(Reverse((due, _))) => {
                                    let wait = Duration::from_millis(
                                        u64::try_from((due - now).clamp(1, 500)).unwrap_or(500),
                                    );
                                    q = wake
                                        .wait_timeout(q, wait)
                                        .unwrap_or_else(|p| p.into_inner())
                                        .0;
                                }
                                None => {
                                    q = wake
                                        .wait_timeout(q, Duration::from_millis(500))
                                        .unwrap_or_else(|p| p.into_inner())
                                        .0;
                                }
                            }
                        }
                    };
                    let Some(i) = picked else {
                        wake.notify_all();
                        return;
                    };
                    let job = &opts.jobs[i];
                    let end = {
                        let mut rt = runtimes[i].lock().unwrap_or_else(|p| p.into_inner());
                        run_cycle(job, &mut rt, &mut store, &shared)
                    };
                    let broken = end.config_error.is_some();
                    *ends[i].lock().unwrap_or_else(|p| p.into_inner()) = end;
                    let now = local_now_ms();
                    {
                        let mut purged = last_purge.lock().unwrap_or_else(|p| p.into_inner());
                        if now - *purged > 3_600_000 {
                            *purged = now;
                            let _ = store.purge(now, opts.retention);
                        }
                    }
                    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                    q.running -= 1;
                    if !opts.once && !broken {
                        let mut next =
                            now + interval + jitter(&format!("{}{now}", job.name), interval / 10);
                        if let Ok(Some(retry)) = store.waiting(&job.name) {
                            next = next.min(retry.max(now + 1000));
                        }
                        q.heap.push(Reverse((next, i)));
                    }
                    drop(q);
                    wake.notify_all();
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(RunEnd {
        orgs: ends
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .collect(),
    })
}
