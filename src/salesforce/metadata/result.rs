//! What Salesforce answers: `DeployResult` and the types inside it, `CancelDeployResult`, read
//! from the SOAP answer with serde (element names are the WSDL's, camelCase).
//!
//! Missing elements read as empty/zero/false rather than failing (`#[serde(default)]`): the
//! verdict only needs `done`, `status` and `success`, and a partial report beats none. Elements
//! this version does not know are ignored.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// `DeployStatus` (WSDL simpleType), plus whatever a newer API might add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployStatus {
    /// Queued.
    #[default]
    Pending,
    /// Running.
    InProgress,
    /// Done, everything deployed.
    Succeeded,
    /// Done, some components deployed (only with rollbackOnError false).
    SucceededPartial,
    /// Done, nothing deployed.
    Failed,
    /// A cancel was requested.
    Canceling,
    /// Canceled.
    Canceled,
    /// A value this version does not know; `done` still says whether the job ended.
    Other(String),
}

impl DeployStatus {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            DeployStatus::Pending => "Pending",
            DeployStatus::InProgress => "InProgress",
            DeployStatus::Succeeded => "Succeeded",
            DeployStatus::SucceededPartial => "SucceededPartial",
            DeployStatus::Failed => "Failed",
            DeployStatus::Canceling => "Canceling",
            DeployStatus::Canceled => "Canceled",
            DeployStatus::Other(s) => s,
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "Pending" => DeployStatus::Pending,
            "InProgress" => DeployStatus::InProgress,
            "Succeeded" => DeployStatus::Succeeded,
            "SucceededPartial" => DeployStatus::SucceededPartial,
            "Failed" => DeployStatus::Failed,
            "Canceling" => DeployStatus::Canceling,
            "Canceled" => DeployStatus::Canceled,
            other => DeployStatus::Other(other.to_string()),
        }
    }
}

impl fmt::Display for DeployStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DeployStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| DeployStatus::parse(s.trim()))
    }
}

/// A `DeployResult` without a `<status>` reads as `Other("")`, not as the `Pending` default.
fn no_status() -> DeployStatus {
    DeployStatus::Other(String::new())
}

impl Serialize for DeployStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `DeployResult`: what `checkDeployStatus` answers. Field names serialise in camelCase, as the
/// Salesforce CLI's `--json` does; optional WSDL elements are left out when absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct DeployResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canceled_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canceled_by_name: Option<String>,
    pub check_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_date: Option<String>,
    pub created_by: String,
    pub created_by_name: String,
    pub created_date: String,
    pub details: DeployDetails,
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_status_code: Option<String>,
    pub id: String,
    pub ignore_warnings: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_date: Option<String>,
    pub number_component_errors: i64,
    pub number_components_deployed: i64,
    pub number_components_total: i64,
    pub number_test_errors: i64,
    pub number_tests_completed: i64,
    pub number_tests_total: i64,
    pub rollback_on_error: bool,
    pub run_tests_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_detail: Option<String>,
    #[serde(default = "no_status")]
    pub status: DeployStatus,
    pub success: bool,
}

/// `DeployDetails` (retrieveResult is not read: sfhooks never sets performRetrieve).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct DeployDetails {
    pub component_failures: Vec<DeployMessage>,
    pub component_successes: Vec<DeployMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_test_result: Option<RunTestsResult>,
}

/// `DeployMessage`: one component's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct DeployMessage {
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_type: Option<String>,
    pub created: bool,
    pub created_date: String,
    pub deleted: bool,
    pub file_name: String,
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    pub success: bool,
}

/// `RunTestsResult` (flow coverage is not read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct RunTestsResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apex_log_id: Option<String>,
    pub code_coverage: Vec<CodeCoverageResult>,
    pub code_coverage_warnings: Vec<CodeCoverageWarning>,
    pub failures: Vec<RunTestFailure>,
    pub num_failures: i64,
    pub num_tests_run: i64,
    pub successes: Vec<RunTestSuccess>,
    pub total_time: f64,
}

/// `CodeCoverageResult`, without the per-location lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct CodeCoverageResult {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub num_locations: i64,
    pub num_locations_not_covered: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `CodeCoverageWarning`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct CodeCoverageWarning {
    pub id: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `RunTestFailure`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct RunTestFailure {
    pub id: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method_name: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub package_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub see_all_data: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<String>,
    pub time: f64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `RunTestSuccess`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct RunTestSuccess {
    pub id: String,
    pub method_name: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub see_all_data: Option<bool>,
    pub time: f64,
}

/// `CancelDeployResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CancelDeployResult {
    /// True when the job was already done (nothing left to cancel).
    pub done: bool,
    /// The job.
    pub id: String,
}
