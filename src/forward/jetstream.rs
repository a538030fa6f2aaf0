//! Publishing deliveries into NATS JetStream, acknowledged and deduplicated.
//!
//! What goes where (the contract consumers rely on; docs/receiver.md):
//!
//! - the whole delivery on `sfhooks.deliveries.<orgId>`, payload the exact signed bytes,
//!   `Nats-Msg-Id` = the `webhook-id` (stable across the sender's retries);
//! - per event (`--per-event`), on `sfhooks.events.<orgId>.<objectType>.<eventType>`, payload the
//!   event's JSON, `Nats-Msg-Id` = the `eventId`;
//! - headers `webhook-id`, `webhook-timestamp` (when the scheme has one) and the metadata named by
//!   the `HEADER_*` constants below.
//!
//! `<orgId>` is the 18-character form when the envelope's id is a valid org id (so 15- and
//! 18-character senders share subjects); every token is escaped by [`subject_token`]. Under the
//! Open Connectors scheme, which has no `webhook-id`, the id is [`body_id`], a hash of the body:
//! retries resend identical bytes.
//!
//! JetStream drops a message whose `Nats-Msg-Id` it has seen within the stream's duplicate window
//! and acknowledges it with `duplicate: true` (NATS docs, "JetStream Model Deep Dive", Message
//! Deduplication): that is what makes N publishers of the same delivery store it once. A publish
//! counts only once its acknowledgement arrives; [`Publisher`] never reports success before.
//!
//! The parts: `stream_errors` (every error type), `subject_ids` (subject tokens and message ids)
//! and `durations` (the duplicate window's units). The publisher lives here.
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, stream::StorageType};
use async_nats::{ConnectOptions, HeaderMap};
use bytes::Bytes;

use crate::redacted::Redacted;
use crate::webhook::Envelope;

mod durations;
mod stream_errors;
mod subject_ids;

pub use durations::{human, parse_duration};
pub use stream_errors::{NatsConfigError, NatsConnectError, PublishError, StreamError};
pub use subject_ids::{body_id, subject_token};
use subject_ids::{covers, org_token};

/// Subject prefix of whole deliveries.
pub const DELIVERIES_PREFIX: &str = "sfhooks.deliveries";
/// Subject prefix of single events.
pub const EVENTS_PREFIX: &str = "sfhooks.events";
/// Header: the envelope's org id, as sent.
pub const HEADER_ORG_ID: &str = "sfhooks-org-id";
/// Header (deliveries): how many events the envelope holds.
pub const HEADER_EVENT_COUNT: &str = "sfhooks-event-count";
/// Header (deliveries): the distinct object types of the events, comma-separated, in order.
pub const HEADER_OBJECT_TYPES: &str = "sfhooks-object-types";
/// Header (events): the event's `eventId`.
pub const HEADER_EVENT_ID: &str = "sfhooks-event-id";
/// Header (events): the event's `eventType`.
pub const HEADER_EVENT_TYPE: &str = "sfhooks-event-type";
/// Header (events): the event's `objectType`.
pub const HEADER_OBJECT_TYPE: &str = "sfhooks-object-type";
/// Header (events): the event's `objectId` (absent for GAP events).
pub const HEADER_OBJECT_ID: &str = "sfhooks-object-id";
/// Default duplicate window of a stream sfhooks creates: the generated Apex retries for about a
/// day, with a fresh timestamp each time, so a delivery whose 2xx was lost comes back hours later.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Where JetStream is: `nats://HOST:PORT` or `tls://HOST:PORT`, without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsUrl(String);

