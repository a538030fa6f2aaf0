//! The health of the pipeline: the facts read from one org ([`Facts`]), what they are expected
//! to be ([`Expect`]), and the judgement ([`evaluate`] -> [`Report`]), with one [`Reason`] per
//! thing that needs attention. Pure: no I/O, no clock (the org's clock comes in [`Facts::now`]).
//!
//! Each part of the org is read on its own and may fail on its own ([`Unreadable`]): a user who
//! may read the outbox but not Setup still gets the outbox judged, plus a reason naming what
//! could not be read and the permission that reads it.
//!
//! The parts: `facts` (the typed model read from the org), `judge` (the reasons), the two
//! renderings of a report (`report_json`, `report_text`) and the shared `wording`.
use super::names::Names;

mod facts;
mod judge;
mod report_json;
mod report_text;
mod wording;

pub use facts::{
    AsyncJob, CronJob, DeadRow, Facts, GapRow, Group, Org, Outbox, Owner, Part, RemoteSite,
    RuntimeState, Settings, Unreadable,
};
pub use judge::{evaluate, remote_site_allows, remote_site_origin, same_org};
pub use wording::shorten;

/// The `CronTrigger.State` values of a job that will run again (Object Reference,
/// "CronTrigger": WAITING, ACQUIRED, EXECUTING; the others are COMPLETE, ERROR, DELETED,
/// PAUSED, BLOCKED, PAUSED_BLOCKED).
pub const LIVE_JOB_STATES: [&str; 3] = ["WAITING", "ACQUIRED", "EXECUTING"];

/// How many Dead rows and gap markers the report lists.
pub const LISTED_ROWS: u32 = 5;

/// Gap markers younger than this need attention; older ones are only listed.
pub const GAP_ATTENTION_SECS: i64 = 24 * 3600;

/// What the facts are judged against.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The generated names.
    pub names: Names,
    /// The configured callback URL.
    pub callback_url: url::Url,
    /// The oldest Pending row may wait this long.
    pub max_lag_secs: i64,
}

/// One thing that needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// A stable code for scripts, upper snake case (`DEAD_ROWS`).
    pub code: &'static str,
    /// What is wrong and what to do, one line.
    pub message: String,
}

/// The judgement.
#[derive(Debug, Clone)]
pub struct Report {
    /// The facts it is based on.
    pub facts: Facts,
    /// What it was judged against.
    pub expect: Expect,
    /// Every reason for attention; empty when healthy.
    pub reasons: Vec<Reason>,
}

impl Report {
    /// True when nothing needs attention.
    pub fn healthy(&self) -> bool {
        self.reasons.is_empty()
    }

    /// The exit code: 0 healthy, 1 something needs attention.
    pub fn code(&self) -> u8 {
        u8::from(!self.healthy())
    }
}

#[cfg(test)]
mod tests;
