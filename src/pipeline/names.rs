//! The generated names that `status` and `replay` look for in the org.
//!
//! They follow `render`'s rules (docs/templates.md): a class is `<Prefix><Role>`, an object or
//! other component `<Prefix>_<Stem>`. A test (`tests/testsuite/status.rs`) generates a tree with
//! the binary and checks every name here against it, so a template rename cannot leave these
//! behind.

/// The settings record every generated class reads (`Settings.RECORD_NAME`).
pub const SETTINGS_RECORD: &str = "Default";

/// The minutes past the hour of the four sweeper jobs (`Sweeper.MINUTES`).
pub const SWEEPER_MINUTES: [u32; 4] = [0, 15, 30, 45];

/// The names of one prefix's components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The prefix itself.
    pub prefix: String,
    /// The outbox object, `<Prefix>_Outbox__c`.
    pub outbox: String,
    /// The settings custom metadata type, `<Prefix>_Settings__mdt`.
    pub settings: String,
    /// The run-time state hierarchy custom setting Apex writes, `<Prefix>_State__c`.
    pub state: String,
    /// The class that pauses, restores and schedules the jobs, `<Prefix>Jobs`.
    pub jobs: String,
    /// The dispatcher class (a Queueable), `<Prefix>Dispatcher`.
    pub dispatcher: String,
    /// The sweeper class (a Schedulable), `<Prefix>Sweeper`.
    pub sweeper: String,
    /// The Remote Site Setting of the callback URL, `<Prefix>_Callback`.
    pub remote_site: String,
    /// The permission set that reads the outbox, `<Prefix>_Viewer`.
    pub viewer_permission_set: String,
    /// The permission set that may replay, `<Prefix>_Admin`.
    pub admin_permission_set: String,
}

impl Names {
    /// The names for a (validated) prefix.
    pub fn new(prefix: &str) -> Self {
        Names {
            prefix: prefix.to_string(),
            outbox: format!("{prefix}_Outbox__c"),
            settings: format!("{prefix}_Settings__mdt"),
            state: format!("{prefix}_State__c"),
            jobs: format!("{prefix}Jobs"),
            dispatcher: format!("{prefix}Dispatcher"),
            sweeper: format!("{prefix}Sweeper"),
            remote_site: format!("{prefix}_Callback"),
            viewer_permission_set: format!("{prefix}_Viewer"),
            admin_permission_set: format!("{prefix}_Admin"),
        }
    }

    /// The name of the sweeper job that runs at `minute` past each hour, as
    /// `Sweeper.jobName(minute)` spells it: `<Prefix>Sweeper :00`.
    pub fn sweeper_job(&self, minute: u32) -> String {
        format!("{} :{minute:02}", self.sweeper)
    }

    /// All four sweeper job names, in minute order.
    pub fn sweeper_jobs(&self) -> Vec<String> {
        SWEEPER_MINUTES
            .iter()
            .map(|m| self.sweeper_job(*m))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_render_rules() {
        // Checked against a generated tree in tests/testsuite/status.rs (through the binary).
        let names = Names::new("Acme");
        assert_eq!(names.outbox, "Acme_Outbox__c");
        assert_eq!(names.settings, "Acme_Settings__mdt");
        assert_eq!(names.state, "Acme_State__c");
        assert_eq!(names.dispatcher, "AcmeDispatcher");
        assert_eq!(names.jobs, "AcmeJobs");
        assert_eq!(names.remote_site, "Acme_Callback");
        assert_eq!(names.sweeper_job(0), "AcmeSweeper :00");
        assert_eq!(names.sweeper_jobs()[3], "AcmeSweeper :45");
    }
}
