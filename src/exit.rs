//! How the binary's errors map to exit codes and to the `error:`/`hint:` lines it prints.
//! The codes themselves are defined once, in the library's `exit_code`.

pub use sfhooks::exit_code::{AUTH, FAILURE, OK, PARTIAL, STILL_RUNNING, USAGE};

/// Bad input from the user: wrong flags, bad config, unreadable files. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// A usage error with the given message.
    pub fn new(msg: impl Into<String>) -> Self {
        UsageError(msg.into())
    }
}

/// Authentication with Salesforce failed. Exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthFailed(pub String);

/// The error and its causes on one line, `outer: cause: root`, like anyhow's `{:#}`, except that a
/// cause whose text the line already holds is not repeated. Typed errors here put their source in
/// their own message (so a library user's `to_string()` is complete), and `{:#}` would then print
/// it twice.
pub fn message(err: &anyhow::Error) -> String {
    join_causes(err.chain().map(ToString::to_string))
}

/// [`message`] for a plain error and its `source()` chain.
pub fn message_of(err: &(dyn std::error::Error + 'static)) -> String {
    join_causes(std::iter::successors(Some(err), |e| e.source()).map(ToString::to_string))
}

fn join_causes(texts: impl Iterator<Item = String>) -> String {
    let mut line = String::new();
    for text in texts {
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Extra `hint:` lines for errors whose fix is known.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    /// The error itself.
    pub message: String,
    /// What the user can do about it.
    pub hint: String,
    /// The exit code it maps to.
    pub code: u8,
}

/// The exit code for an error: typed errors anywhere in the chain decide it, otherwise 1.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<UsageError>()
            || cause.is::<sfhooks::config::ConfigError>()
            || cause.is::<sfhooks::naming::NameError>()
            || cause.is::<clap::Error>()
        {
            return USAGE;
        }
        if cause.is::<AuthFailed>() {
            return AUTH;
        }
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            return h.code;
        }
    }
    FAILURE
}

/// The `hint:` lines to print under an error.
pub fn hints(err: &anyhow::Error) -> Vec<String> {
    err.chain()
        .filter_map(|c| c.downcast_ref::<Hinted>())
        .map(|h| h.hint.clone())
        .collect()
}

/// Maps an auth-module error to an exit code: a malformed URL on the command line is a usage
/// error (2); anything about the credentials themselves is an authentication failure (3).
///
/// The exit-code types are plain messages found by [`code_for`] walking the error chain,
/// where an anyhow *context* is invisible; so the cause is folded into the message instead.
pub fn auth_failed(err: sfhooks::salesforce::auth::AuthError) -> anyhow::Error {
    use sfhooks::salesforce::auth;
    match err {
        auth::AuthError::InsecureUrl { what, .. } | auth::AuthError::BadUrl { what, .. }
            if what != auth::TOKEN_ANSWER_URL =>
        {
            UsageError::new(err.to_string()).into()
        }
        other => AuthFailed(format!(
            "authentication with Salesforce failed: {}",
            message_of(&other)
        ))
        .into(),
    }
}

/// Maps a failed credential resolution (`salesforce::login::resolve`) to an exit code: flags
/// that do not add up are a usage error (2) with a hint when the fix is known; a refused value
/// goes through [`auth_failed`].
pub fn credentials_failed(err: sfhooks::salesforce::login::CredentialsError) -> anyhow::Error {
    use sfhooks::salesforce::login::CredentialsError;
    match err {
        CredentialsError::Auth(auth) => auth_failed(auth),
        err @ CredentialsError::HttpClient(_) => anyhow::Error::new(err),
        other => match other.hint() {
            Some(hint) => Hinted {
                message: other.to_string(),
                hint: hint.into(),
                code: USAGE,
            }
            .into(),
            None => UsageError::new(other.to_string()).into(),
        },
    }
}

