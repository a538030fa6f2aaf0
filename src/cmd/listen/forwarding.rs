//! Where `sfhooks listen` forwards a verified delivery: an HTTP target or NATS JetStream.
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use hyper::body::Bytes;
use hyper::header::HeaderMap;

use crate::cli::{is_nats_url, stream_lines, ListenArgs};
use crate::exit::{self, UsageError};
use sfhooks::forward::jetstream::{self, body_id, JetStreamTarget, NatsEvent, Publisher, Stored};
use sfhooks::webhook::Envelope;

use super::{log, Reply, FORWARD_TIMEOUT, NOT_FORWARDED};

/// `--forward-to`, checked before anything is started.
pub(super) enum ForwardTarget {
    Http(String),
    Nats(NatsSetup),
}

impl ForwardTarget {
    pub(super) fn from_args(args: &ListenArgs) -> anyhow::Result<Option<ForwardTarget>> {
        let nats_only = args.nats.first_given();
        let Some(url) = args.forward_to.as_deref() else {
            if let Some(flag) = nats_only {
                return Err(UsageError::new(format!(
                    "{flag} applies to --forward-to nats://... only, and no --forward-to was given"
                ))
                .into());
            }
            return Ok(None);
        };
        if !is_nats_url(url) {
            if let Some(flag) = nats_only {
                return Err(UsageError::new(format!(
                    "{flag} applies to --forward-to nats://... only, not to an HTTP target"
                ))
                .into());
            }
            return Ok(Some(ForwardTarget::Http(url.to_owned())));
        }
        let target = args.nats.target(url, Duration::from_secs(args.tolerance))?;
        Ok(Some(ForwardTarget::Nats(NatsSetup(target))))
    }
}

/// What connecting to JetStream needs.
pub(super) struct NatsSetup(JetStreamTarget);

impl NatsSetup {
    /// Connects and creates or checks the stream; logs what it found.
    pub(super) async fn connect(self) -> anyhow::Result<NatsForward> {
        let target = self.0;
        let shown = target.url.as_str().to_owned();
        let logged = shown.clone();
        let publisher = Publisher::connect(
            &target.url,
            &target.auth,
            target.ack_timeout,
            move |event| match event {
                NatsEvent::Connected => log(format_args!("NATS at {logged}: connected")),
                NatsEvent::Disconnected => log(format_args!(
                    "NATS at {logged}: disconnected; answering 503 until it is back"
                )),
                NatsEvent::Other(what) => log(format_args!("NATS at {logged}: {what}")),
            },
        )
        .await
        .map_err(|err| exit::nats_connect_failed(&err, err.to_string()))?;
        let report = match &target.stream {
            Some(spec) => Some(publisher.ensure_stream(spec).await.map_err(
                |err| -> anyhow::Error {
                    if err.is_setting() {
                        UsageError::new(err.to_string()).into()
                    } else {
                        anyhow::Error::new(err)
                    }
                },
            )?),
            None => None,
        };
        for line in stream_lines("forwarding to", &target, report.as_ref()) {
            log(format_args!("{line}"));
        }
        Ok(NatsForward {
            publisher,
            per_event: target.per_event,
            stored: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
        })
    }
}

/// The downstream target of `--forward-to`.
pub(super) enum Forward {
    Http(HttpForward),
    /// Boxed: the publisher is several times the size of the HTTP client.
    Nats(Box<NatsForward>),
}

/// JetStream, through the shared publisher, and what it did (logged at shutdown).
pub(super) struct NatsForward {
    pub(super) publisher: Publisher,
    pub(super) per_event: bool,
    pub(super) stored: AtomicU64,
    pub(super) duplicates: AtomicU64,
}

/// An HTTP forward target.
pub(super) struct HttpForward {
    pub(super) client: reqwest::Client,
    pub(super) url: reqwest::Url,
    /// The URL as shown in logs and answers: without a password, which may be a credential.
    pub(super) shown: String,
}

