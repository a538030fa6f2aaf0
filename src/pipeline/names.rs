//! The generated names that `status` and `replay` look for in the org.
//!
//! They follow `render`'s rules (docs/templates.md): a class is `<Prefix><Role>`, an object or
//! other component `<Prefix>_<Stem>`. A unit test renders a tree and checks every name here
//! against it, so a template rename cannot leave these behind.

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

    fn tree() -> crate::render::SourceTree {
        let input = crate::cli::InputArgs {
            objects: Some(vec!["Contact".into()]),
            callback_url: Some("https://hooks.example.com:8443/salesforce".into()),
            prefix: Some("Acme".into()),
            ..Default::default()
        };
        let config = crate::config::load(&input).unwrap();
        crate::render::render(&config).unwrap()
    }

    #[test]
    fn every_name_is_one_the_generated_tree_has() {
        let tree = tree();
        let names = Names::new("Acme");
        for path in [
            format!("objects/{0}/{0}.object-meta.xml", names.outbox),
            format!("objects/{0}/{0}.object-meta.xml", names.settings),
            format!("classes/{}.cls", names.dispatcher),
            format!("classes/{}.cls", names.sweeper),
            format!(
                "remoteSiteSettings/{}.remoteSite-meta.xml",
                names.remote_site
            ),
            format!(
                "permissionsets/{}.permissionset-meta.xml",
                names.viewer_permission_set
            ),
            format!(
                "permissionsets/{}.permissionset-meta.xml",
                names.admin_permission_set
            ),
        ] {
            assert!(tree.contains_key(&path), "{path} is not generated");
        }
        let sweeper = &tree[&format!("classes/{}.cls", names.sweeper)];
        assert!(
            sweeper.contains("JOB_NAME + ' :' + String.valueOf(minute).leftPad(2, '0')"),
            "the sweeper's job names changed: update Names::sweeper_job"
        );
        assert!(sweeper.contains(&format!("JOB_NAME = '{}'", names.sweeper)));
        for minute in SWEEPER_MINUTES {
            assert!(
                sweeper.contains(&format!("    {minute},"))
                    || sweeper.contains(&format!("    {minute}\n"))
            );
        }
        let settings = &tree[&format!("classes/{}Settings.cls", names.prefix)];
        assert!(settings.contains(&format!("RECORD_NAME = '{SETTINGS_RECORD}'")));
        // The run-time state and the jobs class come with issue 9 (branch `apex`): checked once
        // the templates have them.
        if tree.contains_key(&format!("classes/{}.cls", names.jobs)) {
            assert!(tree.contains_key(&format!("objects/{0}/{0}.object-meta.xml", names.state)));
            let jobs = &tree[&format!("classes/{}.cls", names.jobs)];
            assert!(jobs.contains("public static void scheduleSweeper()"));
            assert!(jobs.contains("public static void restore()"));
        }
        assert_eq!(names.sweeper_job(0), "AcmeSweeper :00");
        assert_eq!(names.sweeper_jobs()[3], "AcmeSweeper :45");
    }
}
