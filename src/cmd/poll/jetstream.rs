//! `sfhooks poll --forward-to nats://...`: connecting to JetStream before the first cycle, saying
//! what was found, and turning the library's errors into exit codes (as `listen` does).
use crate::cli::stream_lines;
use crate::exit::{self, UsageError};
use sfhooks::forward::jetstream::{JetStreamTarget, NatsEvent};
use sfhooks::poll::publish::{JetStreamSink, SinkError};

/// Connects and creates or checks the stream; reports on stderr (stdout may be `--json`).
pub fn connect(target: &JetStreamTarget) -> anyhow::Result<JetStreamSink> {
    let logged = target.url.as_str().to_owned();
    let (sink, report) = JetStreamSink::connect(target, move |event| match event {
        NatsEvent::Connected => eprintln!("NATS at {logged}: connected"),
        NatsEvent::Disconnected => eprintln!(
            "NATS at {logged}: disconnected; deliveries wait in the state and are retried"
        ),
        NatsEvent::Other(what) => eprintln!("NATS at {logged}: {what}"),
    })
    .map_err(|err| -> anyhow::Error {
        match err {
            SinkError::Connect(ref cause) => exit::nats_connect_failed(cause, err.to_string()),
            SinkError::Stream(ref e) if e.is_setting() => UsageError::new(err.to_string()).into(),
            other => anyhow::Error::new(other),
        }
    })?;
    for line in stream_lines("publishing into", target, report.as_ref()) {
        eprintln!("{line}");
    }
    Ok(sink)
}
