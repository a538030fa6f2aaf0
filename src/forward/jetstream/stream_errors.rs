//! Why connecting, checking the stream or publishing failed.

/// A bad `--forward-to nats://...` setting (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsConfigError {
    /// Not a usable URL.
    #[error("--forward-to {url:?} is not a NATS URL: {reason} (write nats://HOST:PORT or tls://HOST:PORT)")]
    Url {
        /// The URL, credentials removed.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A URL with a user or password.
    #[error("--forward-to {url:?} carries credentials, which would show in process lists and logs: pass --nats-creds FILE, or --nats-user with $SFHOOKS_NATS_PASSWORD, or $SFHOOKS_NATS_TOKEN")]
    CredentialsInUrl {
        /// The URL, credentials removed.
        url: String,
    },
    /// The credentials file cannot be used.
    #[error("cannot use NATS credentials file {path}: {reason}")]
    CredsFile {
        /// The file.
        path: String,
        /// Why (never its content).
        reason: String,
    },
}

/// Connecting to NATS failed at start-up (exit 1, or 3 for an authentication failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsConnectError {
    /// The server refused the credentials.
    #[error("NATS at {url} refused the credentials: {reason}")]
    Auth {
        /// The server.
        url: String,
        /// The server's or client's reason.
        reason: String,
    },
    /// The server could not be reached.
    #[error("NATS at {url} is unreachable: {reason}")]
    Unreachable {
        /// The server.
        url: String,
        /// Why.
        reason: String,
    },
    /// The TLS handshake failed: most often a certificate this machine does not trust.
    #[error("NATS at {url}: TLS failed: {reason}")]
    Tls {
        /// The server.
        url: String,
        /// The TLS library's reason.
        reason: String,
    },
    /// A bad setting.
    #[error(transparent)]
    Config(#[from] NatsConfigError),
}

/// The stream cannot be used (exit 2 for a refused setting, 1 for a server failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The window would let a replay inside the tolerance be stored twice.
    #[error("stream {stream}: duplicate window {window} is shorter than the signature tolerance {tolerance}: a delivery retried or replayed after {window} would be stored twice; use a window of at least {tolerance} (sfhooks' default is 24h, the sender's retry horizon)")]
    WindowShorterThanTolerance {
        /// The stream.
        stream: String,
        /// The window.
        window: String,
        /// The tolerance.
        tolerance: String,
    },
    /// JetStream refuses a duplicate window longer than the max age.
    #[error("stream {stream}: duplicate window {window} is longer than the stream's max age {max_age}, which JetStream refuses: shorten the window or lengthen --nats-max-age")]
    WindowLongerThanMaxAge {
        /// The stream.
        stream: String,
        /// The window.
        window: String,
        /// The max age.
        max_age: String,
    },
    /// An existing stream does not capture the subjects published to.
    #[error("stream {stream} does not capture {missing}: add the subject to the stream, or name another stream")]
    SubjectsMissing {
        /// The stream.
        stream: String,
        /// The subjects not covered.
        missing: String,
    },
    /// An existing stream keeps messages in memory only.
    #[error("stream {stream} uses memory storage: a server restart would lose deliveries already answered 2xx; use a file-storage stream")]
    MemoryStorage {
        /// The stream.
        stream: String,
    },
    /// JetStream answered with an error or not at all.
    #[error("stream {stream}: {reason}")]
    Server {
        /// The stream.
        stream: String,
        /// The server's answer.
        reason: String,
    },
}

impl StreamError {
    /// True when the stream's or the flags' settings are at fault (exit 2) rather than the server.
    pub fn is_setting(&self) -> bool {
        !matches!(self, StreamError::Server { .. })
    }
}

/// A publish that was not acknowledged: the sender must retry (503).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The client is not connected right now (it keeps reconnecting in the background).
    #[error("NATS at {url} is unreachable (reconnecting)")]
    Disconnected {
        /// The server.
        url: String,
    },
    /// No acknowledgement in time.
    #[error("JetStream did not acknowledge within {after}")]
    TimedOut {
        /// The timeout.
        after: String,
    },
    /// No stream captures the subject.
    #[error("no JetStream stream captures {subject}: create one (--nats-stream NAME does)")]
    NoStream {
        /// The subject.
        subject: String,
    },
    /// Anything else the client or server reported.
    #[error("publishing to JetStream failed: {reason}")]
    Failed {
        /// Why.
        reason: String,
    },
}
