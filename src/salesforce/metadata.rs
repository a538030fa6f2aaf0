//! The SOAP Metadata API calls `sfhooks deploy` makes: `deploy`, `checkDeployStatus`,
//! `cancelDeploy` and `deployRecentValidation` (WSDL `metadata-63.0.wsdl`; Metadata API
//! Developer Guide, "deploy()", "checkDeployStatus()", "cancelDeploy()",
//! "deployRecentValidation()").
//!
//! [`MetadataClient`] holds one session and retries what is safe to retry: HTTP 5xx without a
//! SOAP answer and connection errors, a bounded number of times with a doubling delay. A call that
//! starts work (`deploy`, `deployRecentValidation`) is retried only when the request cannot have
//! been processed (connection refused, HTTP 503), so a retry never starts a second deploy. A SOAP
//! fault is an answer, never retried; `INVALID_SESSION_ID` gets its own variant so the caller can
//! renew the session.
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;
use url::Url;

use super::soap::{self, Answer, Element, Fault, XmlError};
use crate::redacted::Redacted;

/// The Metadata API version sfhooks speaks (the WSDL it was written against): the one API version
/// constant, also the default of the generated metadata.
pub const API_VERSION: &str = crate::config::DEFAULT_API_VERSION;

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

/// Why a Metadata API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// `INVALID_SESSION_ID`: the session expired or was revoked.
    #[error("{operation} failed: the session is no longer valid ({}: {})", fault.code, fault.string)]
    InvalidSession {
        /// The call.
        operation: &'static str,
        /// The fault as sent.
        fault: Fault,
    },
    /// Any other SOAP fault.
    #[error("{operation} failed with SOAP fault {}: {}", fault.code, fault.string)]
    Fault {
        /// The call.
        operation: &'static str,
        /// The fault as sent.
        fault: Fault,
    },
    /// An HTTP error without a SOAP answer, after the retries.
    #[error("{operation} failed: HTTP {status} from {url} (tried {tries} times): {snippet}")]
    Http {
        /// The call.
        operation: &'static str,
        /// The endpoint.
        url: String,
        /// The last status.
        status: u16,
        /// How many requests were sent.
        tries: u32,
        /// The start of the last body.
        snippet: String,
    },
    /// No answer at all (connection refused, reset, timed out), after the retries.
    #[error("{operation} failed: no answer from {url} (tried {tries} times)")]
    Transport {
        /// The call.
        operation: &'static str,
        /// The endpoint.
        url: String,
        /// How many requests were sent.
        tries: u32,
        /// The last transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx answer that is not the expected SOAP response.
    #[error("{operation} failed: {source}")]
    Xml {
        /// The call.
        operation: &'static str,
        /// What was wrong.
        #[source]
        source: XmlError,
    },
}

/// How many times, and how patiently, to resend a request that got no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent at most, the first included.
    pub tries: u32,
    /// Delay before the second request; doubles after each further failure.
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 tries, waiting 1 s, 2 s, 4 s, 8 s in between: rides out a short outage (15 s) without
    /// hiding a long one.
    fn default() -> Self {
        RetryPolicy {
            tries: 5,
            first_delay: Duration::from_secs(1),
        }
    }
}

/// Whether a call may be resent after an unclear failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Reads or cancels: resending is harmless.
    Always,
    /// Starts work: resend only when the request cannot have been processed.
    OnlyIfUnprocessed,
}

/// A Metadata API client bound to one session.
#[derive(Debug, Clone)]
pub struct MetadataClient {
    http: reqwest::blocking::Client,
    endpoint: Url,
    session_id: Redacted<String>,
    retry: RetryPolicy,
}

impl MetadataClient {
    /// A client for `{instance_url}/services/Soap/m/{API_VERSION}`.
    pub fn new(
        http: reqwest::blocking::Client,
        instance_url: &Url,
        session_id: Redacted<String>,
        retry: RetryPolicy,
    ) -> Result<Self, url::ParseError> {
        let endpoint = instance_url.join(&format!("/services/Soap/m/{API_VERSION}"))?;
        Ok(MetadataClient {
            http,
            endpoint,
            session_id,
            retry,
        })
    }