impl NatsUrl {
    /// Parses and checks a server URL: scheme `nats` or `tls`, a host, no user name or password
    /// (credentials in a URL end up in process lists and logs).
    pub fn parse(value: &str) -> Result<NatsUrl, NatsConfigError> {
        let url = url::Url::parse(value).map_err(|e| NatsConfigError::Url {
            url: redact(value),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "nats" | "tls") {
            return Err(NatsConfigError::Url {
                url: redact(value),
                reason: "the scheme must be nats:// or tls://".into(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(NatsConfigError::CredentialsInUrl { url: redact(value) });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(NatsConfigError::Url {
                url: value.to_owned(),
                reason: "no host".into(),
            });
        }
        let port = url.port().unwrap_or(4222);
        let host = url.host_str().unwrap_or_default();
        Ok(NatsUrl(format!("{}://{host}:{port}", url.scheme())))
    }

    /// The URL as given to the client and shown in messages (it carries no credential).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `value` with any user info replaced, for messages about a URL that carries some.
fn redact(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            // Both only fail for URLs that cannot carry credentials, and this one carries some.
            let _ = url.set_password(None);
            let _ = url.set_username("***");
            url.to_string()
        }
        Ok(_) => value.to_owned(),
        // Unparsable: show nothing after a '@', which may be a password.
        Err(_) => match value.rfind('@') {
            Some(at) => format!("***@{}", &value[at + 1..]),
            None => value.to_owned(),
        },
    }
}

/// How sfhooks authenticates to NATS. `Debug` never shows a password or token.
#[derive(Debug, Clone, Default)]
pub enum NatsAuth {
    /// No credentials.
    #[default]
    None,
    /// A NATS credentials file (user JWT and NKey seed), as `nsc` writes it.
    CredsFile(PathBuf),
    /// A user name and its password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Redacted<String>,
    },
    /// A token.
    Token(Redacted<String>),
}

/// Everything connecting and publishing needs: what `--forward-to nats://...` and the `--nats-*`
/// flags say, checked.
#[derive(Debug, Clone)]
pub struct JetStreamTarget {
    /// The server.
    pub url: NatsUrl,
    /// The credentials.
    pub auth: NatsAuth,
    /// The stream to create or check, if any.
    pub stream: Option<StreamSpec>,
    /// One message per event rather than one per delivery.
    pub per_event: bool,
    /// How long to wait for an acknowledgement.
    pub ack_timeout: Duration,
}

/// The stream [`Publisher::ensure_stream`] creates or checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// The stream's name.
    pub name: String,
    /// How long JetStream remembers a `Nats-Msg-Id` (the duplicate window).
    pub duplicate_window: Duration,
    /// How long messages are kept; zero keeps them until removed by other limits.
    pub max_age: Duration,
    /// The signature tolerance of the receiver: a window shorter than this is refused.
    pub tolerance: Duration,
    /// Whether per-event subjects must be covered too.
    pub per_event: bool,
}

impl StreamSpec {
    /// The subjects the stream must cover.
    pub fn subjects(&self) -> Vec<String> {
        let mut subjects = vec![format!("{DELIVERIES_PREFIX}.>")];
        if self.per_event {
            subjects.push(format!("{EVENTS_PREFIX}.>"));
        }
        subjects
    }

    /// Checks the window against the tolerance and the max age, before any server is asked.
    pub fn check(&self) -> Result<(), StreamError> {
        check_window(
            &self.name,
            self.duplicate_window,
            self.max_age,
            self.tolerance,
        )
    }
}

fn check_window(
    stream: &str,
    window: Duration,
    max_age: Duration,
    tolerance: Duration,
) -> Result<(), StreamError> {
    if window < tolerance {
        return Err(StreamError::WindowShorterThanTolerance {
            stream: stream.to_owned(),
            window: human(window),
            tolerance: human(tolerance),
        });
    }
    if !max_age.is_zero() && window > max_age {
        return Err(StreamError::WindowLongerThanMaxAge {
            stream: stream.to_owned(),
            window: human(window),
            max_age: human(max_age),
        });
    }
    Ok(())
}

/// What [`Publisher::ensure_stream`] found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReport {
    /// True when the stream was created now.
    pub created: bool,
    /// The stream's duplicate window, as the server has it.
    pub duplicate_window: Duration,
    /// Messages in the stream.
    pub messages: u64,
}

