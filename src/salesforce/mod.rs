//! Talking to Salesforce: OAuth ([`auth`]), the SOAP Metadata API ([`metadata`]) and the REST API
//! ([`rest`], for `status`, `replay`, `poll` and the deploy's job handling, with [`jobs`]);
//! [`login`] resolves the credential flags every command shares.
//!
//! Blocking I/O with reqwest; no global state. Errors are typed here and turned into exit codes
//! and hints by `cmd::deploy`.
pub mod auth;
pub mod jobs;
pub mod login;
pub mod metadata;
pub mod rest;
pub mod soap;
pub mod soql_literal;

/// The start of an error body, on one line, for error messages.
pub(crate) fn snippet(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        "(empty body)".to_string()
    } else if one_line.chars().count() > 200 {
        format!("{}…", one_line.chars().take(200).collect::<String>())
    } else {
        one_line
    }
}