    /// `deploy(ZipFile, DeployOptions)`: starts a deploy and returns its job id (`0Af…`).
    pub fn deploy(&self, zip: &[u8], options: &DeployOptions) -> Result<String, MetadataError> {
        let body = format!(
            "{}<met:DeployOptions>{}</met:DeployOptions>",
            soap::field("ZipFile", &STANDARD.encode(zip)),
            options.to_xml()
        );
        let answer = self.call("deploy", &body, Resend::OnlyIfUnprocessed)?;
        let result = result_of("deploy", &answer)?;
        result
            .text_of("id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| shape("deploy", "the AsyncResult has no id"))
    }

    /// `checkDeployStatus(asyncProcessId, includeDetails=true)`.
    pub fn check_deploy_status(&self, job_id: &str) -> Result<DeployResult, MetadataError> {
        let body = format!(
            "{}{}",
            soap::field("asyncProcessId", job_id),
            soap::field("includeDetails", "true")
        );
        let answer = self.call("checkDeployStatus", &body, Resend::Always)?;
        Ok(deploy_result(result_of("checkDeployStatus", &answer)?))
    }

    /// `cancelDeploy(String)`: asks Salesforce to cancel; the job then goes Canceling → Canceled.
    pub fn cancel_deploy(&self, job_id: &str) -> Result<CancelDeployResult, MetadataError> {
        let answer = self.call(
            "cancelDeploy",
            &soap::field("String", job_id),
            Resend::Always,
        )?;
        let result = result_of("cancelDeploy", &answer)?;
        Ok(CancelDeployResult {
            done: bool_of(result, "done"),
            id: result.text_of("id").unwrap_or_default(),
        })
    }

    /// `deployRecentValidation(validationId)`: quick-deploys a validation; returns the **new**
    /// job id to poll.
    pub fn deploy_recent_validation(&self, validation_id: &str) -> Result<String, MetadataError> {
        let answer = self.call(
            "deployRecentValidation",
            &soap::field("validationId", validation_id),
            Resend::OnlyIfUnprocessed,
        )?;
        answer
            .text_of("result")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| shape("deployRecentValidation", "the answer has no job id"))
    }

    /// Sends one operation, resending on 5xx and transport errors as `resend` allows.
    fn call(
        &self,
        operation: &'static str,
        body: &str,
        resend: Resend,
    ) -> Result<Element, MetadataError> {
        let envelope = soap::envelope(self.session_id.expose(), operation, body);
        let url = self.endpoint.to_string();
        let mut delay = self.retry.first_delay;
        let mut tries = 0;
        loop {
            tries += 1;
            let last_try = tries >= self.retry.tries.max(1);
            let sent = self
                .http
                .post(self.endpoint.clone())
                .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=UTF-8")
                // Ignored by Salesforce, required by SOAP 1.1; jsforce sends "" too.
                .header("SOAPAction", "\"\"")
                .body(envelope.clone())
                .send()
                .and_then(|r| {
                    let status = r.status();
                    r.text().map(|text| (status, text))
                });
            let (status, text) = match sent {
                Ok(answer) => answer,
                Err(source) => {
                    // A refused connection never reached Salesforce; anything later might have.
                    let unprocessed = source.is_connect();
                    if !last_try && (resend == Resend::Always || unprocessed) {
                        std::thread::sleep(delay);
                        delay *= 2;
                        continue;
                    }
                    return Err(MetadataError::Transport {
                        operation,
                        url,
                        tries,
                        source: source.without_url(),
                    });
                }
            };
            match soap::read_answer(&text) {
                // A fault is Salesforce's answer (HTTP 500 by SOAP 1.1), not an outage.
                Ok(Answer::Fault(fault)) => {
                    return Err(if fault.local_code() == "INVALID_SESSION_ID" {
                        MetadataError::InvalidSession { operation, fault }
                    } else {
                        MetadataError::Fault { operation, fault }
                    });
                }
                Ok(Answer::Response(response)) if status.is_success() => {
                    let expected = format!("{operation}Response");
                    if response.name != expected {
                        return Err(shape(
                            operation,
                            &format!("expected <{expected}>, got <{}>", response.name),
                        ));
                    }
                    return Ok(response);
                }
                parsed => {
                    let unprocessed = status == reqwest::StatusCode::SERVICE_UNAVAILABLE;
                    let retryable =
                        status.is_server_error() && (resend == Resend::Always || unprocessed);
                    if retryable && !last_try {
                        std::thread::sleep(delay);
                        delay *= 2;
                        continue;
                    }
                    if status.is_success() {
                        if let Err(source) = parsed {
                            return Err(MetadataError::Xml { operation, source });
                        }
                    }
                    return Err(MetadataError::Http {
                        operation,
                        url,
                        status: status.as_u16(),
                        tries,
                        snippet: super::snippet(&text),
                    });
                }
            }
        }
    }
}

fn shape(operation: &'static str, what: &str) -> MetadataError {
    MetadataError::Xml {
        operation,
        source: XmlError::Shape(what.to_string()),
    }
}

fn result_of<'a>(
    operation: &'static str,
    response: &'a Element,
) -> Result<&'a Element, MetadataError> {
    response
        .child("result")
        .ok_or_else(|| shape(operation, "the answer has no <result>"))
}

