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
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use url::Url;

use super::soap::{self, Answer, Element, Fault, XmlError};
use crate::redacted::Redacted;

mod options;
mod result;

pub use options::{DeployOptions, TestLevel, UnknownTestLevel};
pub use result::{
    CancelDeployResult, CodeCoverageResult, CodeCoverageWarning, DeployDetails, DeployMessage,
    DeployResult, DeployStatus, RunTestFailure, RunTestSuccess, RunTestsResult,
};

use result::{bool_of, deploy_result, result_of, shape};

/// The Metadata API version sfhooks speaks (the WSDL it was written against): the one API version
/// constant, also the default of the generated metadata.
pub const API_VERSION: &str = crate::config::DEFAULT_API_VERSION;

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
