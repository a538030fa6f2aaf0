//! `sfhooks listen`: a local HTTP receiver that verifies every delivery and optionally forwards it
//! (POSTed to an HTTP target, or published into NATS JetStream).
//!
//! One tokio runtime, hyper 1 HTTP/1.1 connections, shared [`State`] behind an `Arc` (the keys, the
//! bounded set of seen `webhook-id`s behind a mutex never held across an await, and the forward
//! target). Status codes are chosen for the sender's retry logic (the generated Apex retries any
//! non-2xx): 2xx only once the delivery is verified and, with `--forward-to`, accepted downstream;
//! 400 malformed, 401 bad signature or stale, 403 another org, 405 not POST, 408 too slow, 409 same
//! id in flight, 413 too large, 502 HTTP forward target down or refusing, 503 JetStream
//! unreachable or not acknowledging (with `Retry-After`).
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::cli::ListenArgs;
use crate::exit::UsageError;
use sfhooks::receiver::{unix_now, Keys};
use sfhooks::scheme::SignatureScheme;
use sfhooks::webhook::{parse_envelope, wire, Claim, Envelope, Headers, OrgId, SeenIds};

mod forwarding;
mod printer;
use forwarding::{forward_delivery, publish, Forward, ForwardTarget, Forwarded, HttpForward};
use printer::Printer;

/// Most `webhook-id`s remembered for replay detection (about 200 bytes each at most).
const SEEN_IDS_CAPACITY: usize = 100_000;
/// Most connections served at once; further clients wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 1024;
/// How long a forward may take. Kept under the 120 s a Salesforce transaction may spend on
/// callouts, so the sender learns the outcome rather than timing out itself.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);
/// `Retry-After` of a 503 while JetStream cannot take deliveries, in seconds. The generated Apex
/// honours it within its own backoff schedule.
const NATS_RETRY_AFTER_SECS: u64 = 30;
/// How long Ctrl-C waits for requests in progress before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Request headers not passed on to the forward target: hop-by-hop headers (RFC 9110 7.6.1) and
/// those the client recomputes for its own connection.
const NOT_FORWARDED: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Runs `sfhooks listen`.
pub fn run(args: &ListenArgs) -> anyhow::Result<u8> {
    let source = args.secret.key_source()?;
    let keys = match args.signature_scheme {
        SignatureScheme::Standard => Keys::standard(&source, args.tolerance),
        SignatureScheme::Elements => Keys::elements(&source),
    }
    .map_err(|e| UsageError::new(e.to_string()))?;
    if args.read_timeout == 0 {
        return Err(UsageError::new("--read-timeout must be at least 1 second").into());
    }
    let target = ForwardTarget::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (printer, printed) = Printer::start();
    let outcome = runtime.block_on(async {
        let forward = match target {
            None => None,
            Some(ForwardTarget::Http(url)) => Some(Forward::Http(HttpForward::new(&url)?)),
            Some(ForwardTarget::Nats(setup)) => {
                Some(Forward::Nats(Box::new(setup.connect().await?)))
            }
        };
        let state = Arc::new(State {
            keys,
            tolerance_secs: args.tolerance,
            seen: Mutex::new(SeenIds::new(SEEN_IDS_CAPACITY)),
            forward,
            max_body: args.max_body,
            read_timeout: Duration::from_secs(args.read_timeout),
            json: args.json,
            org_ids: args.org_id.clone(),
            printer,
        });
        serve(state, &args.bind, args.port).await
    });
    // Every task is gone once the runtime is: then no line can come any more.
    drop(runtime);
    printed.finish();
    outcome
}

/// What every request handler shares.
struct State {
    keys: Keys,
    tolerance_secs: u64,
    seen: Mutex<SeenIds>,
    forward: Option<Forward>,
    max_body: usize,
    read_timeout: Duration,
    json: bool,
    /// `--org-id`: when not empty, deliveries from other orgs are refused with 403.
    org_ids: Vec<OrgId>,
    printer: Printer,
}

impl State {
    fn seen(&self) -> std::sync::MutexGuard<'_, SeenIds> {
        // A panic while holding the lock cannot leave the set inconsistent in a way that matters
        // more than refusing all traffic would, so keep using it.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The answer to one request: status and a one-line text body.
struct Reply {
    status: StatusCode,
    text: String,
    /// `Retry-After`, in seconds.
    retry_after: Option<u64>,
}

impl Reply {
    fn new(status: StatusCode, text: impl Into<String>) -> Reply {
        Reply {
            status,
            text: text.into(),
            retry_after: None,
        }
    }

