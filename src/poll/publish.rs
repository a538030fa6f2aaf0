//! Where the poller's deliveries go: POSTed to the callback URL ([`super::deliver`]), or
//! published into NATS JetStream (`sfhooks poll --forward-to nats://...`) with the subjects, ids
//! and headers of `sfhooks listen --forward-to`, so one stream and one set of consumers serve both
//! capture modes.
//!
//! Into JetStream, an acknowledgement (of a new message or of a duplicate) is a delivery; no
//! server, or no acknowledgement in time, is retried by the rules of an HTTP failure, the row
//! staying in the outbox. `Nats-Msg-Id` is the delivery's derived `webhook-id` (with per-event
//! subjects each event's derived `eventId`): the same on every retry, after a restart and in a
//! second poller of the same org, so the stream's duplicate window turns a publish whose
//! acknowledgement was lost, or two pollers reading the same change, into one message.
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::deliver::{attempt, judge, Attempt, RetryRules, Signing};
use super::store::{Outcome, Pending};
use crate::forward::jetstream::{
    JetStreamTarget, NatsConnectError, NatsEvent, Publisher, Stored, StreamError, StreamReport,
};
use crate::webhook::parse_envelope;

/// Where a run's deliveries go.
#[derive(Clone, Copy)]
pub enum Sink<'a> {
    /// POSTed, signed, to each org's callback URL through this client.
    Post(&'a reqwest::blocking::Client),
    /// Published into JetStream.
    JetStream(&'a JetStreamSink),
}

/// An org's callback URL and how its deliveries are signed.
#[derive(Debug, Clone)]
pub struct PostTarget {
    /// Where its deliveries are POSTed.
    pub url: url::Url,
    /// How they are signed.
    pub signing: Signing,
}

impl Sink<'_> {
    /// Sends one delivery of an org whose POST target is `post` (`None` when the run publishes
    /// into JetStream) at `now_ms`, and judges the outcome.
    pub fn send(
        &self,
        post: Option<&PostTarget>,
        pending: &Pending,
        now_ms: i64,
        rules: RetryRules,
    ) -> Attempt {
        match (self, post) {
            (Sink::Post(http), Some(target)) => {
                attempt(http, &target.url, &target.signing, pending, now_ms, rules)
            }
            (Sink::JetStream(js), _) => js.publish(pending, now_ms, rules),
            // The configuration guarantees a callback URL when deliveries are POSTed; kept
            // rather than lost if a library user builds a job without one.
            (Sink::Post(_), None) => judge(
                None,
                None,
                Some("this org has no callback URL".into()),
                pending,
                now_ms,
                rules,
            ),
        }
    }
}

/// Why JetStream could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// No runtime for the NATS client.
    #[error("cannot start the NATS client: {0}")]
    Runtime(#[source] std::io::Error),
    /// The server is unreachable or refused the credentials.
    #[error(transparent)]
    Connect(#[from] NatsConnectError),
    /// The stream could not be created, or exists with settings that do not fit.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// A connected JetStream publisher for the poller's worker threads (which are not async: the
/// client runs on a runtime of its own).
pub struct JetStreamSink {
    runtime: tokio::runtime::Runtime,
    publisher: Publisher,
    per_event: bool,
    duplicates: AtomicU64,
}

impl JetStreamSink {
    /// Connects (failing at once when the server is unreachable), then creates or checks the
    /// target's stream. `on_event` hears every connect and disconnect.
    pub fn connect(
        target: &JetStreamTarget,
        on_event: impl Fn(NatsEvent) + Send + Sync + 'static,
    ) -> Result<(JetStreamSink, Option<StreamReport>), SinkError> {
        // One thread drives the connection; the workers block on their own publishes.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sfhooks-nats")
            .enable_all()
            .build()
            .map_err(SinkError::Runtime)?;
        let publisher = runtime.block_on(Publisher::connect(
            &target.url,
            &target.auth,
            target.ack_timeout,
            on_event,
        ))?;
        let report = match &target.stream {
            Some(spec) => Some(runtime.block_on(publisher.ensure_stream(spec))?),
            None => None,
        };
        let sink = JetStreamSink {
            runtime,
            publisher,
            per_event: target.per_event,
            duplicates: AtomicU64::new(0),
        };
        Ok((sink, report))
    }

    /// Deliveries (or, per event, deliveries all of whose events) JetStream already had.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Publishes one delivery and waits for the acknowledgement.
    fn publish(&self, pending: &Pending, now_ms: i64, rules: RetryRules) -> Attempt {
        let envelope = match parse_envelope(&pending.body) {
            Ok(envelope) => envelope,
            // The poller wrote these bytes itself; a row that is not an envelope cannot become one.
            Err(e) => {
                return Attempt {
                    outcome: Outcome::Dead,
                    http_status: None,
                    error: Some(format!("the stored delivery is not an envelope: {e}")),
                }
            }
        };
        let timestamp = Some(now_ms.div_euclid(1000));
        let id = pending.webhook_id.as_str();
        let stored = if self.per_event {
            self.runtime
                .block_on(self.publisher.publish_events(&envelope, id, timestamp))
                .map(|s| s.new == 0 && s.duplicates > 0)
        } else {
            self.runtime
                .block_on(self.publisher.publish_delivery(
                    &envelope,
                    id,
                    timestamp,
                    Bytes::from(pending.body.clone()),
                ))
                .map(|s| matches!(s, Stored::Duplicate(_)))
        };
        match stored {
            Ok(duplicate) => {
                if duplicate {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                Attempt {
                    outcome: Outcome::Delivered,
                    http_status: None,
                    error: None,
                }
            }
            Err(e) => judge(None, None, Some(e.to_string()), pending, now_ms, rules),
        }
    }
}
