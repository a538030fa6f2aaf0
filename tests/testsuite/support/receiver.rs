//! Helpers for the receiver tests: signed sample deliveries, a running `sfhooks listen`,
//! a raw HTTP/1.1 client (so tests control exactly which bytes go out, and when), and a tiny
//! forward target that records what it received.
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sfhooks::webhook::{sign, Secret};

/// The Standard Webhooks spec vector.
pub const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
pub const SPEC_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
pub const SPEC_TIMESTAMP: &str = "1649367553";
pub const SPEC_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
pub const SPEC_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

/// The Open Connectors documentation vector.
pub const ELEMENTS_KEY: &str = "MySecretEventSignatureKey";
pub const ELEMENTS_BODY: &str = "<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>";
pub const ELEMENTS_SIGNATURE: &str = "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=";

/// A second, unrelated secret (32 bytes of 0x2a).
pub const OTHER_SECRET: &str = "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// An envelope with a CREATED Contact and an UPDATED Account, as the generated Apex sends it.
pub fn envelope_body() -> String {
    r#"{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z","data":{"orgId":"00D5g000004ABCDEAA","events":[{"eventId":"evt-1","eventType":"CREATED","objectType":"Contact","objectId":"0035g00000AbCdEAAV","occurredAt":"2025-01-31T11:59:58.000Z","record":{"LastName":"Doe"}},{"eventId":"evt-2","eventType":"UPDATED","objectType":"Account","objectId":"0015g00000XyZzYAAV","occurredAt":"2025-01-31T11:59:59.000Z","changedFields":["Name"],"record":{"Name":"Acme"}}]}}"#.to_string()
}

/// An envelope with a GAP event (the wire contract shared by the Apex, the poller and receivers)
/// next to an ordinary one, from org `00D000000000001EAA`.
pub fn gap_envelope_body() -> String {
    r#"{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:06.000Z","data":{"orgId":"00D000000000001EAA","events":[{"eventId":"evt-9","eventType":"DELETED","objectType":"Contact","objectId":"0035g00000AbCdEAAV","occurredAt":"2025-01-31T11:59:58.000Z"},{"eventId":"gap-1","eventType":"GAP","objectType":"Contact","occurredAt":"2025-01-31T12:00:05.000Z","gap":{"from":"2025-01-31T11:59:00.000Z","to":"2025-01-31T12:00:05.000Z","count":10200,"reason":"DML_ROWS"}}]}}"#.to_string()
}

/// Current Unix time.
pub fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit i64")
}

/// The three Standard Webhooks headers for `body`, signed with `secret`.
pub fn signed_headers(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let secret = Secret::parse(secret).expect("test secret is valid");
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            sign(&secret, id, timestamp, body),
        ),
    ]
}

/// An HTTP response as the raw client read it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends one request with `Connection: close` and reads the whole response.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = connect(addr);
    let mut request = format!(
        "{method} /hooks HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("write request head");
    stream.write_all(body).expect("write request body");
    read_response(&mut stream)
}

/// `GET path` with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    let mut stream = connect(addr);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    read_response(&mut stream)
}

/// POSTs `body` with `headers`.
pub fn post(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> HttpResponse {
    http_request(addr, "POST", headers, body)
}

/// A TCP connection with a 15 s read timeout, so a test fails instead of hanging.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("set read timeout");
    stream
}

/// Reads a response until the server closes the connection.
pub fn read_response(stream: &mut TcpStream) -> HttpResponse {
    let mut raw = Vec::new();
    // A reset after the response (server closing with unread request bytes) still leaves what was
    // read so far in `raw`; anything else shows up as an unparsable response.
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    HttpResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// A running `sfhooks listen`, killed on drop.
pub struct Listener {
    child: Child,
    pub addr: SocketAddr,
    /// Stderr lines printed before `listening on` (NATS connection, stream checks).
    pub startup: Vec<String>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Listener {
    /// Starts `sfhooks listen --port 0 --secret-env SFHOOKS_TEST_SECRET <extra>` with the secret
    /// in that variable, and waits for its `listening on` line.
    pub fn start(secret: &str, extra: &[&str]) -> Listener {
        Listener::start_with_env(secret, extra, &[])
    }

    /// [`Listener::start`] with more environment variables.
    pub fn start_with_env(secret: &str, extra: &[&str], env: &[(&str, &str)]) -> Listener {
        let dir = std::env::temp_dir();
        let mut cmd = super::listen_any_port(&dir);
        cmd.args(extra)
            .env("SFHOOKS_TEST_SECRET", secret)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn sfhooks listen");
        let stdout = lines(child.stdout.take().expect("piped stdout"));
        let stderr = lines(child.stderr.take().expect("piped stderr"));
        let mut startup = Vec::new();
        let addr = loop {
            let Ok(line) = stderr.recv_timeout(Duration::from_secs(30)) else {
                panic!("sfhooks listen printed no address; before: {startup:?}")
            };
            if let Some(addr) = line.strip_prefix("listening on http://") {
                break addr.parse().expect("a socket address");
            }
            // Only forwarding set-up lines may come first.
            assert!(
                line.starts_with("NATS at ")
                    || line.starts_with("forwarding to ")
                    || line.starts_with("note: "),
                "unexpected line before the address: {line:?}"
            );
            startup.push(line);
        };
        Listener {
            child,
            addr,
            startup,
            stdout,
            stderr,
        }
    }

    /// The next stdout line, waiting up to 10 s.
    pub fn stdout_line(&self) -> String {
        self.stdout
            .recv_timeout(Duration::from_secs(10))
            .expect("a line on stdout")
    }

    /// Stdout lines printed so far.
    pub fn stdout_so_far(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    /// The next stderr line, waiting up to 10 s.
    pub fn stderr_line(&self) -> String {
        self.stderr
            .recv_timeout(Duration::from_secs(10))
            .expect("a line on stderr")
    }

    /// Stderr lines printed so far.
    pub fn stderr_so_far(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits up to 20 s for the exit; returns the exit code
    /// and everything printed that was not read yet (both pipes read to their end, so nothing
    /// printed late can be missed).
    pub fn interrupt(mut self) -> Exited {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed");
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait for listen") {
                return Exited {
                    code: status.code(),
                    stdout: self.stdout.iter().collect(),
                    stderr: self.stderr.iter().collect(),
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("sfhooks listen did not exit within 20 s of SIGINT");
    }
}

/// How a [`Listener`] ended: its exit code and the lines it printed after the last ones read.
#[derive(Debug)]
pub struct Exited {
    pub code: Option<i32>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A request the forward target received.
#[derive(Debug, Clone)]
pub struct Received {
    pub head: String,
    pub body: Vec<u8>,
}

impl Received {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// A forward target on 127.0.0.1:0 answering every request with `status`, one request per
/// connection, recording each.
pub struct ForwardTarget {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl ForwardTarget {
    pub fn start(status: u16) -> ForwardTarget {
        ForwardTarget::start_with(&[status])
    }

    /// Answers the n-th request with `statuses[n]`, and every one after the last with the last.
    pub fn start_with(statuses: &[u16]) -> ForwardTarget {
        let statuses = statuses.to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind forward target");
        let addr = listener.local_addr().expect("forward target address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let status = {
                    let mut log = log.lock().expect("received log");
                    log.push(request);
                    statuses[(log.len() - 1).min(statuses.len() - 1)]
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        ForwardTarget { addr, received }
    }

    pub fn url(&self) -> String {
        format!("http://{}/downstream", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().expect("received log").clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received { head, body })
}

/// An address where nothing listens (bound, then released).
pub fn closed_port_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}
