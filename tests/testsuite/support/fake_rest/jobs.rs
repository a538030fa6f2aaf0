//! The fake org's scheduled and async Apex jobs: the deploy lock they cause, and an
//! `executeAnonymous` handler that plays what sfhooks' Anonymous Apex does to them.
use super::*;

/// The problem text of a deploy refused because of a scheduled job (FACTS.md, "Deploying
/// classes that have jobs").
pub const SCHEDULED_LOCK: &str = "This schedulable class has jobs pending or in progress";
/// The problem text for a class with pending async jobs.
pub const ASYNC_LOCK: &str = "Apex class has Batchable or Future jobs pending or in progress";

impl FakeRest {
    /// The classes of a deploy that Salesforce would refuse because of jobs, with the problem
    /// text: a class with an active scheduled job (and every class in
    /// [`FakeRest::lock_reaches`], standing for the classes the scheduled class references), and
    /// a class with a pending or running async job.
    pub fn lock_failures(&self, classes: &[String]) -> Vec<(String, &'static str)> {
        let empty = Vec::new();
        let crons = self.tables.data.get("CronTrigger").unwrap_or(&empty);
        let asyncs = self.tables.data.get("AsyncApexJob").unwrap_or(&empty);
        let mut scheduled_classes = Vec::new();
        for cron in crons {
            if ["COMPLETE", "DELETED", "ERROR"].contains(&cron["State"].as_str().unwrap_or("")) {
                continue;
            }
            for job in asyncs {
                if job["JobType"] == "ScheduledApex" && job["CronTriggerId"] == cron["Id"] {
                    if let Some(class) = job["ApexClass"]["Name"].as_str() {
                        scheduled_classes.push(class.to_string());
                    }
                }
            }
        }
        let mut out = Vec::new();
        for class in classes {
            let scheduled = scheduled_classes
                .iter()
                .any(|c| c.eq_ignore_ascii_case(class))
                || (!scheduled_classes.is_empty() && self.lock_reaches.contains(class));
            let pending = asyncs.iter().any(|j| {
                j["JobType"] != "ScheduledApex"
                    && j["ApexClass"]["Name"].as_str() == Some(class.as_str())
                    && ["Holding", "Queued", "Preparing", "Processing"]
                        .contains(&j["Status"].as_str().unwrap_or(""))
            });
            if scheduled {
                out.push((class.clone(), SCHEDULED_LOCK));
            } else if pending {
                out.push((class.clone(), ASYNC_LOCK));
            }
        }
        out
    }

    /// A deploy succeeded: its classes exist from now on; an uninstall's are gone.
    pub fn classes_deployed(&mut self, added: &[String], removed: &[String]) {
        self.tables
            .records("ApexClass")
            .retain(|c| !removed.iter().any(|r| c["Name"].as_str() == Some(r)));
        for class in added {
            let exists = self
                .tables
                .records("ApexClass")
                .iter()
                .any(|c| c["Name"].as_str() == Some(class));
            if !exists {
                let id = new_id(&mut self.next_id, "01p");
                self.tables
                    .records("ApexClass")
                    .push(json!({"Id": id, "Name": class}));
            }
        }
    }

    /// Schedules a job as `System.schedule` would: a CronTrigger and its `ScheduledApex` row.
    pub fn schedule(&mut self, name: &str, cron: &str, class: &str) -> String {
        schedule_in(&mut self.tables, &mut self.next_id, name, cron, class)
    }

    /// Adds a queued or running async job of a class; `finish_after_reads` makes it end
    /// (Completed) after that many queries returned it.
    pub fn enqueue(
        &mut self,
        class: &str,
        job_type: &str,
        status: &str,
        finish_after_reads: Option<u32>,
    ) -> String {
        let id = new_id(&mut self.next_id, "707");
        let mut row = json!({"Id": id, "JobType": job_type, "Status": status,
            "ApexClass": {"attributes": {"type": "ApexClass"}, "Name": class}, "CronTriggerId": null});
        if let Some(n) = finish_after_reads {
            row["_finishAfterReads"] = json!(n);
        }
        self.tables.records("AsyncApexJob").push(row);
        id
    }

