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
