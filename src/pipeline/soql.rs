//! Every SOQL query `status` and `replay` send, as pure functions of the generated names.
//!
//! Field names are the templates' (`templates/objects/Outbox__c/fields/`, `Settings__mdt/fields/`);
//! the standard objects and fields are Salesforce's (Object Reference: `Organization`,
//! `CronTrigger`, `AsyncApexJob`, `User`; Tooling API: `RemoteProxy`). Paging is never done with
//! OFFSET: the REST client follows `nextRecordsUrl` (FACTS.md, "REST API").
use super::names::{Names, SETTINGS_RECORD};
use super::time::format_datetime;
use crate::salesforce::soql_literal::{quoted, starts_with};

/// The outbox statuses (the `Status__c` picklist).
pub const STATUSES: [&str; 4] = ["Pending", "Retrying", "Delivered", "Dead"];
/// The `Event_Type__c` of a gap marker row (docs/apex-design.md, gaps).
pub const GAP_EVENT_TYPE: &str = "GAP";
/// The `AsyncApexJob.Status` values of a job that has not ended (Object Reference,
/// "AsyncApexJob").
pub const OPEN_JOB_STATUSES: [&str; 4] = ["Holding", "Queued", "Preparing", "Processing"];

fn list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| quoted(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// This org: its Id (the settings record's pin is compared with it) and whether it is a sandbox.
pub fn organization() -> String {
    "SELECT Id, Name, IsSandbox FROM Organization".into()
}

/// The outbox by status and event type, with the oldest capture time of each group: counts,
/// the lag (oldest Pending) and the gap markers (`Event_Type__c = 'GAP'`) in one query. The
/// answer's records are `AggregateResult`s with one field per SELECT item, named by the grouped
/// field or the alias (SOAP/REST API Developer Guide, "AggregateResult").
pub fn outbox_summary(names: &Names) -> String {
    format!(
        "SELECT Status__c, Event_Type__c, COUNT(Id) total, MIN(CreatedDate) oldest FROM {} \
         GROUP BY Status__c, Event_Type__c",
        names.outbox
    )
}

/// The newest Dead rows with their last error (never `Payload__c`).
pub fn newest_dead(names: &Names, limit: u32) -> String {
    format!(
        "SELECT Id, Name, Object_Type__c, Event_Type__c, Attempts__c, Last_Status_Code__c, \
         Last_Error__c, Last_Attempt_At__c, CreatedDate FROM {} WHERE Status__c = 'Dead' \
         ORDER BY Last_Attempt_At__c DESC LIMIT {limit}",
        names.outbox
    )
}

/// The newest gap markers.
pub fn newest_gaps(names: &Names, limit: u32) -> String {
    format!(
        "SELECT Id, Name, Object_Type__c, Status__c, CreatedDate, Gap_From__c, Gap_To__c, \
         Gap_Count__c, Gap_Reason__c FROM {} WHERE Event_Type__c = {} ORDER BY CreatedDate DESC \
         LIMIT {limit}",
        names.outbox,
        quoted(GAP_EVENT_TYPE)
    )
}

/// The settings record's switches and org pin (never the secret). Custom metadata types take
/// `=`, `!=` and `AND` in WHERE, and no GROUP BY or aggregate (SOQL and SOSL Reference, "SOQL
/// Object Limits and Limitations", Custom metadata types): these two queries stay within that.
pub fn settings(names: &Names) -> String {
    format!(
        "SELECT DeveloperName, Org_Id__c, Bypass_Capture__c, Bypass_Delivery__c FROM {} \
         WHERE DeveloperName = {}",
        names.settings,
        quoted(SETTINGS_RECORD)
    )
}

/// Whether the settings record has a secret, without reading it: the secret is only in the
/// filter, never selected.
pub fn secret_is_set(names: &Names) -> String {
    format!(
        "SELECT DeveloperName FROM {} WHERE DeveloperName = {} AND Secret__c != null",
        names.settings,
        quoted(SETTINGS_RECORD)
    )
}

/// The run-time switches Apex writes: the hierarchy custom setting `<Prefix>_State__c`, whose
/// organization default (the row whose `SetupOwnerId` is the org's Id) Apex reads with
/// `getOrgDefaults()` (the generated `State.cls`).
pub fn runtime_state(names: &Names) -> String {
    format!(
        "SELECT Id, SetupOwnerId, Paused__c, Delivery_Off__c, Delivery_Off_Reason__c, \
         Held_Reason__c FROM {}",
        names.state
    )
}

/// Every scheduled job whose name starts with the prefix: the sweeper's four, and any other job
/// an earlier version scheduled.
pub fn scheduled_jobs(names: &Names) -> String {
    format!(
        "SELECT Id, State, NextFireTime, PreviousFireTime, OwnerId, CronJobDetail.Name \
         FROM CronTrigger WHERE CronJobDetail.Name LIKE {} ORDER BY NextFireTime",
        starts_with(&names.prefix)
    )
}

/// Whether the owners of the scheduled jobs are active users.
pub fn users(ids: &[&str]) -> String {
    format!(
        "SELECT Id, Username, IsActive FROM User WHERE Id IN ({})",
        list(ids)
    )
}

/// The dispatcher jobs that have not ended.
pub fn open_dispatchers(names: &Names) -> String {
    format!(
        "SELECT Id, Status, JobType, CreatedDate FROM AsyncApexJob WHERE ApexClass.Name = {} \
         AND JobType = 'Queueable' AND Status IN ({}) ORDER BY CreatedDate",
        quoted(&names.dispatcher),
        list(&OPEN_JOB_STATUSES)
    )
}

/// The Remote Site Setting of the callback URL (Tooling API object `RemoteProxy`).
pub fn remote_site(names: &Names) -> String {
    format!(
        "SELECT Id, SiteName, EndpointUrl, IsActive, DisableProtocolSecurity FROM RemoteProxy \
         WHERE SiteName = {}",
        quoted(&names.remote_site)
    )
}

/// Which outbox rows a replay selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// `Dead` or `Delivered`.
    pub status: &'static str,
    /// Only rows of this object (`Object_Type__c`).
    pub object: Option<String>,
    /// Only rows captured at or after this time (`CreatedDate`, Unix seconds).
    pub since: Option<i64>,
    /// At most this many rows, oldest first.
    pub limit: Option<u32>,
}