    /// The names of the active scheduled jobs.
    pub fn scheduled_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tables
            .data
            .get("CronTrigger")
            .map(|t| {
                t.iter()
                    .filter_map(|c| c["CronJobDetail"]["Name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Whether `<Prefix>Jobs.pause()` set the pause switch (and no restore cleared it).
    pub fn paused(&self) -> bool {
        self.tables
            .data
            .get(PAUSE_TABLE)
            .is_some_and(|t| t.iter().any(|r| r["Paused"] == true))
    }
}

/// Where the simulation keeps the pause switch.
pub(crate) const PAUSE_TABLE: &str = "_PauseSwitch";

pub(crate) fn schedule_in(
    tables: &mut Tables,
    next_id: &mut u64,
    name: &str,
    cron: &str,
    class: &str,
) -> String {
    let id = new_id(next_id, "08e");
    tables
        .records("CronTrigger")
        .push(json!({"Id": id, "State": "WAITING",
        "CronExpression": cron, "NextFireTime": "2026-12-07T02:00:00.000+0000", "OwnerId": USER_ID,
        "CronJobDetail": {"attributes": {"type": "CronJobDetail"}, "Name": name, "JobType": "7"}}));
    let job = new_id(next_id, "707");
    tables
        .records("AsyncApexJob")
        .push(json!({"Id": job, "JobType": "ScheduledApex",
        "Status": "Queued", "CronTriggerId": id,
        "ApexClass": {"attributes": {"type": "ApexClass"}, "Name": class}}));
    id
}

/// The quoted strings of Apex source, in order (with `\'` unescaped).
pub(crate) fn quoted(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                }
                '\'' => break,
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// An `executeAnonymous` handler that plays what sfhooks' Anonymous Apex does to the jobs:
/// `System.abortJob` over `WHERE Id IN (...)` lists, `System.schedule(name, cron,
/// Type.forName(class))` unless a job of that name is active, `<Prefix>Jobs.pause()` /
/// `.restore()` / `.scheduleSweeper()` and `<Prefix>Sweeper.ensureScheduled()`. A class the org
/// does not have (the `ApexClass` table) is a compile problem, as Salesforce answers it.
pub fn simulate_jobs(prefix: &str) -> AnonymousHandler {
    let prefix = prefix.to_string();
    let mut next_id = 9_000u64;
    Box::new(move |apex: &str, tables: &mut Tables| {
        let has_class = |tables: &mut Tables, name: &str| {
            tables
                .records("ApexClass")
                .iter()
                .any(|c| c["Name"].as_str() == Some(name))
        };
        let jobs_class = format!("{prefix}Jobs");
        let sweeper = format!("{prefix}Sweeper");
        for (needed, call) in [
            (&jobs_class, format!("{jobs_class}.")),
            (&sweeper, format!("{sweeper}.")),
        ] {
            if apex.contains(&call) && !has_class(tables, needed) {
                let line = apex.lines().position(|l| l.contains(&call)).unwrap_or(0) as i64 + 1;
                return Anonymous::CompileProblem(
                    line,
                    1,
                    format!("Variable does not exist: {needed}"),
                );
            }
        }
        let mut sweeper_jobs = |tables: &mut Tables| {
            for minute in ["00", "15", "30", "45"] {
                let name = format!("{sweeper} :{minute}");
                let active = tables
                    .records("CronTrigger")
                    .iter()
                    .any(|c| c["CronJobDetail"]["Name"].as_str() == Some(name.as_str()));
                if !active {
                    schedule_in(
                        tables,
                        &mut next_id,
                        &name,
                        &format!("0 {} * * * ?", minute.trim_start_matches('0').max("0")),
                        &sweeper,
                    );
                }
            }
        };
        if apex.contains(&format!("{jobs_class}.pause();")) {
            tables.records(PAUSE_TABLE).push(json!({"Paused": true}));
        }
        // Aborts: every `Id IN (...)` list of a loop that calls System.abortJob.
        if apex.contains("System.abortJob") {
            for segment in apex.split("WHERE Id IN (").skip(1) {
                let list = segment.split(')').next().unwrap_or("");
                for id in quoted(list) {
                    let crons = tables.records("CronTrigger");
                    let before = crons.len();
                    crons.retain(|c| c["Id"].as_str() != Some(id.as_str()));
                    if crons.len() != before {
                        tables
                            .records("AsyncApexJob")
                            .retain(|j| j["CronTriggerId"].as_str() != Some(id.as_str()));
                    }
                    for job in tables.records("AsyncApexJob").iter_mut() {
                        if job["Id"].as_str() == Some(id.as_str())
                            && ["Holding", "Queued"].contains(&job["Status"].as_str().unwrap_or(""))
                        {
                            job["Status"] = json!("Aborted");
                        }
                    }
                }
            }
        }
        if apex.contains(&format!("{jobs_class}.restore();")) {
            tables.records(PAUSE_TABLE).clear();
            sweeper_jobs(tables);
        }
        if apex.contains(&format!("{jobs_class}.scheduleSweeper();"))
            || apex.contains(&format!("{sweeper}.ensureScheduled();"))
        {
            sweeper_jobs(tables);
        }
        for call in apex.split("System.schedule(").skip(1) {
            let statement = call.split(";").next().unwrap_or("");
            let args = quoted(statement);
            let [name, cron, class] = args.as_slice() else {
                return Anonymous::CompileProblem(
                    1,
                    1,
                    "Method does not exist or incorrect signature: System.schedule".into(),
                );
            };
            if !has_class(tables, class) {
                return Anonymous::Exception(
                    "System.NullPointerException: Attempt to de-reference a null object".into(),
                    "AnonymousBlock: line 1, column 1".into(),
                );
            }
            let active = tables
                .records("CronTrigger")
                .iter()
                .any(|c| c["CronJobDetail"]["Name"].as_str() == Some(name.as_str()));
            if !active {
                schedule_in(tables, &mut next_id, name, cron, class);
            }
        }
        Anonymous::Success
    })
}
