//! The NATS JetStream flags `listen` and `poll` share (`--forward-to nats://...` and `--nats-*`),
//! and their translation into the library's [`JetStreamTarget`], checked before anything starts.
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::exit::UsageError;
use sfhooks::forward::jetstream::{
    self, JetStreamTarget, NatsAuth, NatsUrl, StreamReport, StreamSpec,
};
use sfhooks::redacted::Redacted;

/// Where the NATS password is read from (never from the command line, where `ps` shows it).
const NATS_PASSWORD_ENV: &str = "SFHOOKS_NATS_PASSWORD";
/// Where a NATS token is read from.
const NATS_TOKEN_ENV: &str = "SFHOOKS_NATS_TOKEN";

/// How to reach JetStream and what to publish.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// NATS credentials file (user JWT and NKey seed), for --forward-to nats://.
    #[arg(long, value_name = "FILE", conflicts_with = "nats_user")]
    pub nats_creds: Option<PathBuf>,
    /// NATS user, for --forward-to nats://; the password is read from $SFHOOKS_NATS_PASSWORD.
    /// (A token instead: set $SFHOOKS_NATS_TOKEN.)
    #[arg(long, value_name = "USER")]
    pub nats_user: Option<String>,
    /// JetStream stream to create at start-up, or to check when it exists: file storage,
    /// subjects sfhooks.deliveries.> and sfhooks.events.>, and --nats-duplicate-window.
    #[arg(long, value_name = "NAME")]
    pub nats_stream: Option<String>,
    /// How long the stream created by --nats-stream dedupes ids: it must cover the sender's
    /// retry horizon, and may not be shorter than the signature tolerance (90s, 15m, 24h, 7d).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = sfhooks::forward::jetstream::parse_duration)]
    pub nats_duplicate_window: Duration,
    /// Max age of messages in the stream created by --nats-stream; 0 keeps them until removed
    /// otherwise. JetStream refuses a duplicate window longer than this.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = sfhooks::forward::jetstream::parse_duration)]
    pub nats_max_age: Duration,
    /// With nats://: publish each event on sfhooks.events.<orgId>.<objectType>.<eventType>
    /// (Nats-Msg-Id = eventId) instead of the whole delivery on sfhooks.deliveries.<orgId>.
    #[arg(long)]
    pub per_event: bool,
    /// With nats://: seconds to wait for JetStream's acknowledgement before the delivery counts
    /// as not stored (listen answers 503, poll retries it later).
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub nats_ack_timeout: u64,
}

/// Whether `--forward-to` names NATS rather than an HTTP target.
pub fn is_nats_url(url: &str) -> bool {
    url.starts_with("nats://") || url.starts_with("tls://")
}

impl NatsArgs {
    /// The first NATS-only flag given, to refuse it when there is no NATS target.
    pub fn first_given(&self) -> Option<&'static str> {
        [
            ("--nats-creds", self.nats_creds.is_some()),
            ("--nats-user", self.nats_user.is_some()),
            ("--nats-stream", self.nats_stream.is_some()),
            ("--per-event", self.per_event),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }

    /// The target for `url` (nats:// or tls://), with the credentials from the flags and the
    /// environment; the stream settings are checked against `tolerance` before connecting.
    pub fn target(&self, url: &str, tolerance: Duration) -> anyhow::Result<JetStreamTarget> {
        if self.nats_ack_timeout == 0 {
            return Err(UsageError::new("--nats-ack-timeout must be at least 1 second").into());
        }
        let nats_url = NatsUrl::parse(url).map_err(|e| UsageError::new(e.to_string()))?;
        let auth = self.auth()?;
        let stream = self.nats_stream.as_ref().map(|name| StreamSpec {
            name: name.clone(),
            duplicate_window: self.nats_duplicate_window,
            max_age: self.nats_max_age,
            tolerance,
            per_event: self.per_event,
        });
        if let Some(spec) = &stream {
            // Refused settings are refused before connecting.
            spec.check().map_err(|e| UsageError::new(e.to_string()))?;
        }
        Ok(JetStreamTarget {
            url: nats_url,
            auth,
            stream,
            per_event: self.per_event,
            ack_timeout: Duration::from_secs(self.nats_ack_timeout),
        })
    }

    /// The credentials: a creds file, a user with `$SFHOOKS_NATS_PASSWORD`, or `$SFHOOKS_NATS_TOKEN`.
    fn auth(&self) -> anyhow::Result<NatsAuth> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let token = env(NATS_TOKEN_ENV).map(Redacted::new);
        let password = env(NATS_PASSWORD_ENV).map(Redacted::new);
        match (&self.nats_creds, &self.nats_user, token, password) {
            (Some(_), _, Some(_), _) | (_, Some(_), Some(_), _) => Err(UsageError::new(format!(
                "${NATS_TOKEN_ENV} is set as well as --nats-creds or --nats-user: use one way to authenticate"
            ))
            .into()),
            (Some(path), None, None, _) => Ok(NatsAuth::CredsFile(path.clone())),
            (None, Some(user), None, Some(password)) => Ok(NatsAuth::UserPassword {
                user: user.clone(),
                password,
            }),
            (None, Some(user), None, None) => Err(UsageError::new(format!(
                "--nats-user {user} needs its password in ${NATS_PASSWORD_ENV} (never on the command line)"
            ))
            .into()),
            (None, None, Some(token), _) => Ok(NatsAuth::Token(token)),
            (None, None, None, _) => Ok(NatsAuth::None),
            // clap refuses --nats-creds with --nats-user.
            (Some(_), Some(_), None, _) => Err(UsageError::new(
                "--nats-creds and --nats-user cannot be used together",
            )
            .into()),
        }
    }
}

/// What start-up found of the stream, as lines for the log: `action` is "forwarding to" (listen)
/// or "publishing into" (poll); `report` is what `ensure_stream` answered for `--nats-stream`.
pub fn stream_lines(
    action: &str,
    target: &JetStreamTarget,
    report: Option<&StreamReport>,
) -> Vec<String> {
    let shown = target.url.as_str();
    match (&target.stream, report) {
        (Some(spec), Some(report)) => {
            let mut lines = vec![format!(
                "{action} JetStream at {shown}, stream {} ({}, duplicate window {}, {} message(s))",
                spec.name,
                if report.created { "created" } else { "exists" },
                jetstream::human(report.duplicate_window),
                report.messages
            )];
            if report.duplicate_window < spec.duplicate_window {
                lines.push(format!(
                    "note: stream {}'s duplicate window {} is shorter than --nats-duplicate-window {}: \
                     a delivery retried after it is stored again",
                    spec.name,
                    jetstream::human(report.duplicate_window),
                    jetstream::human(spec.duplicate_window)
                ));
            }
            lines
        }
        _ => {
            vec![format!(
            "{action} JetStream at {shown} (no --nats-stream: a stream must capture sfhooks.{}.>)",
            if target.per_event { "events" } else { "deliveries" }
        )]
        }
    }
}
