//! What Salesforce answers: `DeployResult` and the types inside it, `CancelDeployResult`, and
//! reading them out of the SOAP answer.
use std::fmt;

use serde::Serialize;

use super::soap::{Element, XmlError};
use super::MetadataError;

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

impl Serialize for DeployStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `DeployResult`: what `checkDeployStatus` answers. Field names serialise in camelCase, as the
/// Salesforce CLI's `--json` does; optional WSDL elements are left out when absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
    pub status: DeployStatus,
    pub success: bool,
}

/// `DeployDetails` (retrieveResult is not read: sfhooks never sets performRetrieve).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeployDetails {
    pub component_failures: Vec<DeployMessage>,
    pub component_successes: Vec<DeployMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_test_result: Option<RunTestsResult>,
}

/// `DeployMessage`: one component's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CancelDeployResult {
    /// True when the job was already done (nothing left to cancel).
    pub done: bool,
    /// The job.
    pub id: String,
}
pub(super) fn shape(operation: &'static str, what: &str) -> MetadataError {
    MetadataError::Xml {
        operation,
        source: XmlError::Shape(what.to_string()),
    }
}

pub(super) fn result_of<'a>(
    operation: &'static str,
    response: &'a Element,
) -> Result<&'a Element, MetadataError> {
    response
        .child("result")
        .ok_or_else(|| shape(operation, "the answer has no <result>"))
}

pub(super) fn bool_of(el: &Element, name: &str) -> bool {
    el.text_of(name).is_some_and(|v| v == "true" || v == "1")
}

fn opt_bool_of(el: &Element, name: &str) -> Option<bool> {
    el.text_of(name).map(|v| v == "true" || v == "1")
}

fn int_of(el: &Element, name: &str) -> i64 {
    opt_int_of(el, name).unwrap_or(0)
}

fn opt_int_of(el: &Element, name: &str) -> Option<i64> {
    el.text_of(name).and_then(|v| v.parse().ok())
}

fn float_of(el: &Element, name: &str) -> f64 {
    el.text_of(name).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

fn string_of(el: &Element, name: &str) -> String {
    el.text_of(name).unwrap_or_default()
}

/// Reads a `DeployResult` element. Missing required elements read as empty/zero/false rather
/// than failing: the verdict only needs `done`, `status` and `success`, and a partial report beats
/// none.
pub(super) fn deploy_result(el: &Element) -> DeployResult {
    let details = el.child("details");
    DeployResult {
        canceled_by: el.text_of("canceledBy"),
        canceled_by_name: el.text_of("canceledByName"),
        check_only: bool_of(el, "checkOnly"),
        completed_date: el.text_of("completedDate"),
        created_by: string_of(el, "createdBy"),
        created_by_name: string_of(el, "createdByName"),
        created_date: string_of(el, "createdDate"),
        details: details.map(deploy_details).unwrap_or_default(),
        done: bool_of(el, "done"),
        error_message: el.text_of("errorMessage"),
        error_status_code: el.text_of("errorStatusCode"),
        id: string_of(el, "id"),
        ignore_warnings: bool_of(el, "ignoreWarnings"),
        last_modified_date: el.text_of("lastModifiedDate"),
        number_component_errors: int_of(el, "numberComponentErrors"),
        number_components_deployed: int_of(el, "numberComponentsDeployed"),
        number_components_total: int_of(el, "numberComponentsTotal"),
        number_test_errors: int_of(el, "numberTestErrors"),
        number_tests_completed: int_of(el, "numberTestsCompleted"),
        number_tests_total: int_of(el, "numberTestsTotal"),
        rollback_on_error: bool_of(el, "rollbackOnError"),
        run_tests_enabled: bool_of(el, "runTestsEnabled"),
        start_date: el.text_of("startDate"),
        state_detail: el.text_of("stateDetail"),
        status: DeployStatus::parse(&string_of(el, "status")),
        success: bool_of(el, "success"),
    }
}

fn deploy_details(el: &Element) -> DeployDetails {
    DeployDetails {
        component_failures: el
            .children_named("componentFailures")
            .map(deploy_message)
            .collect(),
        component_successes: el
            .children_named("componentSuccesses")
            .map(deploy_message)
            .collect(),
        run_test_result: el.child("runTestResult").map(run_tests_result),
    }
}

fn deploy_message(el: &Element) -> DeployMessage {
    DeployMessage {
        changed: bool_of(el, "changed"),
        column_number: opt_int_of(el, "columnNumber"),
        component_type: el.text_of("componentType"),
        created: bool_of(el, "created"),
        created_date: string_of(el, "createdDate"),
        deleted: bool_of(el, "deleted"),
        file_name: string_of(el, "fileName"),
        full_name: string_of(el, "fullName"),
        id: el.text_of("id"),
        line_number: opt_int_of(el, "lineNumber"),
        problem: el.text_of("problem"),
        problem_type: el.text_of("problemType"),
        success: bool_of(el, "success"),
    }
}

fn run_tests_result(el: &Element) -> RunTestsResult {
    RunTestsResult {
        apex_log_id: el.text_of("apexLogId"),
        code_coverage: el
            .children_named("codeCoverage")
            .map(|c| CodeCoverageResult {
                id: string_of(c, "id"),
                name: string_of(c, "name"),
                namespace: c.text_of("namespace"),
                num_locations: int_of(c, "numLocations"),
                num_locations_not_covered: int_of(c, "numLocationsNotCovered"),
                kind: string_of(c, "type"),
            })
            .collect(),
        code_coverage_warnings: el
            .children_named("codeCoverageWarnings")
            .map(|w| CodeCoverageWarning {
                id: string_of(w, "id"),
                message: string_of(w, "message"),
                name: w.text_of("name"),
                namespace: w.text_of("namespace"),
            })
            .collect(),
        failures: el
            .children_named("failures")
            .map(|f| RunTestFailure {
                id: string_of(f, "id"),
                message: string_of(f, "message"),
                method_name: f.text_of("methodName"),
                name: string_of(f, "name"),
                namespace: f.text_of("namespace"),
                package_name: string_of(f, "packageName"),
                see_all_data: opt_bool_of(f, "seeAllData"),
                stack_trace: f.text_of("stackTrace"),
                time: float_of(f, "time"),
                kind: string_of(f, "type"),
            })
            .collect(),
        num_failures: int_of(el, "numFailures"),
        num_tests_run: int_of(el, "numTestsRun"),
        successes: el
            .children_named("successes")
            .map(|s| RunTestSuccess {
                id: string_of(s, "id"),
                method_name: string_of(s, "methodName"),
                name: string_of(s, "name"),
                namespace: s.text_of("namespace"),
                see_all_data: opt_bool_of(s, "seeAllData"),
                time: float_of(s, "time"),
            })
            .collect(),
        total_time: float_of(el, "totalTime"),
    }
}