/// Maps a REST client error to an exit code: a session that expired and could not be renewed
/// is an authentication failure (3), with how to get a fresh one; anything else is a failure
/// reported by or about Salesforce (1).
pub fn rest_failed(err: sfhooks::salesforce::rest::RestError) -> anyhow::Error {
    use sfhooks::salesforce::rest::RestError;
    match err {
        RestError::SessionExpired { .. } => Hinted {
            message: format!("the access token expired or was revoked: {err}"),
            hint: "get a fresh one (e.g. `sf org display --target-org <alias> --json`, field \
                   result.accessToken) and pass it as $SF_ACCESS_TOKEN; or authenticate with \
                   --sfdx-auth-url or the JWT flow, which sfhooks renews by itself"
                .into(),
            code: AUTH,
        }
        .into(),
        RestError::Renewal(_) => AuthFailed(message_of(&err)).into(),
        RestError::RequestLimitExceeded { .. } => Hinted {
            message: err.to_string(),
            hint: "the limit is a rolling 24 hours: wait, or ask Salesforce for more (Setup > \
                   Company Information shows the API requests of the last 24 hours)"
                .into(),
            code: FAILURE,
        }
        .into(),
        other => anyhow::Error::new(other),
    }
}

/// A connection to NATS that failed (`listen --forward-to` and `poll --forward-to`): refused
/// credentials exit as authentication failures, a bad URL or option as usage, anything else
/// (nothing listening, no JetStream) as a failure with the way out. `message` is what to print:
/// the caller's error, which may wrap `cause`.
pub fn nats_connect_failed(
    cause: &sfhooks::forward::jetstream::NatsConnectError,
    message: String,
) -> anyhow::Error {
    use sfhooks::forward::jetstream::NatsConnectError;
    match cause {
        NatsConnectError::Auth { .. } => AuthFailed(message).into(),
        NatsConnectError::Config(_) => UsageError::new(message).into(),
        NatsConnectError::Tls { .. } => Hinted {
            message,
            hint: "the server's certificate must be trusted by this machine: add its CA to the system's \
                   certificates, or point SSL_CERT_FILE at a PEM file holding it"
                .into(),
            code: FAILURE,
        }
        .into(),
        _ => Hinted {
            message,
            hint: "start the NATS server (with JetStream: nats-server -js) or fix --forward-to"
                .into(),
            code: FAILURE,
        }
        .into(),
    }
}

/// True when the error is a closed stdout (`sfhooks ... | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read x.toml: {source}")]
    struct Outer {
        source: std::io::Error,
    }

    #[test]
    fn a_refused_url_is_a_usage_error_unless_salesforce_gave_it() {
        use sfhooks::salesforce::auth::{AuthError as Refused, TOKEN_ANSWER_URL};
        let given = Refused::InsecureUrl {
            what: "login URL",
            url: "http://login.example.com".into(),
        };
        assert_eq!(code_for(&auth_failed(given)), USAGE);
        let answered = Refused::InsecureUrl {
            what: TOKEN_ANSWER_URL,
            url: "http://acme.my.salesforce.com".into(),
        };
        assert_eq!(code_for(&auth_failed(answered)), AUTH);
    }

    #[test]
    fn credential_flags_that_do_not_add_up_are_usage_errors_with_a_hint() {
        use sfhooks::salesforce::login::CredentialsError;
        let err = credentials_failed(CredentialsError::None);
        assert_eq!(code_for(&err), USAGE);
        assert!(hints(&err)[0].contains("--sfdx-auth-url"));
        let err = credentials_failed(CredentialsError::NoInstanceUrl);
        assert_eq!(code_for(&err), USAGE);
        assert!(hints(&err).is_empty());
    }

    #[test]
    fn message_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(Outer { source: io }).context("loading the configuration");
        assert_eq!(
            message(&err),
            "loading the configuration: cannot read x.toml: no such file"
        );
        let plain = anyhow::anyhow!("root cause").context("outer");
        assert_eq!(message(&plain), "outer: root cause");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(
            message_of(&Outer { source: io }),
            "cannot read x.toml: no such file"
        );
    }
}
