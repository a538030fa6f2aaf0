//! Waiting for a deploy job: the poll and retry timing, Ctrl-C counted rather than fatal, and
//! how a wait ends (done, or still running when --wait ran out or Ctrl-C was pressed).
use super::*;

/// Poll and retry timing; see [`POLL_MS_ENV`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub(super) first_poll: Duration,
    pub(super) max_poll: Duration,
    pub(super) retry: RetryPolicy,
}

impl Timing {
    pub(super) fn from_env() -> anyhow::Result<Self> {
        let base_ms = match std::env::var(POLL_MS_ENV) {
            Ok(v) => v.parse::<u64>().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                UsageError::new(format!(
                    "${POLL_MS_ENV} must be a positive number of milliseconds"
                ))
            })?,
            Err(_) => 500,
        };
        Ok(Timing::with_base(base_ms))
    }

    pub(super) fn with_base(base_ms: u64) -> Self {
        Timing {
            first_poll: Duration::from_millis(base_ms),
            // 0.5 s, 0.75 s, 1.1 s, ... up to 12 s: a short job is noticed within about a
            // second, a long one is asked about five times a minute.
            max_poll: Duration::from_millis(base_ms * 24),
            retry: RetryPolicy {
                tries: 5,
                first_delay: Duration::from_millis(base_ms * 2),
            },
        }
    }

    /// How a running dispatcher is waited for before the deploy: every 4 poll intervals (2 s),
    /// for at most 1,200 (10 minutes).
    pub(super) fn running_wait(&self) -> jobs::RunningWait {
        jobs::RunningWait {
            every: self.first_poll * 4,
            at_most: self.first_poll * 1200,
        }
    }

    /// The pause after `delay`: half as long again, up to `max_poll`.
    pub(super) fn next_delay(&self, delay: Duration) -> Duration {
        (delay * 3 / 2).min(self.max_poll)
    }
}

/// How the wait ended.
pub(super) enum Waited {
    /// `done` was true: Succeeded, SucceededPartial, Failed or Canceled.
    Done(DeployResult),
    /// The job was still running when sfhooks stopped waiting; the last status seen.
    StillRunning(DeployResult, Stop),
}

/// Why sfhooks stopped waiting for a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    WaitRanOut,
    SecondCtrlC,
}

pub(super) fn wait_for(
    conn: &mut Connection,
    job_id: &str,
    plan: &Plan,
    timing: &Timing,
    ui: &Ui,
    interrupts_before: usize,
) -> anyhow::Result<Waited> {
    let deadline = Instant::now() + plan.wait;
    let mut delay = timing.first_poll;
    let mut cancel_sent = false;
    loop {
        let result = conn.call(Some(job_id), plan.target, |c| c.check_deploy_status(job_id))?;
        ui.progress(&result);
        if result.done {
            return Ok(Waited::Done(result));
        }
        let interrupts = INTERRUPTS.load(Ordering::SeqCst) - interrupts_before;
        if interrupts >= 1 && !cancel_sent {
            ui.note(&format!(
                "Ctrl-C: canceling {job_id} (press Ctrl-C again to stop waiting)"
            ));
            conn.call(Some(job_id), plan.target, |c| c.cancel_deploy(job_id))
                .context("cannot cancel the deploy")?;
            cancel_sent = true;
            // The cancel takes effect quickly; look again soon.
            delay = timing.first_poll;
            continue;
        }
        if interrupts >= 2 {
            return Ok(Waited::StillRunning(result, Stop::SecondCtrlC));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Waited::StillRunning(result, Stop::WaitRanOut));
        }
        sleep_unless_interrupted(delay.min(deadline - now), INTERRUPTS.load(Ordering::SeqCst));
        delay = timing.next_delay(delay);
    }
}

/// Sleeps, waking early when Ctrl-C is pressed.
pub(super) fn sleep_unless_interrupted(duration: Duration, interrupts: usize) {
    let end = Instant::now() + duration;
    loop {
        let now = Instant::now();
        if now >= end || INTERRUPTS.load(Ordering::SeqCst) != interrupts {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Counts every SIGINT in [`INTERRUPTS`] from now on, instead of letting it end the process.
/// The handler is registered before this returns (a Ctrl-C right after is counted) and only once
/// per process; the counting thread lives as long as the process.
pub(super) fn count_interrupts() -> std::io::Result<()> {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let mut interrupts = {
        let _context = runtime.enter();
        #[cfg(unix)]
        let stream = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        #[cfg(windows)]
        let stream = tokio::signal::windows::ctrl_c()?;
        stream
    };
    std::thread::Builder::new()
        .name("sfhooks-ctrl-c".into())
        .spawn(move || {
            runtime.block_on(async move {
                while interrupts.recv().await.is_some() {
                    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
                }
            });
        })?;
    let _ = INSTALLED.set(());
    Ok(())
}