fn bool_of(el: &Element, name: &str) -> bool {
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
fn deploy_result(el: &Element) -> DeployResult {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_options_follow_the_wsdl_sequence() {
        let opts = DeployOptions {
            run_tests: vec!["ATest".into(), "BTest".into()],
            test_level: TestLevel::RunSpecifiedTests,
            ..DeployOptions::default()
        };
        assert_eq!(
            opts.to_xml(),
            "<met:allowMissingFiles>false</met:allowMissingFiles>\
             <met:autoUpdatePackage>false</met:autoUpdatePackage>\
             <met:checkOnly>false</met:checkOnly>\
             <met:ignoreWarnings>false</met:ignoreWarnings>\
             <met:performRetrieve>false</met:performRetrieve>\
             <met:purgeOnDelete>false</met:purgeOnDelete>\
             <met:rollbackOnError>true</met:rollbackOnError>\
             <met:runTests>ATest</met:runTests><met:runTests>BTest</met:runTests>\
             <met:singlePackage>true</met:singlePackage>\
             <met:testLevel>RunSpecifiedTests</met:testLevel>"
        );
    }

    #[test]
    fn test_level_parses_the_four_values_only() {
        for level in TestLevel::ALL {
            assert_eq!(level.as_str().parse::<TestLevel>().unwrap(), level);
        }
        assert_eq!(
            "runlocaltests".parse::<TestLevel>().unwrap(),
            TestLevel::RunLocalTests
        );
        let err = "RunEverything"
            .parse::<TestLevel>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RunEverything") && err.contains("RunAllTestsInOrg"),
            "{err}"
        );
    }

    #[test]
    fn reads_a_deploy_result_with_details() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><checkDeployStatusResponse><result>
<checkOnly>false</checkOnly><createdBy>005</createdBy><createdByName>A</createdByName><createdDate>2025-01-01T00:00:00.000Z</createdDate>
<details>
 <componentFailures><changed>false</changed><columnNumber>9</columnNumber><componentType>ApexClass</componentType><created>false</created><createdDate>2025-01-01T00:00:00.000Z</createdDate><deleted>false</deleted><fileName>classes/A.cls</fileName><fullName>A</fullName><lineNumber>3</lineNumber><problem>Unexpected token 'x'.</problem><problemType>Error</problemType><success>false</success></componentFailures>
 <componentSuccesses><changed>true</changed><created>true</created><createdDate>2025-01-01T00:00:00.000Z</createdDate><deleted>false</deleted><fileName>package.xml</fileName><fullName>package.xml</fullName><success>true</success></componentSuccesses>
 <runTestResult><codeCoverageWarnings><id>01p</id><message>Average test coverage across all Apex Classes and Triggers is 25%, at least 75% test coverage is required.</message><name xsi:nil="true"/><namespace xsi:nil="true"/></codeCoverageWarnings>
  <failures><id>01p</id><message>System.AssertException: Assertion Failed</message><methodName>itWorks</methodName><name>ATest</name><namespace xsi:nil="true"/><packageName>ATest</packageName><stackTrace>Class.ATest.itWorks: line 5, column 1</stackTrace><time>12.0</time><type>Class</type></failures>
  <numFailures>1</numFailures><numTestsRun>2</numTestsRun><totalTime>40.0</totalTime></runTestResult>
</details>
<done>true</done><id>0Af000000000001AAA</id><ignoreWarnings>false</ignoreWarnings><numberComponentErrors>1</numberComponentErrors><numberComponentsDeployed>1</numberComponentsDeployed><numberComponentsTotal>2</numberComponentsTotal><numberTestErrors>1</numberTestErrors><numberTestsCompleted>1</numberTestsCompleted><numberTestsTotal>2</numberTestsTotal><rollbackOnError>true</rollbackOnError><runTestsEnabled>true</runTestsEnabled><status>Failed</status><success>false</success>
</result></checkDeployStatusResponse></soapenv:Body></soapenv:Envelope>"#;
        let Answer::Response(r) = soap::read_answer(xml).unwrap() else {
            panic!("fault")
        };
        let result = deploy_result(r.child("result").unwrap());
        assert_eq!(result.status, DeployStatus::Failed);
        assert!(result.done && !result.success);
        assert_eq!(result.number_components_total, 2);
        let failure = &result.details.component_failures[0];
        assert_eq!(
            (failure.line_number, failure.column_number),
            (Some(3), Some(9))
        );
        assert_eq!(failure.file_name, "classes/A.cls");
        let tests = result.details.run_test_result.as_ref().unwrap();
        assert_eq!(tests.failures[0].method_name.as_deref(), Some("itWorks"));
        assert_eq!(tests.failures[0].namespace, None);
        assert_eq!(tests.code_coverage_warnings[0].name, None);
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["status"], "Failed");
        assert_eq!(json["numberComponentsTotal"], 2);
        assert_eq!(json["details"]["componentFailures"][0]["lineNumber"], 3);
        assert_eq!(
            json["details"]["runTestResult"]["failures"][0]["type"],
            "Class"
        );
        assert!(json.get("canceledBy").is_none());
    }
}