impl HttpForward {
    pub(super) fn new(url: &str) -> anyhow::Result<HttpForward> {
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                UsageError::new(format!(
                    "--forward-to {url:?} is not an absolute http://, https://, nats:// or tls:// URL"
                ))
            })?;
        // No proxy: the target is normally an app on this machine, and proxy variables meant for
        // outbound traffic would send signed payloads elsewhere. No redirects: a 3xx is not an
        // acceptance.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FORWARD_TIMEOUT)
            .build()
            .context("building the HTTP client for --forward-to")?;
        let mut shown = parsed.clone();
        if shown.password().is_some() {
            // Ignored error: only URLs that cannot have a password refuse one, and this has one.
            let _ = shown.set_password(Some("***"));
        }
        Ok(HttpForward {
            client,
            url: parsed,
            shown: shown.to_string(),
        })
    }
}

/// What the forward target did with a delivery.
pub(super) enum Forwarded {
    /// Accepted (or no target).
    Accepted,
    /// JetStream already had it (another replica, or an earlier attempt whose 2xx was lost); the
    /// text names the id.
    AlreadyStored(String),
}

/// Publishes a verified delivery (or its events) and waits for JetStream's acknowledgement.
pub(super) async fn publish(
    nats: &NatsForward,
    envelope: &Envelope,
    webhook_id: Option<&str>,
    timestamp: Option<i64>,
    body: Bytes,
) -> Result<Forwarded, Reply> {
    // The Open Connectors scheme has no id: the body's hash stands in (retries resend it as is).
    let id: std::borrow::Cow<'_, str> = match webhook_id {
        Some(id) => id.into(),
        None => body_id(&body).into(),
    };
    let unavailable = |err: jetstream::PublishError| Reply::unavailable(err.to_string());
    if nats.per_event {
        let stored = nats
            .publisher
            .publish_events(envelope, &id, timestamp)
            .await
            .map_err(unavailable)?;
        nats.stored.fetch_add(stored.new as u64, Ordering::Relaxed);
        nats.duplicates
            .fetch_add(stored.duplicates as u64, Ordering::Relaxed);
        if stored.new == 0 && stored.duplicates > 0 {
            return Ok(Forwarded::AlreadyStored(format!(
                "webhook-id {id} ({} event(s))",
                stored.duplicates
            )));
        }
        return Ok(Forwarded::Accepted);
    }
    match nats
        .publisher
        .publish_delivery(envelope, &id, timestamp, body)
        .await
        .map_err(unavailable)?
    {
        Stored::New(_) => {
            nats.stored.fetch_add(1, Ordering::Relaxed);
            Ok(Forwarded::Accepted)
        }
        Stored::Duplicate(sequence) => {
            nats.duplicates.fetch_add(1, Ordering::Relaxed);
            Ok(Forwarded::AlreadyStored(format!(
                "webhook-id {id} (stream sequence {sequence})"
            )))
        }
    }
}

/// POSTs the verified body, with the request's end-to-end headers, to the forward target.
pub(super) async fn forward_delivery(
    forward: &HttpForward,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(), String> {
    let mut passed = headers.clone();
    // Headers the sender named in `Connection` are hop-by-hop too (RFC 9110 7.6.1).
    let named: Vec<String> = headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect();
    for name in named.iter().map(String::as_str).chain(NOT_FORWARDED) {
        passed.remove(name);
    }
    let response = forward
        .client
        .post(forward.url.clone())
        .headers(passed)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "forward target {} unreachable: {}",
                forward.shown,
                with_causes(e)
            )
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "forward target {} answered {status}",
            forward.shown
        ))
    }
}

/// `error sending request: ...: Connection refused`, without the URL reqwest would repeat (with its
/// password, if it has one).
fn with_causes(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        let _ = write!(text, ": {inner}");
        cause = inner.source();
    }
    text
}