/// The rows a replay puts back to Pending, oldest capture first.
pub fn replay_candidates(names: &Names, selection: &Selection) -> String {
    let mut soql = format!(
        "SELECT Id, Object_Type__c, Event_Type__c, CreatedDate FROM {} WHERE Status__c = {}",
        names.outbox,
        quoted(selection.status)
    );
    if let Some(object) = &selection.object {
        soql.push_str(&format!(" AND Object_Type__c = {}", quoted(object)));
    }
    if let Some(since) = selection.since {
        soql.push_str(&format!(" AND CreatedDate >= {}", format_datetime(since)));
    }
    soql.push_str(" ORDER BY CreatedDate");
    if let Some(limit) = selection.limit {
        soql.push_str(&format!(" LIMIT {limit}"));
    }
    soql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quoted("Contact"), "'Contact'");
        assert_eq!(quoted("O'Brien\\x"), "'O\\'Brien\\\\x'");
        assert_eq!(starts_with("Sfhooks"), "'Sfhooks%'");
        assert_eq!(starts_with("a_b%'"), r"'a\_b\%\'%'");
    }

    #[test]
    fn the_secret_is_only_ever_in_a_filter() {
        let names = Names::new("Sfhooks");
        let secret = secret_is_set(&names);
        let (select, filter) = secret.split_once(" WHERE ").unwrap();
        assert!(!select.contains("Secret__c"), "{secret}");
        assert!(filter.contains("Secret__c != null"), "{secret}");
        for soql in [
            settings(&names),
            newest_dead(&names, 5),
            newest_gaps(&names, 5),
            outbox_summary(&names),
        ] {
            assert!(!soql.contains("Secret__c"), "{soql}");
            assert!(!soql.contains("Payload__c"), "{soql}");
        }
    }

    #[test]
    fn replay_selects_by_status_object_time_and_limit() {
        let names = Names::new("Sfhooks");
        let all = Selection {
            status: "Dead",
            object: None,
            since: None,
            limit: None,
        };
        assert_eq!(
            replay_candidates(&names, &all),
            "SELECT Id, Object_Type__c, Event_Type__c, CreatedDate FROM Sfhooks_Outbox__c \
             WHERE Status__c = 'Dead' ORDER BY CreatedDate"
        );
        let narrow = Selection {
            status: "Delivered",
            object: Some("Contact".into()),
            since: Some(1_796_000_000),
            limit: Some(450),
        };
        assert_eq!(
            replay_candidates(&names, &narrow),
            "SELECT Id, Object_Type__c, Event_Type__c, CreatedDate FROM Sfhooks_Outbox__c \
             WHERE Status__c = 'Delivered' AND Object_Type__c = 'Contact' AND CreatedDate >= \
             2026-11-30T00:53:20Z ORDER BY CreatedDate LIMIT 450"
        );
    }

    #[test]
    fn jobs_are_found_by_the_prefix_and_the_dispatcher_by_its_class() {
        let names = Names::new("Acme");
        assert!(scheduled_jobs(&names).contains("CronJobDetail.Name LIKE 'Acme%'"));
        let dispatchers = open_dispatchers(&names);
        assert!(dispatchers.contains("ApexClass.Name = 'AcmeDispatcher'"));
        assert!(dispatchers.contains("JobType = 'Queueable'"));
        assert_eq!(
            users(&["005A", "005B"]),
            "SELECT Id, Username, IsActive FROM User WHERE Id IN ('005A', '005B')"
        );
    }
}