/// What one acknowledged publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored now, at this stream sequence.
    New(u64),
    /// Already in the stream (same `Nats-Msg-Id` within the window): not stored again.
    Duplicate(u64),
}

/// What [`Publisher::publish_events`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventsStored {
    /// Events stored now.
    pub new: usize,
    /// Events JetStream already had.
    pub duplicates: usize,
}

/// What the connection did, for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatsEvent {
    /// (Re)connected.
    Connected,
    /// Lost the connection; reconnecting.
    Disconnected,
    /// Anything else worth a log line.
    Other(String),
}

/// A connection to JetStream that publishes deliveries and events, acknowledged.
///
/// Cheap to share (`Arc` it); every method takes `&self`. Both `sfhooks listen` and
/// `sfhooks poll` publish through it, so one downstream serves both capture modes.
#[derive(Debug)]
pub struct Publisher {
    client: async_nats::Client,
    js: jetstream::Context,
    url: NatsUrl,
    ack_timeout: Duration,
}

impl Publisher {
    /// Connects (failing at once when the server is unreachable or refuses the credentials), then
    /// keeps reconnecting in the background for as long as the publisher lives. `on_event` hears
    /// every connect and disconnect.
    pub async fn connect(
        url: &NatsUrl,
        auth: &NatsAuth,
        ack_timeout: Duration,
        on_event: impl Fn(NatsEvent) + Send + Sync + 'static,
    ) -> Result<Publisher, NatsConnectError> {
        let options = match auth {
            NatsAuth::None => ConnectOptions::new(),
            NatsAuth::CredsFile(path) => ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|e| NatsConfigError::CredsFile {
                    path: path.display().to_string(),
                    // io::Error text from parsing names the problem, never the content.
                    reason: e.to_string(),
                })?,
            NatsAuth::UserPassword { user, password } => {
                ConnectOptions::with_user_and_password(user.clone(), password.expose().clone())
            }
            NatsAuth::Token(token) => ConnectOptions::with_token(token.expose().clone()),
        };
        let on_event = std::sync::Arc::new(on_event);
        let options = options
            .name("sfhooks")
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            // Reconnect quickly: while disconnected every delivery is answered 503.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100 * attempts.min(20) as u64)
            })
            .require_tls(url.as_str().starts_with("tls://"))
            .event_callback(move |event| {
                let on_event = on_event.clone();
                async move {
                    on_event(match event {
                        async_nats::Event::Connected => NatsEvent::Connected,
                        async_nats::Event::Disconnected => NatsEvent::Disconnected,
                        other => NatsEvent::Other(other.to_string()),
                    });
                }
            });
        let client = options.connect(url.as_str()).await.map_err(|e| {
            let reason = e.to_string();
            match e.kind() {
                async_nats::ConnectErrorKind::Authentication
                | async_nats::ConnectErrorKind::AuthorizationViolation => NatsConnectError::Auth {
                    url: url.as_str().to_owned(),
                    reason,
                },
                // rustls reports a refused certificate through an I/O error of the handshake, so
                // the kind alone does not tell.
                kind if kind == async_nats::ConnectErrorKind::Tls
                    || reason.contains("certificate")
                    || reason.contains("TLS") =>
                {
                    NatsConnectError::Tls {
                        url: url.as_str().to_owned(),
                        reason,
                    }
                }
                _ => NatsConnectError::Unreachable {
                    url: url.as_str().to_owned(),
                    reason,
                },
            }
        })?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(ack_timeout);
        Ok(Publisher {
            client,
            js,
            url: url.clone(),
            ack_timeout,
        })
    }

    /// True while connected: what a load balancer's health check asks.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates the stream, or checks an existing one: file storage, the subjects, and a duplicate
    /// window no shorter than the tolerance. An existing stream is never changed.
    pub async fn ensure_stream(&self, spec: &StreamSpec) -> Result<StreamReport, StreamError> {
        spec.check()?;
        let server = |e: &dyn std::fmt::Display| StreamError::Server {
            stream: spec.name.clone(),
            reason: e.to_string(),
        };
        match self.js.get_stream(&spec.name).await {
            Ok(mut stream) => {
                let info = stream.info().await.map_err(|e| server(&e))?;
                let config = &info.config;
                if config.storage == StorageType::Memory {
                    return Err(StreamError::MemoryStorage {
                        stream: spec.name.clone(),
                    });
                }
                let missing: Vec<String> = spec
                    .subjects()
                    .into_iter()
                    .filter(|s| !config.subjects.iter().any(|have| covers(have, s)))
                    .collect();
                if !missing.is_empty() {
                    return Err(StreamError::SubjectsMissing {
                        stream: spec.name.clone(),
                        missing: missing.join(", "),
                    });
                }
                check_window(
                    &spec.name,
                    config.duplicate_window,
                    config.max_age,
                    spec.tolerance,
                )?;
                Ok(StreamReport {
                    created: false,
                    duplicate_window: config.duplicate_window,
                    messages: info.state.messages,
                })
            }
            Err(err)
                if matches!(
                    err.kind(),
                    jetstream::context::GetStreamErrorKind::JetStream(ref js_err)
                        if js_err.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                ) =>
            {
                let config = jetstream::stream::Config {
                    name: spec.name.clone(),
                    subjects: spec.subjects(),
                    storage: StorageType::File,
                    duplicate_window: spec.duplicate_window,
                    max_age: spec.max_age,
                    ..Default::default()
                };
                let stream = self
                    .js
                    .create_stream(config)
                    .await
                    .map_err(|e| server(&e))?;
                let info = stream.cached_info();
                Ok(StreamReport {
                    created: true,
                    duplicate_window: info.config.duplicate_window,
                    messages: info.state.messages,
                })
            }
            Err(err) => Err(server(&err)),
        }
    }

    /// Publishes a whole delivery on `sfhooks.deliveries.<orgId>` (payload: `body`, the exact
    /// signed bytes) and waits for the acknowledgement. `webhook_id` is the `Nats-Msg-Id`;
    /// `timestamp` is the `webhook-timestamp` (none under the Open Connectors scheme).
    pub async fn publish_delivery(
        &self,
        envelope: &Envelope,
        webhook_id: &str,
        timestamp: Option<i64>,
        body: Bytes,
    ) -> Result<Stored, PublishError> {
        let org_id = &envelope.data.org_id;
        let subject = format!("{DELIVERIES_PREFIX}.{}", org_token(org_id));
        let mut headers = common_headers(org_id, webhook_id, timestamp);
        headers.insert(
            HEADER_EVENT_COUNT,
            envelope.data.events.len().to_string().as_str(),
        );
        let mut types: Vec<&str> = Vec::new();
        for event in &envelope.data.events {
            if !types.contains(&event.object_type.as_str()) {
                types.push(&event.object_type);
            }
        }
        headers.insert(HEADER_OBJECT_TYPES, types.join(",").as_str());
        self.publish(subject, webhook_id, headers, body).await
    }

    /// Publishes each event of `envelope` on `sfhooks.events.<orgId>.<objectType>.<eventType>`
    /// (payload: the event's JSON, `Nats-Msg-Id`: its `eventId`), all at once, and waits for every
    /// acknowledgement. On an error some events may be stored: the retry finds them duplicates.
    pub async fn publish_events(
        &self,
        envelope: &Envelope,
        webhook_id: &str,
        timestamp: Option<i64>,
    ) -> Result<EventsStored, PublishError> {
        let org_id = &envelope.data.org_id;
        let org = org_token(org_id);
        let publishes = envelope.data.events.iter().map(|event| {
            let subject = format!(
                "{EVENTS_PREFIX}.{org}.{}.{}",
                subject_token(&event.object_type),
                subject_token(event.event_type.as_str())
            );
            let mut headers = common_headers(org_id, webhook_id, timestamp);
            headers.insert(HEADER_EVENT_ID, event.event_id.as_str());
            headers.insert(HEADER_EVENT_TYPE, event.event_type.as_str());
            headers.insert(HEADER_OBJECT_TYPE, event.object_type.as_str());
            if !event.object_id.is_empty() {
                headers.insert(HEADER_OBJECT_ID, event.object_id.as_str());
            }
            // An Event always serialises: strings, numbers and JSON values only.
            let payload = Bytes::from(serde_json::to_vec(event).unwrap_or_default());
            (subject, event.event_id.as_str(), headers, payload)
        });
        // Send every event first, then wait for the acknowledgements, which arrive concurrently.
        let mut acks = Vec::with_capacity(envelope.data.events.len());
        for (subject, msg_id, headers, payload) in publishes {
            acks.push((self.send(subject, msg_id, headers, payload).await?, msg_id));
        }
        let mut stored = EventsStored::default();
        for (ack, _) in acks {
            match self.await_ack(ack).await? {
                Stored::New(_) => stored.new += 1,
                Stored::Duplicate(_) => stored.duplicates += 1,
            }
        }
        Ok(stored)
    }

    async fn publish(
        &self,
        subject: String,
        msg_id: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<Stored, PublishError> {
        let ack = self.send(subject, msg_id, headers, payload).await?;
        self.await_ack(ack).await
    }

    /// Hands one message to the client; its acknowledgement is awaited by [`Self::await_ack`].
    async fn send(
        &self,
        subject: String,
        msg_id: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<PendingAck, PublishError> {
        if !self.is_connected() {
            // Do not queue it in the client: it would be sent on reconnect, after the sender was
            // told 503. (Sent anyway, it would be a duplicate of the retry, so nothing breaks.)
            return Err(PublishError::Disconnected {
                url: self.url.as_str().to_owned(),
            });
        }
        let message = jetstream::message::PublishMessage::build()
            .payload(payload)
            .headers(headers)
            .message_id(msg_id);
        // The send waits only when the client's buffer is full: bound that too.
        let sent = tokio::time::timeout(
            self.ack_timeout,
            self.js.send_publish(subject.clone(), message),
        )
        .await
        .map_err(|_| self.timed_out())?
        .map_err(|e| self.publish_error(e.kind(), &e.to_string(), &subject))?;
        Ok(PendingAck {
            future: sent,
            subject,
        })
    }

    async fn await_ack(&self, pending: PendingAck) -> Result<Stored, PublishError> {
        // The context's timeout (the ack timeout) bounds this wait.
        let ack = pending
            .future
            .await
            .map_err(|e| self.publish_error(e.kind(), &e.to_string(), &pending.subject))?;
        Ok(if ack.duplicate {
            Stored::Duplicate(ack.sequence)
        } else {
            Stored::New(ack.sequence)
        })
    }

    fn timed_out(&self) -> PublishError {
        PublishError::TimedOut {
            after: human(self.ack_timeout),
        }
    }

    fn publish_error(&self, kind: PublishErrorKind, text: &str, subject: &str) -> PublishError {
        match kind {
            PublishErrorKind::TimedOut => self.timed_out(),
            PublishErrorKind::StreamNotFound => PublishError::NoStream {
                subject: subject.to_owned(),
            },
            // Lost connection while waiting, and the like.
            PublishErrorKind::BrokenPipe => PublishError::Disconnected {
                url: self.url.as_str().to_owned(),
            },
            _ => PublishError::Failed {
                reason: text.to_owned(),
            },
        }
    }
}

/// A message handed to the client, its acknowledgement still to come.
struct PendingAck {
    future: jetstream::context::PublishAckFuture,
    subject: String,
}

fn common_headers(org_id: &str, webhook_id: &str, timestamp: Option<i64>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(crate::webhook::wire::HEADER_ID, webhook_id);
    if let Some(ts) = timestamp {
        headers.insert(
            crate::webhook::wire::HEADER_TIMESTAMP,
            ts.to_string().as_str(),
        );
    }
    headers.insert(HEADER_ORG_ID, org_id);
    headers.insert("Content-Type", "application/json");
    headers
}

#[cfg(test)]
mod tests;
