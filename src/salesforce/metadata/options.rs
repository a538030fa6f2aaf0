//! What a deploy asks for: `DeployOptions` and its `TestLevel` (WSDL complexType
//! `DeployOptions`, written in the WSDL's sequence order).
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::soap;

/// `TestLevel` (WSDL simpleType): which Apex tests a deploy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TestLevel {
    /// No tests (sandboxes; refused by production for Apex).
    NoTestRun,
    /// Only the tests named in `runTests`; each class and trigger needs 75 % coverage from them.
    RunSpecifiedTests,
    /// Every test in the org outside managed packages.
    RunLocalTests,
    /// Every test in the org, managed packages included.
    RunAllTestsInOrg,
}

impl TestLevel {
    /// The four values, in WSDL order.
    pub const ALL: [TestLevel; 4] = [
        TestLevel::NoTestRun,
        TestLevel::RunSpecifiedTests,
        TestLevel::RunLocalTests,
        TestLevel::RunAllTestsInOrg,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TestLevel::NoTestRun => "NoTestRun",
            TestLevel::RunSpecifiedTests => "RunSpecifiedTests",
            TestLevel::RunLocalTests => "RunLocalTests",
            TestLevel::RunAllTestsInOrg => "RunAllTestsInOrg",
        }
    }
}

impl fmt::Display for TestLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--test-level` value that is not one of the four.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown test level {0:?}: expected NoTestRun, RunSpecifiedTests, RunLocalTests or RunAllTestsInOrg"
)]
pub struct UnknownTestLevel(pub String);

impl FromStr for TestLevel {
    type Err = UnknownTestLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TestLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownTestLevel(s.to_string()))
    }
}

/// `DeployOptions`. Serialised in the WSDL's `xsd:sequence` order, every element present: real
/// Salesforce tolerates other orders and omissions, but the schema is the contract.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployOptions {
    /// Deploy even if files named in package.xml are missing.
    pub allow_missing_files: bool,
    /// Add files missing from package.xml (deprecated by Salesforce; keep false).
    pub auto_update_package: bool,
    /// Validate only; nothing is saved (a validation that can later be quick-deployed).
    pub check_only: bool,
    /// Deploy despite warnings.
    pub ignore_warnings: bool,
    /// Retrieve after deploy.
    pub perform_retrieve: bool,
    /// Hard-delete destructive changes instead of moving them to the recycle bin.
    pub purge_on_delete: bool,
    /// All or nothing. Production requires true (Metadata API Developer Guide, "DeployOptions").
    pub rollback_on_error: bool,
    /// Test classes for `RunSpecifiedTests`.
    pub run_tests: Vec<String>,
    /// The zip holds one package with package.xml at its root.
    pub single_package: bool,
    /// Which tests run.
    pub test_level: TestLevel,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            allow_missing_files: false,
            auto_update_package: false,
            check_only: false,
            ignore_warnings: false,
            perform_retrieve: false,
            purge_on_delete: false,
            rollback_on_error: true,
            run_tests: Vec::new(),
            single_package: true,
            test_level: TestLevel::NoTestRun,
        }
    }
}

impl DeployOptions {
    /// The children of `<DeployOptions>`, in WSDL order.
    pub fn to_xml(&self) -> String {
        let b = |v: bool| if v { "true" } else { "false" };
        let mut xml = String::new();
        xml.push_str(&soap::field(
            "allowMissingFiles",
            b(self.allow_missing_files),
        ));
        xml.push_str(&soap::field(
            "autoUpdatePackage",
            b(self.auto_update_package),
        ));
        xml.push_str(&soap::field("checkOnly", b(self.check_only)));
        xml.push_str(&soap::field("ignoreWarnings", b(self.ignore_warnings)));
        xml.push_str(&soap::field("performRetrieve", b(self.perform_retrieve)));
        xml.push_str(&soap::field("purgeOnDelete", b(self.purge_on_delete)));
        xml.push_str(&soap::field("rollbackOnError", b(self.rollback_on_error)));
        for test in &self.run_tests {
            xml.push_str(&soap::field("runTests", test));
        }
        xml.push_str(&soap::field("singlePackage", b(self.single_package)));
        xml.push_str(&soap::field("testLevel", self.test_level.as_str()));
        xml
    }
}
