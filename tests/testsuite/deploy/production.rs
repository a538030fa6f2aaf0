//! `sfhooks deploy --production`: exactly the package's tests, validation and quick deploy, and
//! the packages built in memory (no `--zip`).
use super::*;

#[test]
fn production_runs_exactly_the_packages_test_classes() {
    let zip = zip_of(&[
        ("package.xml", PACKAGE_XML),
        ("classes/SfhooksDispatcher.cls", DISPATCHER),
        (
            "classes/SfhooksOutboxTest.cls",
            "@isTest(SeeAllData=false)\nprivate class SfhooksOutboxTest {\n    static testMethod void drains() {}\n}\n",
        ),
        ("classes/SfhooksDispatcherTest.cls", DISPATCHER_TEST),
        // @IsTest so it needs no coverage, but no test method: nothing to run, not named.
        (
            "classes/SfhooksTestSupport.cls",
            "@IsTest\npublic class SfhooksTestSupport {\n    public static Integer n = 0;\n}\n",
        ),
    ]);
    let w = World::with(FakeOrg::start(), &zip);
    w.org.script(Script::succeeds().tests(3));
    let out = run(&mut w.deploy_with_token(&["--production"]));
    assert_exit(&out, 0);
    assert_eq!(
        options_of(&w.org),
        pairs(&[
            ("allowMissingFiles", "false"),
            ("autoUpdatePackage", "false"),
            ("checkOnly", "false"),
            ("ignoreWarnings", "false"),
            ("performRetrieve", "false"),
            ("purgeOnDelete", "false"),
            ("rollbackOnError", "true"),
            ("runTests", "SfhooksDispatcherTest"),
            ("runTests", "SfhooksOutboxTest"),
            ("singlePackage", "true"),
            ("testLevel", "RunSpecifiedTests"),
        ])
    );
    assert!(stderr(&out)
        .contains("test level RunSpecifiedTests: SfhooksDispatcherTest, SfhooksOutboxTest"));
    assert!(
        stdout(&out).contains("succeeded: 4/4 components deployed, 3/3 tests run"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn production_refuses_any_other_test_level() {
    for level in ["NoTestRun", "RunLocalTests", "RunAllTestsInOrg"] {
        let w = World::new();
        let out = run(&mut w.deploy_with_token(&["--production", "--test-level", level]));
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains(&format!(
                "--test-level {level} is refused with --production"
            )),
            "{}",
            stderr(&out)
        );
        assert!(w.org.received().is_empty());
    }
}

#[test]
fn production_uninstall_refuses_a_test_level_it_could_not_honour() {
    let w = World::new();
    let out = run(&mut w.deploy_with_token(&[
        "--production",
        "--uninstall",
        "--test-level",
        "RunSpecifiedTests",
    ]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("refused with --production --uninstall"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn production_without_test_classes_is_a_usage_error() {
    let zip = zip_of(&[
        ("package.xml", PACKAGE_XML),
        ("classes/SfhooksDispatcher.cls", DISPATCHER),
    ]);
    let w = World::with(FakeOrg::start(), &zip);
    let out = run(&mut w.deploy_with_token(&["--production"]));
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("the package has no test class"), "{err}");
    assert!(
        err.contains("hint: ") && err.contains("--uninstall"),
        "{err}"
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn production_uninstall_runs_local_tests() {
    let zip = zip_of(&[
        ("package.xml", "<Package xmlns=\"http://soap.sforce.com/2006/04/metadata\"><version>63.0</version></Package>"),
        ("destructiveChanges.xml", PACKAGE_XML),
    ]);
    let w = World::with(FakeOrg::start(), &zip);
    w.org.script(Script::succeeds());
    let out = run(&mut w.deploy_with_token(&["--production", "--uninstall"]));
    assert_exit(&out, 0);
    assert_test_level_without_named_tests(&w.org, "RunLocalTests");
}

#[test]
fn a_zip_without_package_xml_is_a_usage_error() {
    let zip = zip_of(&[("classes/SfhooksDispatcher.cls", DISPATCHER)]);
    let w = World::with(FakeOrg::start(), &zip);
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("the package has no package.xml"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn validate_only_then_quick_deploy() {
    let w = World::new();
    w.org.script(Script::succeeds().tests(1));
    let out = run(&mut w.deploy_with_token(&["--production", "--validate-only"]));
    assert_exit(&out, 0);
    let validation = job_id_in(&stdout(&out), "validation");
    assert_eq!(
        stdout(&out),
        format!(
            "validation {validation} succeeded: 2/2 components deployed, 1/1 tests run\n\
             quick-deploy it within 10 days with: sfhooks deploy --production --quick {validation}\n"
        )
    );
    assert!(options_of(&w.org).contains(&("checkOnly".into(), "true".into())));

    w.org.script(Script::succeeds());
    let mut cmd = w.deploy_signed_in(&["--production", "--quick", &validation]);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let quick = w.org.received_for("deployRecentValidation");
    assert_eq!(quick.len(), 1);
    assert_eq!(
        quick[0]
            .operation_element()
            .child("validationId")
            .unwrap()
            .text,
        validation
    );
    let deployed = job_id_in(&stdout(&out), "deploy");
    assert_ne!(deployed, validation, "the quick deploy is a new job");
    let last_poll = w.org.received_for("checkDeployStatus").pop().unwrap();
    assert_eq!(
        last_poll
            .operation_element()
            .child("asyncProcessId")
            .unwrap()
            .text,
        deployed
    );
    assert_eq!(w.org.deploys().len(), 1, "quick deploy uploads nothing");
}

#[test]
fn quick_deploy_of_an_unknown_id_reports_the_fault() {
    let w = World::new();
    let mut cmd = w.deploy_signed_in(&["--production", "--quick", "0Af000000000000999"]);
    let out = run(&mut cmd);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("cannot quick-deploy validation 0Af000000000000999"),
        "{err}"
    );
    assert!(
        err.contains("SOAP fault sf:INVALID_CROSS_REFERENCE_KEY: INVALID_CROSS_REFERENCE_KEY: invalid cross reference id"),
        "{err}"
    );
    assert!(
        err.contains("hint: ") && err.contains("--validate-only"),
        "{err}"
    );
}

#[test]
fn quick_deploy_of_a_validation_that_ran_no_tests_is_refused() {
    let w = World::new();
    let validation = w.org.seed_validation(false);
    let mut cmd = w.deploy_signed_in(&["--production", "--quick", &validation]);
    let out = run(&mut cmd);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("SOAP fault sf:INVALID_ID_FIELD"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received_for("checkDeployStatus").is_empty());
}

#[test]
fn production_without_zip_deploys_the_package_and_names_exactly_its_tests() {
    let w = World::new();
    let (packaged, printed) = package(&w, &["--production"]);
    // `package --production` prints the sf command with the package's own test list.
    let sf_line = printed
        .lines()
        .find(|l| l.starts_with("sf project deploy start"))
        .unwrap_or_else(|| panic!("no sf command in {printed}"));
    let expected: Vec<&str> = sf_line
        .split(" --tests ")
        .skip(1)
        .map(|t| t.split_whitespace().next().expect("a test name"))
        .collect();
    assert!(!expected.is_empty(), "{sf_line}");

    w.org.script(Script::succeeds().tests(3));
    let mut cmd = w.deploy_signed_in(&["--production"]);
    cmd.args(INPUTS).env("SFHOOKS_SECRET", test_secret());
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let deploys = w.org.deploys();
    assert_eq!(deploys.len(), 1);
    // The same bytes as `sfhooks package`, with the settings record pinned to the org
    // once the settings type has the Org_Id__c field.
    let pinned = match sfhooks::mdapi::pin_org_id(&packaged, crate::support::fake_rest::ORG_ID) {
        Ok(sfhooks::mdapi::Pinned::Now(bytes)) => bytes,
        _ => packaged,
    };
    assert_eq!(
        deploys[0].zip, pinned,
        "the same bytes as `sfhooks package`, pinned to the org"
    );
    assert_eq!(deploys[0].option("runTests"), expected);
    assert_eq!(deploys[0].option("testLevel"), ["RunSpecifiedTests"]);
    assert_eq!(deploys[0].option("rollbackOnError"), ["true"]);
    assert_eq!(deploys[0].option("checkOnly"), ["false"]);
}

#[test]
fn uninstall_without_zip_deploys_the_destructive_package() {
    let w = World::new();
    let (packaged, _) = package(&w, &["--uninstall"]);
    w.org.script(Script::succeeds());
    let mut cmd = w.deploy_signed_in(&["--sandbox", "--uninstall"]);
    cmd.args(INPUTS);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let deploys = w.org.deploys();
    assert_eq!(deploys.len(), 1);
    assert_eq!(deploys[0].zip, packaged);
    let names: Vec<String> = deploys[0]
        .zip_entries()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["destructiveChanges.xml", "package.xml"]);
    assert_eq!(deploys[0].option("testLevel"), ["NoTestRun"]);
}
