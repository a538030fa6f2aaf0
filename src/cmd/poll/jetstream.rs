//! `sfhooks poll --forward-to nats://...`: connecting to JetStream before the first cycle, saying
//! what was found, and turning the library's errors into exit codes (as `listen` does).
use crate::exit::{AuthFailed, Hinted, UsageError, FAILURE};
use sfhooks::forward::jetstream::{self, JetStreamTarget, NatsConnectError, NatsEvent};
use sfhooks::poll::publish::{JetStreamSink, SinkError};

/// Connects and creates or checks the stream; reports on stderr (stdout may be `--json`).
pub fn connect(target: &JetStreamTarget) -> anyhow::Result<JetStreamSink> {
    let shown = target.url.as_str().to_owned();
    let logged = shown.clone();
    let (sink, report) = JetStreamSink::connect(target, move |event| match event {
        NatsEvent::Connected => eprintln!("NATS at {logged}: connected"),
        NatsEvent::Disconnected => eprintln!(
            "NATS at {logged}: disconnected; deliveries wait in the state and are retried"
        ),
        NatsEvent::Other(what) => eprintln!("NATS at {logged}: {what}"),
    })
    .map_err(|err| -> anyhow::Error {
        match err {
            SinkError::Connect(NatsConnectError::Auth { .. }) => AuthFailed(err.to_string()).into(),
            SinkError::Connect(NatsConnectError::Config(_)) => {
                UsageError::new(err.to_string()).into()
            }
            SinkError::Stream(ref e) if e.is_setting() => UsageError::new(err.to_string()).into(),
            SinkError::Connect(_) => Hinted {
                message: err.to_string(),
                hint: "start the NATS server (with JetStream: nats-server -js) or fix --forward-to"
                    .into(),
                code: FAILURE,
            }
            .into(),
            other => anyhow::Error::new(other),
        }
    })?;
    match (&target.stream, report) {
        (Some(spec), Some(report)) => {
            eprintln!(
                "publishing into JetStream at {shown}, stream {} ({}, duplicate window {}, {} message(s))",
                spec.name,
                if report.created { "created" } else { "exists" },
                jetstream::human(report.duplicate_window),
                report.messages
            );
            if report.duplicate_window < spec.duplicate_window {
                eprintln!(
                    "note: stream {}'s duplicate window {} is shorter than --nats-duplicate-window {}: \
                     a delivery retried after it is stored again",
                    spec.name,
                    jetstream::human(report.duplicate_window),
                    jetstream::human(spec.duplicate_window)
                );
            }
        }
        _ => eprintln!(
            "publishing into JetStream at {shown} (no --nats-stream: a stream must capture sfhooks.{}.>)",
            if target.per_event { "events" } else { "deliveries" }
        ),
    }
    Ok(sink)
}
