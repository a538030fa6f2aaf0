//! Unit tests of the parent module.
use super::*;

fn jobs() -> OrgJobs {
    OrgJobs {
        scheduled: vec![
            ScheduledJob {
                id: "08eA".into(),
                name: "SfhooksSweeper :00".into(),
                cron_expression: "0 0 * * * ?".into(),
                state: "WAITING".into(),
                next_fire_time: None,
                owner_id: None,
                class_name: Some("SfhooksSweeper".into()),
            },
            ScheduledJob {
                id: "08eB".into(),
                name: "Admin's sweeper".into(),
                cron_expression: "0 30 * * * ?".into(),
                state: "WAITING".into(),
                next_fire_time: None,
                owner_id: None,
                class_name: None,
            },
        ],
        async_jobs: vec![
            AsyncJob {
                id: "707Q".into(),
                class_name: "SfhooksDispatcher".into(),
                job_type: "Queueable".into(),
                status: "Queued".into(),
            },
            AsyncJob {
                id: "707R".into(),
                class_name: "SfhooksDispatcher".into(),
                job_type: "Queueable".into(),
                status: "Processing".into(),
            },
        ],
        has_jobs_class: true,
    }
}

#[test]
fn strings_are_escaped_for_apex_and_soql() {
    assert_eq!(
        crate::salesforce::soql_literal::quoted("Admin's \\ job"),
        "'Admin\\'s \\\\ job'"
    );
    assert_eq!(starts_with("Sfhooks"), "'Sfhooks%'");
    assert_eq!(starts_with("My_App"), "'My\\_App%'");
}

#[test]
fn the_lookup_filters_ended_and_scheduled_rows_by_state_and_type() {
    let [cron, asyncs, class] = lookup_queries("Sfhooks");
    assert!(
        cron.contains("CronJobDetail.Name LIKE 'Sfhooks%'"),
        "{cron}"
    );
    assert!(
        cron.contains("State NOT IN ('COMPLETE', 'DELETED', 'ERROR')"),
        "{cron}"
    );
    assert!(
        asyncs.contains("ApexClass.Name LIKE 'Sfhooks%'"),
        "{asyncs}"
    );
    assert!(asyncs.contains("JobType"), "{asyncs}");
    assert_eq!(class, "SELECT Id FROM ApexClass WHERE Name = 'SfhooksJobs'");
}

#[test]
fn pause_aborts_by_id_and_never_a_running_job() {
    let apex = pause_apex("Sfhooks", &jobs());
    assert!(apex.contains("SfhooksJobs.pause();"), "{apex}");
    assert!(apex.contains("WHERE Id IN ('08eA', '08eB')"), "{apex}");
    assert!(
        apex.contains("WHERE Id IN ('707Q') AND Status IN ('Holding', 'Queued')"),
        "{apex}"
    );
    assert!(!apex.contains("707R"), "{apex}");
    let mut old = jobs();
    old.has_jobs_class = false;
    assert!(!pause_apex("Sfhooks", &old).contains("SfhooksJobs"));
}

#[test]
fn restore_reschedules_by_name_and_skips_what_is_back() {
    let apex = restore_apex("Sfhooks", &jobs(), Restore::BySchedule);
    assert!(!apex.contains("SfhooksJobs.restore"), "{apex}");
    assert!(apex.contains(
        "System.schedule('SfhooksSweeper :00', '0 0 * * * ?', (Schedulable) Type.forName('SfhooksSweeper').newInstance());"
    ), "{apex}");
    assert!(
        apex.contains("if (!scheduled.contains('SfhooksSweeper :00'))"),
        "{apex}"
    );
    // The job whose class is unknown is not guessed at.
    assert!(!apex.contains("Admin"), "{apex}");
    assert_eq!(jobs().unrestorable().len(), 1);
    let through = restore_apex("Sfhooks", &jobs(), Restore::ThroughJobsClass);
    assert!(through.contains("SfhooksJobs.restore();"), "{through}");
}

/// ERROR and MISSING nodes of tree-sitter-sfapex in Anonymous Apex (wrapped in a method, as
/// Salesforce compiles it).
fn syntax_problems(anonymous: &str) -> Vec<String> {
    let source = format!("public class AnonymousBlock {{ void run() {{\n{anonymous}\n}} }}");
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_sfapex::apex::LANGUAGE.into())
        .expect("the Apex grammar loads");
    let tree = parser.parse(&source, None).expect("a tree");
    let mut problems = Vec::new();
    let mut cursor = tree.walk();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            problems.push(format!("{} at {:?}", node.kind(), node.start_position()));
        }
        stack.extend(node.children(&mut cursor));
    }
    problems
}

#[test]
fn the_anonymous_apex_parses() {
    assert!(
        !syntax_problems("System.abortJob(;").is_empty(),
        "the check can fail"
    );
    let all = jobs();
    for (what, apex) in [
        ("pause", pause_apex("Sfhooks", &all)),
        ("abort", abort_apex(&all)),
        (
            "restore",
            restore_apex("Sfhooks", &all, Restore::BySchedule),
        ),
        (
            "restore through the class",
            restore_apex("Sfhooks", &all, Restore::ThroughJobsClass),
        ),
        ("schedule", schedule_sweeper_apex("Sfhooks")),
    ] {
        let problems = syntax_problems(&apex);
        assert!(problems.is_empty(), "{what}: {problems:?}\n{apex}");
    }
}

#[test]
fn outcomes_of_anonymous_apex_are_told_apart() {
    let base = AnonymousResult {
        compiled: true,
        success: true,
        compile_problem: None,
        exception_message: None,
        exception_stack_trace: None,
        line: -1,
        column: -1,
    };
    assert!(check(base.clone()).is_ok());
    let compile = AnonymousResult {
        compiled: false,
        success: false,
        compile_problem: Some("Variable does not exist: SfhooksJobs".into()),
        line: 2,
        column: 1,
        ..base.clone()
    };
    assert!(matches!(
        check(compile),
        Err(JobsError::Compile { line: 2, .. })
    ));
    let refused = AnonymousResult {
        compiled: false,
        success: false,
        compile_problem: Some("User does not have the permission Author Apex".into()),
        ..base.clone()
    };
    assert!(matches!(check(refused), Err(JobsError::NotAllowed { .. })));
    let threw = AnonymousResult {
        success: false,
        exception_message: Some("System.StringException: Invalid id".into()),
        ..base
    };
    assert!(matches!(check(threw), Err(JobsError::Exception { .. })));
}