    /// 503 with `Retry-After`: the sender should come back later, nothing was accepted.
    fn unavailable(text: impl Into<String>) -> Reply {
        Reply {
            status: StatusCode::SERVICE_UNAVAILABLE,
            text: text.into(),
            retry_after: Some(NATS_RETRY_AFTER_SECS),
        }
    }
}

/// Accepts connections until Ctrl-C (or SIGTERM), then lets requests in progress finish.
async fn serve(state: Arc<State>, bind: &str, port: u16) -> anyhow::Result<u8> {
    // Register the signal handlers before announcing the address, so a Ctrl-C sent as soon as the
    // address is printed already shuts down cleanly.
    let mut shutdown = Shutdown::register()?;
    let listener = TcpListener::bind((bind, port))
        .await
        .map_err(|e| UsageError::new(format!("cannot listen on {bind}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .context("reading the address listened on")?;
    log(format_args!("listening on http://{addr}"));

    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.context("connection limit closed")?,
            () = shutdown.wait() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    log(format_args!("accept failed: {err}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(
            state.clone(),
            stream,
            peer,
            stop_rx.clone(),
            permit,
        ));
    }

    log(format_args!(
        "shutting down: finishing {} open connection(s)",
        connections.len()
    ));
    let report_nats = |state: &State| {
        if let Some(Forward::Nats(nats)) = &state.forward {
            log(format_args!(
                "JetStream: {} stored, {} already in the stream (acknowledged as duplicates)",
                nats.stored.load(Ordering::Relaxed),
                nats.duplicates.load(Ordering::Relaxed)
            ));
        }
    };
    // Ignored error: every receiver may already be gone, which is what we want anyway.
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log(format_args!(
            "gave up waiting for {} connection(s) after {} s",
            connections.len(),
            SHUTDOWN_GRACE.as_secs()
        ));
        connections.abort_all();
    }
    report_nats(&state);
    Ok(crate::exit::OK)
}

/// Serves one HTTP/1.1 connection (keep-alive included) until it closes or shutdown begins.
async fn serve_connection(
    state: Arc<State>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    // Small responses: do not let Nagle's algorithm hold them back.
    let _ = stream.set_nodelay(true);
    let read_timeout = state.read_timeout;
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(&state, req, peer).await) }
    });
    let mut builder = http1::Builder::new();
    // The header timeout also closes idle keep-alive connections, which bounds how long a client
    // can hold a connection slot without sending anything.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        if !err.is_incomplete_message() && !err.is_canceled() {
            log(format_args!("connection from {peer} closed: {err}"));
        }
    }
}

