//! A real receiver for the polling tests: HTTP/1.1 on 127.0.0.1:0 that verifies every delivery
//! with the library (`sfhooks::webhook::Verifier`, the Standard Webhooks scheme) before it
//! records it, and can be switched to answer with another status (a receiver that is down).
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use sfhooks::webhook::{Envelope, Headers, Verifier};

/// One verified delivery.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// `webhook-id`.
    pub id: String,
    /// The exact body.
    pub body: Vec<u8>,
    /// The parsed envelope.
    pub envelope: Envelope,
    /// How many `v1,` signatures the header carried.
    pub signatures: usize,
}

#[derive(Default)]
struct Seen {
    delivered: Vec<Delivered>,
    /// Every verified attempt, whatever it was answered: (webhook-id, body).
    verified: Vec<(String, Vec<u8>)>,
    refused: Vec<String>,
    attempts: usize,
}

/// The receiver; it stops with the test process.
pub struct PollReceiver {
    addr: SocketAddr,
    answer: Arc<AtomicU16>,
    seen: Arc<Mutex<Seen>>,
}

impl PollReceiver {
    /// Starts a receiver that accepts deliveries signed with any of `secrets`.
    pub fn start(secrets: &[&str]) -> PollReceiver {
        let verifier = Arc::new(
            Verifier::new(
                secrets
                    .iter()
                    .map(|s| s.parse().expect("a whsec_ secret"))
                    .collect(),
            )
            .expect("a verifier"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("an address");
        let answer = Arc::new(AtomicU16::new(200));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (a, s) = (Arc::clone(&answer), Arc::clone(&seen));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (a, s, verifier) = (Arc::clone(&a), Arc::clone(&s), Arc::clone(&verifier));
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().expect("clone");
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut headers: Vec<(String, String)> = Vec::new();
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                            }
                        }
                        let get = |name: &str| {
                            headers
                                .iter()
                                .find(|(k, _)| k == name)
                                .map(|(_, v)| v.clone())
                        };
                        let length: usize = get("content-length")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let status = a.load(Ordering::SeqCst);
                        let (id, ts, sig) = (
                            get("webhook-id"),
                            get("webhook-timestamp"),
                            get("webhook-signature"),
                        );
                        let headers = Headers {
                            id: id.as_deref().map(str::as_bytes),
                            timestamp: ts.as_deref().map(str::as_bytes),
                            signature: sig.as_deref().map(str::as_bytes),
                        };
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .expect("after 1970")
                            .as_secs() as i64;
                        let verified = verifier.verify(&headers, &body, now);
                        {
                            let mut seen = s.lock().expect("lock");
                            seen.attempts += 1;
                            if verified.is_ok() {
                                seen.verified
                                    .push((id.clone().unwrap_or_default(), body.clone()));
                            }
                            match &verified {
                                Err(e) => seen.refused.push(e.to_string()),
                                Ok(_) if status == 200 => {
                                    let envelope = sfhooks::webhook::parse_envelope(&body)
                                        .expect("a verified body is an envelope");
                                    seen.delivered.push(Delivered {
                                        id: id.clone().unwrap_or_default(),
                                        signatures: sig.as_deref().unwrap_or("").split(' ').count(),
                                        body: body.clone(),
                                        envelope,
                                    });
                                }
                                Ok(_) => {}
                            }
                        }
                        let status = if verified.is_err() { 401 } else { status };
                        let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                        if writer.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        PollReceiver { addr, answer, seen }
    }

    /// The callback URL.
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// Answers every later delivery with this status (200: up).
    pub fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    /// The deliveries accepted (verified and answered 200), in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.seen.lock().expect("lock").delivered.clone()
    }

    /// Every event accepted: (eventType, objectType, objectId, occurredAt).
    pub fn events(&self) -> Vec<(String, String, String, String)> {
        self.delivered()
            .iter()
            .flat_map(|d| d.envelope.data.events.clone())
            .map(|e| {
                (
                    e.event_type.as_str().to_string(),
                    e.object_type,
                    e.object_id,
                    e.occurred_at,
                )
            })
            .collect()
    }

    /// Deliveries whose signature failed (a test fails when there is any).
    pub fn refused(&self) -> Vec<String> {
        self.seen.lock().expect("lock").refused.clone()
    }

    /// Every verified attempt (also those answered with an error): (webhook-id, body).
    pub fn verified(&self) -> Vec<(String, Vec<u8>)> {
        self.seen.lock().expect("lock").verified.clone()
    }

    /// How many requests arrived.
    pub fn attempts(&self) -> usize {
        self.seen.lock().expect("lock").attempts
    }
}
