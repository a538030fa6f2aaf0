//! The facts read from one org: a typed model, one [`Part`] per thing read, each read or
//! [`Unreadable`] on its own.
use serde_json::{json, Value};

use crate::pipeline::soql::GAP_EVENT_TYPE;

/// A part of the org that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// The object or a field does not exist for this user (`INVALID_TYPE`, `INVALID_FIELD`):
    /// not deployed, deployed by an older sfhooks, or hidden from this user.
    Missing {
        /// What was asked for.
        object: String,
        /// Salesforce's message, shortened.
        detail: String,
    },
    /// The user may not read it (`INSUFFICIENT_ACCESS...`).
    NoAccess {
        /// What was asked for.
        object: String,
        /// Salesforce's message, shortened.
        detail: String,
    },
}

impl Unreadable {
    pub(super) fn detail(&self) -> &str {
        match self {
            Unreadable::Missing { detail, .. } | Unreadable::NoAccess { detail, .. } => detail,
        }
    }

    pub(super) fn to_json(&self) -> Value {
        match self {
            Unreadable::Missing { object, detail } => {
                json!({"error": "missing", "object": object, "message": detail})
            }
            Unreadable::NoAccess { object, detail } => {
                json!({"error": "noAccess", "object": object, "message": detail})
            }
        }
    }
}

/// One part of the facts: read, or why not.
pub type Part<T> = Result<T, Unreadable>;

/// The org itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// The 18-character org Id.
    pub id: String,
    /// The org's name.
    pub name: String,
    /// Whether it is a sandbox.
    pub sandbox: bool,
}

/// One group of outbox rows: a status and an event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `Status__c`.
    pub status: String,
    /// `Event_Type__c` (`GAP` for gap markers).
    pub event_type: Option<String>,
    /// How many rows.
    pub count: u64,
    /// The oldest `CreatedDate` among them.
    pub oldest: Option<i64>,
}

/// A Dead row, with its last error (never its payload).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeadRow {
    /// Record Id.
    pub id: String,
    /// Auto-number name.
    pub name: String,
    /// `Object_Type__c`.
    pub object: Option<String>,
    /// `Event_Type__c`.
    pub event_type: Option<String>,
    /// `Attempts__c`.
    pub attempts: Option<u32>,
    /// `Last_Status_Code__c`.
    pub status_code: Option<u16>,
    /// `Last_Error__c`.
    pub last_error: Option<String>,
    /// `Last_Attempt_At__c`.
    pub last_attempt_at: Option<i64>,
}

/// A gap marker: a capture Apex had to skip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GapRow {
    /// Record Id.
    pub id: String,
    /// Auto-number name.
    pub name: String,
    /// `Object_Type__c`: what receivers must resync.
    pub object: Option<String>,
    /// `Status__c`: whether the GAP event reached the receiver yet.
    pub status: Option<String>,
    /// When the gap was recorded.
    pub created: Option<i64>,
    /// `Gap_From__c`: start of the range not captured.
    pub from: Option<i64>,
    /// `Gap_To__c`: its end.
    pub to: Option<i64>,
    /// `Gap_Count__c`: changes not captured, when known.
    pub count: Option<u64>,
    /// `Gap_Reason__c`: `DML_ROWS`, `ENQUEUE_LIMIT`, `CPU`, `HEAP` (briefs/gap.md).
    pub reason: Option<String>,
}

/// The outbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbox {
    /// Rows by status and event type.
    pub groups: Vec<Group>,
    /// The newest Dead rows.
    pub dead: Vec<DeadRow>,
    /// The newest gap markers.
    pub gaps: Vec<GapRow>,
}

impl Outbox {
    /// Rows of one status, gap markers included.
    pub fn count(&self, status: &str) -> u64 {
        self.groups
            .iter()
            .filter(|g| g.status == status)
            .map(|g| g.count)
            .sum()
    }

    /// The oldest capture time among the rows of one status.
    pub fn oldest(&self, status: &str) -> Option<i64> {
        self.groups
            .iter()
            .filter(|g| g.status == status)
            .filter_map(|g| g.oldest)
            .min()
    }

    /// How many gap markers the outbox holds.
    pub fn gap_count(&self) -> u64 {
        self.groups
            .iter()
            .filter(|g| g.event_type.as_deref() == Some(GAP_EVENT_TYPE))
            .map(|g| g.count)
            .sum()
    }
}

/// The settings record (`<Prefix>_Settings.Default`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `Org_Id__c`: the org the record was made for.
    pub org_id: Option<String>,
    /// `Bypass_Capture__c`.
    pub bypass_capture: bool,
    /// `Bypass_Delivery__c`.
    pub bypass_delivery: bool,
    /// Whether `Secret__c` is set (found by a filter; the value is never read).
    pub secret_set: bool,
}

/// The run-time switches Apex itself writes: the organization default of `<Prefix>_State__c`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeState {
    /// `Paused__c`: set by `sfhooks deploy` around a deploy (`<Prefix>Jobs.pause()`).
    pub paused: bool,
    /// `Delivery_Off__c`: set by a 410 Gone answer or the sandbox copy script; only an admin
    /// clears it.
    pub delivery_off: bool,
    /// `Delivery_Off_Reason__c`.
    pub delivery_off_reason: Option<String>,
    /// `Held_Reason__c`: why the dispatcher holds delivery (an org mismatch, ...), or none.
    pub held_reason: Option<String>,
}

/// The owner of a scheduled job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `User.Username`.
    pub username: String,
    /// `User.IsActive`.
    pub active: bool,
}

/// A scheduled job (`CronTrigger`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CronJob {
    /// `CronTrigger.Id`.
    pub id: String,
    /// `CronJobDetail.Name`.
    pub name: String,
    /// `State`.
    pub state: String,
    /// `NextFireTime`.
    pub next_fire: Option<i64>,
    /// `PreviousFireTime`.
    pub previous_fire: Option<i64>,
    /// `OwnerId`.
    pub owner_id: String,
    /// The owner, when the User could be read.
    pub owner: Option<Owner>,
}

/// A dispatcher job that has not ended (`AsyncApexJob`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsyncJob {
    /// `AsyncApexJob.Id`.
    pub id: String,
    /// `Status`: Holding, Queued, Preparing or Processing.
    pub status: String,
    /// `CreatedDate`.
    pub created: Option<i64>,
}

/// The Remote Site Setting (`RemoteProxy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteSite {
    /// `SiteName`.
    pub name: String,
    /// `EndpointUrl`.
    pub url: String,
    /// `IsActive`.
    pub active: bool,
}

/// Everything read from the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The org's clock (the `Date` of an answer), Unix seconds.
    pub now: i64,
    /// The org.
    pub org: Org,
    /// The outbox.
    pub outbox: Part<Outbox>,
    /// The settings record; `None` when there is none.
    pub settings: Part<Option<Settings>>,
    /// The run-time switches; `None` when Apex never set any.
    pub state: Part<Option<RuntimeState>>,
    /// Scheduled jobs whose name starts with the prefix.
    pub jobs: Part<Vec<CronJob>>,
    /// Dispatcher jobs that have not ended.
    pub dispatchers: Part<Vec<AsyncJob>>,
    /// The Remote Site Setting; `None` when there is none.
    pub remote_site: Part<Option<RemoteSite>>,
    /// `Sforce-Limit-Info` of the last answer: daily API requests used and allowed.
    pub api_usage: Option<(u64, u64)>,
}