/// Handles one request and turns the outcome into a response.
async fn handle(state: &State, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let reply = if req.uri().path() == "/healthz" && req.method() == Method::GET {
        health(state)
    } else {
        process(state, req).await
    };
    if !reply.status.is_success() {
        log(format_args!(
            "{peer}: {} {}",
            reply.status.as_u16(),
            reply.text
        ));
    }
    let allow_post = reply.status == StatusCode::METHOD_NOT_ALLOWED;
    let mut response = Response::new(Full::new(Bytes::from(reply.text + "\n")));
    *response.status_mut() = reply.status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if allow_post {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(secs) = reply.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// `GET /healthz`: 200, or 503 while JetStream is unreachable, so a load balancer sends
/// deliveries to the replicas that can store them.
fn health(state: &State) -> Reply {
    match &state.forward {
        Some(Forward::Nats(nats)) if !nats.publisher.is_connected() => {
            Reply::unavailable("NATS unreachable: deliveries are answered 503")
        }
        _ => Reply::new(StatusCode::OK, "ok"),
    }
}

/// Verifies, deduplicates, forwards and prints one delivery.
async fn process(state: &State, req: Request<Incoming>) -> Reply {
    if req.method() != Method::POST {
        return Reply::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "only POST is accepted: webhook deliveries are POSTs",
        );
    }
    // A declared Content-Length over the limit is refused before reading a byte of the body.
    if req.body().size_hint().lower() > state.max_body as u64 {
        return too_large(state.max_body);
    }
    let (parts, body) = req.into_parts();
    // Limited stops reading as soon as the limit is passed, chunked bodies included, so at most
    // max_body bytes are ever buffered.
    let collected = tokio::time::timeout(
        state.read_timeout,
        Limited::new(body, state.max_body).collect(),
    )
    .await;
    let body = match collected {
        Err(_elapsed) => {
            return Reply::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "body not received within {} s",
                    state.read_timeout.as_secs()
                ),
            )
        }
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return too_large(state.max_body)
        }
        Ok(Err(err)) => {
            return Reply::new(
                StatusCode::BAD_REQUEST,
                format!("could not read the body: {err}"),
            )
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };

    let now = unix_now();
    let header_bytes = |name: &str| parts.headers.get(name).map(HeaderValue::as_bytes);
    let delivery = match &state.keys {
        Keys::Standard(verifier) => {
            match verifier.verify(&Headers::from_fn(header_bytes), &body, now) {
                Ok(delivery) => Some(delivery),
                Err(err) => return rejected(&err),
            }
        }
        Keys::Elements(verifier) => {
            let name = wire::ELEMENTS_HEADER_SIGNATURE.to_ascii_lowercase();
            match verifier.verify(header_bytes(&name), &body) {
                Ok(()) => None,
                Err(err) => return rejected(&err),
            }
        }
    };
    let envelope = match parse_envelope(&body) {
        Ok(envelope) => envelope,
        Err(err) => return Reply::new(StatusCode::BAD_REQUEST, err.to_string()),
    };
    if !state.org_ids.is_empty()
        && !state
            .org_ids
            .iter()
            .any(|org| org.matches(&envelope.data.org_id))
    {
        // Signed with our secret but from another org: a sandbox refreshed from production
        // carries production's secret. 403, which the sender retries, so nothing is lost once
        // the receiver is told to accept the org.
        return Reply::new(
            StatusCode::FORBIDDEN,
            format!(
                "org {:?} is not accepted here (--org-id): a sandbox copy of production's settings? deliveries stay pending in the sending org",
                envelope.data.org_id
            ),
        );
    }

    // Standard scheme only: the elements scheme has no id to deduplicate on.
    let id = delivery.as_ref().map(|d| d.id);
    if let Some(delivery) = &delivery {
        let expires_at = delivery
            .timestamp
            .saturating_add_unsigned(state.tolerance_secs);
        match state.seen().claim(delivery.id, expires_at, now) {
            Claim::New => {}
            Claim::Duplicate => {
                log(format_args!(
                    "duplicate webhook-id {}: acknowledged, not processed again",
                    delivery.id
                ));
                return Reply::new(
                    StatusCode::OK,
                    "duplicate: this webhook-id was already accepted",
                );
            }
            Claim::InFlight => {
                return Reply::new(
                    StatusCode::CONFLICT,
                    "this webhook-id is being processed by another request: retry later",
                )
            }
        }
    }

    let forwarded = match &state.forward {
        None => Ok(Forwarded::Accepted),
        Some(Forward::Http(forward)) => forward_delivery(forward, &parts.headers, body)
            .await
            .map(|()| Forwarded::Accepted)
            .map_err(|reason| Reply::new(StatusCode::BAD_GATEWAY, reason)),
        Some(Forward::Nats(nats)) => {
            let timestamp = delivery.as_ref().map(|d| d.timestamp);
            publish(nats, &envelope, id, timestamp, body).await
        }
    };
    match forwarded {
        Err(reply) => {
            if let Some(id) = id {
                // Forget the id so the sender's retry is processed, not taken for a duplicate.
                state.seen().release(id);
            }
            reply
        }
        Ok(Forwarded::AlreadyStored(stream_id)) => {
            if let Some(id) = id {
                state.seen().complete(id);
            }
            log(format_args!(
                "duplicate {stream_id}: already in the stream, acknowledged, not stored again"
            ));
            Reply::new(
                StatusCode::OK,
                "duplicate: this delivery is already in the stream",
            )
        }
        Ok(Forwarded::Accepted) => {
            if let Some(id) = id {
                state.seen().complete(id);
            }
            state.printer.print(&event_lines(&envelope, id, state.json));
            Reply::new(StatusCode::OK, "ok")
        }
    }
}

fn too_large(max_body: usize) -> Reply {
    Reply::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body larger than --max-body {max_body} bytes"),
    )
}

fn rejected(err: &sfhooks::webhook::VerifyError) -> Reply {
    let status = if err.is_authentication_failure() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    Reply::new(status, err.to_string())
}

/// One line per event (text or JSON), all of a delivery's lines in one string so concurrent
/// requests do not interleave them.
fn event_lines(envelope: &Envelope, webhook_id: Option<&str>, json: bool) -> String {
    let mut out = String::new();
    for event in &envelope.data.events {
        if json {
            let mut value = serde_json::to_value(event).unwrap_or_default();
            if let Some(map) = value.as_object_mut() {
                map.insert("webhookId".into(), webhook_id.into());
                map.insert("orgId".into(), envelope.data.org_id.clone().into());
            }
            let _ = writeln!(out, "{value}");
        } else {
            let _ = write!(
                out,
                "{} at {} (event {}",
                event.summary(),
                event.occurred_at,
                event.event_id
            );
            if event.truncated {
                let _ = write!(out, ", record truncated");
            }
            match webhook_id {
                Some(id) => {
                    let _ = writeln!(out, ", webhook-id {id})");
                }
                None => {
                    let _ = writeln!(out, ")");
                }
            }
        }
    }
    out
}

/// One line on stderr; never panics, unlike `eprintln!` on a closed stderr.
fn log(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Ctrl-C (and SIGTERM on Unix, for service managers), registered up front.
struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn register() -> anyhow::Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Shutdown {
                interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Shutdown {})
        }
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            // Nothing to wait on if the handler cannot be installed: run until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
