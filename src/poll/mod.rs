//! `sfhooks poll`: the polling capture, for orgs that cannot or will not take Apex and
//! for one process serving many orgs. It reads changes through the REST API and sends the same
//! envelope, headers and signatures as the generated Apex. docs/poll.md has the algorithm.
//!
//! - [`soql`]: field lists (checked against describe) and the window query, split under the URL limit;
//! - [`fetch`]: describe, composite (first pages and deletes in one call), next pages;
//! - [`classify`]: what a row means, from field digests (pure);
//! - [`event`]: events and deliveries with ids derived from their content (pure);
//! - [`store`]: the SQLite state: cursors, record memories, the outbox, the lock;
//! - [`deliver`]: one signed POST and what its answer means; [`publish`]: where deliveries go
//!   (POSTed, or into NATS JetStream);
//! - [`engine`]: one cycle of one org; [`scheduler`]: many orgs on a few worker threads.
//!
//! Nothing here prints: progress leaves as [`Note`]s on a channel the command reads.
pub mod classify;
pub mod clock;
pub mod deliver;
pub mod engine;
pub mod event;
pub mod fetch;
pub mod publish;
pub mod scheduler;
pub mod soql;
pub mod store;

/// Something the poller did or saw, for the command to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A window of an object was read and committed.
    Window {
        /// The org's name.
        org: String,
        /// The object.
        object: String,
        /// Start (ms).
        from: i64,
        /// End (ms).
        to: i64,
        /// Rows read.
        rows: usize,
        /// Events built.
        events: usize,
    },
    /// A delivery was attempted.
    Delivery {
        /// The org's name.
        org: String,
        /// The object.
        object: String,
        /// `webhook-id`.
        webhook_id: String,
        /// Events it carries.
        events: i64,
        /// What became of it.
        outcome: store::Outcome,
        /// The receiver's status.
        http_status: Option<u16>,
        /// Which attempt this was.
        attempt: i64,
        /// What went wrong.
        error: Option<String>,
    },
    /// Changes were lost and a GAP event sent.
    Gap {
        /// The org's name.
        org: String,
        /// The object.
        object: String,
        /// Start (ms).
        from: i64,
        /// End (ms).
        to: i64,
        /// What happened and how to resync.
        message: String,
    },
    /// The org is over its API budget and paused.
    Paused {
        /// The org's name.
        org: String,
        /// Requests used today.
        used: u64,
        /// Requests allowed.
        max: u64,
        /// The threshold, percent.
        threshold: u8,
    },
    /// A cycle of the org failed.
    OrgFailed {
        /// The org's name.
        org: String,
        /// Why (never a credential).
        error: String,
        /// Signing in failed.
        auth: bool,
        /// The configuration is wrong for it.
        config: bool,
    },
}
