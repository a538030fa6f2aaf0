//! `sfhooks poll` under load, each figure next to its reference from the same run:
//!
//! 1. one org with N changed Contacts (default 100,000) delivered to a local receiver that
//!    verifies every signature: events per second and the poller's peak RSS, next to a bare client
//!    that only pages through the same query answers (the cost of the source itself);
//! 2. one process polling M orgs (default 1,000) with 5 objects each: the time and peak RSS of one
//!    cycle (`--once`: the sign-in composite with the describes, then one composite per org), next
//!    to a bare client sending the same requests with the same concurrency.
//!
//! `cargo bench --bench poll` (release build of the binary; `/usr/bin/time` from Debian's `time`
//! package reads the peak RSS). `POLL_RECORDS` and `POLL_ORGS` change the sizes.
//!
//! The fake org here is a small, fast stand-in for the test suite's (tests/testsuite/support):
//! the same answer shapes (query pages with `nextRecordsUrl`, composite, describe, deleted, the
//! `Date` and `Sforce-Limit-Info` headers), without its SOQL matcher, so the benchmark measures
//! sfhooks and not the fake. The access token names the org.
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

const PAGE: usize = 2000;
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const OBJECTS: [&str; 5] = ["Contact", "Account", "Lead", "Opportunity", "Case"];

/// Header names (lower case) and values.
type Headers = Vec<(String, String)>;
/// A request as read: method, target, headers, body.
type Request = (String, String, Headers, Vec<u8>);
/// What a server answers: status, extra headers, body.
type Handler =
    dyn Fn(&str, &str, &[(String, String)], &[u8]) -> (u16, Headers, Vec<u8>) + Send + Sync;

struct Org {
    /// Contacts, sorted by stamp and Id: (id, stamp text).
    contacts: Vec<(String, String)>,
}

struct Fake {
    orgs: Vec<Org>,
    requests: AtomicU64,
}

fn iso(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil from days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn record(id: &str, stamp: &str) -> Value {
    json!({"attributes": {"type": "Contact", "url": format!("/services/data/v63.0/sobjects/Contact/{id}")},
        "Id": id, "SystemModstamp": stamp, "CreatedDate": stamp, "LastModifiedDate": stamp,
        "LastName": format!("Person {id}"), "Email": format!("{id}@example.com"), "Phone": "+1 555 0100"})
}

fn page(org: &Org, object: &str, from: usize) -> Value {
    if object != "Contact" {
        return json!({"totalSize": 0, "done": true, "records": []});
    }
    let end = (from + PAGE).min(org.contacts.len());
    let records: Vec<Value> = org.contacts[from..end]
        .iter()
        .map(|(id, s)| record(id, s))
        .collect();
    let mut v = json!({"totalSize": org.contacts.len(), "done": end == org.contacts.len(), "records": records});
    if end < org.contacts.len() {
        v["nextRecordsUrl"] = json!(format!("/services/data/v63.0/query/01g{object}-{end}"));
    }
    v
}

fn describe(object: &str) -> Value {
    let fields: Vec<Value> = [
        "Id",
        "IsDeleted",
        "SystemModstamp",
        "CreatedDate",
        "LastModifiedDate",
        "LastName",
        "Email",
        "Phone",
    ]
    .iter()
    .map(|f| json!({"name": f, "type": "string"}))
    .collect();
    json!({"name": object, "fields": fields})
}

fn answer(fake: &Fake, org: usize, method: &str, target: &str, body: &[u8]) -> (u16, Value) {
    let org = &fake.orgs[org];
    let path = target.split('?').next().unwrap_or("");
    let rest = path.strip_prefix("/services/data/v63.0/").unwrap_or("");
    match (method, rest) {
        ("GET", "query") => {
            let q = target.split_once("q=").map(|(_, q)| q).unwrap_or("");
            if q.contains("Organization") {
                (
                    200,
                    json!({"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Organization"}, "Id": "00Dbench000000001AAA"}]}),
                )
            } else {
                (200, page(org, "Contact", 0))
            }
        }
        ("GET", r) if r.starts_with("query/01g") => {
            let (object, from) = r["query/01g".len()..].split_once('-').unwrap_or(("", "0"));
            (200, page(org, object, from.parse().unwrap_or(0)))
        }
        ("GET", r) if r.starts_with("sobjects/") && r.ends_with("/describe") => {
            (200, describe(r.split('/').nth(1).unwrap_or("")))
        }
        ("POST", "composite") => {
            let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let subs = req["compositeRequest"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let answers: Vec<Value> = subs
                .iter()
                .map(|s| {
                    let url = s["url"].as_str().unwrap_or("");
                    let path = url.split('?').next().unwrap_or("");
                    let body = if let Some(object) = path
                        .strip_suffix("/describe")
                        .and_then(|p| p.rsplit('/').next())
                    {
                        describe(object)
                    } else if url.contains("Organization") {
                        json!({"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Organization"}, "Id": "00Dbench000000001AAA"}]})
                    } else if url.contains("/deleted/") {
                        json!({"deletedRecords": [], "earliestDateAvailable": "2026-01-01T00:00:00.000+0000",
                            "latestDateCovered": iso(SystemTime::now() - Duration::from_secs(120))})
                    } else {
                        let q = url::form_urlencoded::parse(url.split_once('?').map_or("", |x| x.1).as_bytes())
                            .find(|(k, _)| k == "q")
                            .map(|(_, v)| v.into_owned())
                            .unwrap_or_default();
                        let object = q.split(" FROM ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("");
                        page(org, object, 0)
                    };
                    json!({"body": body, "httpHeaders": {}, "httpStatusCode": 200, "referenceId": s["referenceId"]})
                })
                .collect();
            (200, json!({"compositeResponse": answers}))
        }
        _ => (
            404,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
        ),
    }
}

/// Reads one HTTP/1.1 request: (method, target, headers, body); `None` at end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, target, headers, body))
}

fn serve(listener: TcpListener, handle: Arc<Handler>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = Arc::clone(&handle);
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut writer = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                while let Some((method, target, headers, body)) = read_request(&mut reader) {
                    let (status, extra, out) = handle(&method, &target, &headers, &body);
                    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n", out.len());
                    for (k, v) in extra {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let mut bytes = head.into_bytes();
                    bytes.extend_from_slice(&out);
                    if writer.write_all(&bytes).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

fn start_fake(fake: Arc<Fake>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    serve(
        listener,
        Arc::new(move |method, target, headers, body| {
            fake.requests.fetch_add(1, Ordering::Relaxed);
            let org = headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .and_then(|(_, v)| v.strip_prefix("Bearer org-"))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            let (status, v) = answer(&fake, org, method, target, body);
            let date = httpdate::fmt_http_date(SystemTime::now());
            (
                status,
                vec![
                    ("Date".into(), date),
                    ("Sforce-Limit-Info".into(), "api-usage=10/100000".into()),
                ],
                v.to_string().into_bytes(),
            )
        }),
    );
    port
}

struct Receiver {
    port: u16,
    deliveries: Arc<AtomicU64>,
    events: Arc<AtomicU64>,
    bad: Arc<AtomicU64>,
}

fn start_receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (deliveries, events, bad) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let verifier =
        sfhooks::webhook::Verifier::new(vec![SECRET.parse().expect("secret")]).expect("verifier");
    let (d, e, b) = (
        Arc::clone(&deliveries),
        Arc::clone(&events),
        Arc::clone(&bad),
    );
    serve(
        listener,
        Arc::new(move |_, _, headers, body| {
            let get = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_bytes())
            };
            let h = sfhooks::webhook::Headers {
                id: get("webhook-id"),
                timestamp: get("webhook-timestamp"),
                signature: get("webhook-signature"),
            };
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("time")
                .as_secs() as i64;
            match verifier.verify(&h, body, now) {
                Ok(_) => {
                    let n = sfhooks::webhook::parse_envelope(body)
                        .map_or(0, |env| env.data.events.len());
                    d.fetch_add(1, Ordering::Relaxed);
                    e.fetch_add(n as u64, Ordering::Relaxed);
                    (204, Vec::new(), Vec::new())
                }
                Err(_) => {
                    b.fetch_add(1, Ordering::Relaxed);
                    (401, Vec::new(), Vec::new())
                }
            }
        }),
    );
    Receiver {
        port,
        deliveries,
        events,
        bad,
    }
}

/// Runs the poller under /usr/bin/time; returns (seconds, peak RSS in MB, exit code).
fn timed(args: &[String], dir: &std::path::Path, env: &[(String, String)]) -> (f64, f64, i32) {
    let rss_file = dir.join("rss.txt");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_sfhooks"))
        .args(args)
        .current_dir(dir);
    cmd.env_remove("SFDX_AUTH_URL")
        .env_remove("SF_ACCESS_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().expect("sfhooks poll runs under /usr/bin/time");
    let secs = start.elapsed().as_secs_f64();
    let line = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.lines().last().map(str::to_string))
        .unwrap_or_default();
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let rss_kb = nums.get(2).copied().unwrap_or(0.0);
    eprintln!(
        "  (cpu: user {:.2} s, system {:.2} s)",
        nums.first().unwrap_or(&0.0),
        nums.get(1).unwrap_or(&0.0)
    );
    if !out.status.success() {
        eprintln!(
            "{}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    (secs, rss_kb / 1024.0, out.status.code().unwrap_or(-1))
}

fn bare_pages(port: u16, n: usize) -> f64 {
    let http = reqwest::blocking::Client::new();
    let start = Instant::now();
    let mut next = Some(format!(
        "/services/data/v63.0/query?q={}",
        "SELECT+Id+FROM+Contact"
    ));
    let mut rows = 0;
    while let Some(path) = next.take() {
        let v: Value = http
            .get(format!("http://127.0.0.1:{port}{path}"))
            .bearer_auth("org-0")
            .send()
            .and_then(|r| r.json())
            .expect("page");
        rows += v["records"].as_array().map_or(0, Vec::len);
        next = v["nextRecordsUrl"].as_str().map(str::to_string);
    }
    assert_eq!(rows, n);
    start.elapsed().as_secs_f64()
}

fn bare_requests(port: u16, orgs: usize, concurrency: usize) -> f64 {
    let start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            let next = Arc::clone(&next);
            s.spawn(move || {
                let http = reqwest::blocking::Client::new();
                loop {
                    let org = next.fetch_add(1, Ordering::Relaxed) as usize + 1;
                    if org > orgs {
                        return;
                    }
                    let base = format!("http://127.0.0.1:{port}/services/data/v63.0");
                    let token = format!("org-{org}");
                    // The sign-in: the org's Id and every describe in one composite, as sfhooks sends it.
                    let mut sign_in = vec![json!({"method": "GET", "url": "/services/data/v63.0/query?q=SELECT+Id+FROM+Organization", "referenceId": "r0"})];
                    sign_in.extend(OBJECTS.iter().enumerate().map(|(i, o)| {
                        json!({"method": "GET", "url": format!("/services/data/v63.0/sobjects/{o}/describe"), "referenceId": format!("r{}", i + 1)})
                    }));
                    let _ = http.post(format!("{base}/composite")).bearer_auth(&token).json(&json!({"allOrNone": false, "compositeRequest": sign_in})).send().and_then(|r| r.bytes());
                    let subs: Vec<Value> = OBJECTS.iter().enumerate().flat_map(|(i, o)| [
                        json!({"method": "GET", "url": format!("/services/data/v63.0/query?q=SELECT+Id+FROM+{o}"), "referenceId": format!("q{i}")}),
                        json!({"method": "GET", "url": format!("/services/data/v63.0/sobjects/{o}/deleted/?start=x&end=y"), "referenceId": format!("d{i}")}),
                    ]).collect();
                    let _ = http.post(format!("{base}/composite")).bearer_auth(&token).json(&json!({"allOrNone": false, "compositeRequest": subs})).send().and_then(|r| r.bytes());
                }
            });
        }
    });
    start.elapsed().as_secs_f64()
}

fn main() {
    let skip_one = std::env::var_os("POLL_SKIP_ONE").is_some();
    let records: usize = std::env::var("POLL_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let orgs: usize = std::env::var("POLL_ORGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let now = SystemTime::now();
    // Stamps spread over the 50 minutes before the settle delay, 1 ms apart in groups.
    let contacts: Vec<(String, String)> = (0..records)
        .map(|i| {
            let t = now - Duration::from_secs(3600)
                + Duration::from_millis((i as u64 * 3000) / records.max(1) as u64 * 1000);
            (format!("003{i:015}"), iso(t))
        })
        .collect();
    let mut sorted = contacts;
    sorted.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    let mut all = vec![Org { contacts: sorted }];
    all.extend((0..orgs).map(|_| Org {
        contacts: Vec::new(),
    }));
    let fake = Arc::new(Fake {
        orgs: all,
        requests: AtomicU64::new(0),
    });
    let port = start_fake(Arc::clone(&fake));
    let receiver = start_receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret.txt"), SECRET).expect("secret");

    // 1. One org, every record changed in the last hour.
    let reference = bare_pages(port, records);
    let args: Vec<String> = [
        "poll",
        "--once",
        "--objects",
        "Contact",
        "--allow-insecure-http",
        "--callback-url",
        &format!("http://127.0.0.1:{}/hooks", receiver.port),
        "--secret-file",
        "secret.txt",
        "--access-token",
        "org-0",
        "--instance-url",
        &format!("http://127.0.0.1:{port}"),
        "--backfill",
        "2h",
        "--state",
        "one.db",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (secs, rss, code) = if skip_one {
        (1.0, 0.0, 0)
    } else {
        timed(&args, dir.path(), &[])
    };
    let events = receiver.events.load(Ordering::Relaxed);
    println!(
        "poll, 1 org, {records} changed records: {secs:.2} s, {:.0} events/s, peak RSS {rss:.1} MB, exit {code}; \
         {} deliveries, {events} events verified, {} bad signatures; state {:.1} MB",
        events as f64 / secs,
        receiver.deliveries.load(Ordering::Relaxed),
        receiver.bad.load(Ordering::Relaxed),
        std::fs::metadata(dir.path().join("one.db")).map_or(0.0, |m| m.len() as f64 / 1e6)
    );
    println!("  reference, a bare client paging through the same {records} rows: {reference:.2} s ({:.0} rows/s)", records as f64 / reference);

    // 2. Many orgs, 5 objects each, one cycle.
    let mut toml =
        String::from("objects = [\"Contact\", \"Account\", \"Lead\", \"Opportunity\", \"Case\"]\n");
    toml.push_str(&format!("callback_url = \"http://127.0.0.1:{}/hooks\"\nallow_insecure_http = true\n[poll]\nstate = \"many.db\"\nconcurrency = 8\n", receiver.port));
    let mut env = Vec::new();
    for i in 0..orgs {
        toml.push_str(&format!("[[poll.orgs]]\nname = \"org{i}\"\ninstance_url = \"http://127.0.0.1:{port}\"\naccess_token_env = \"T{i}\"\nsecret_file = \"secret.txt\"\n"));
        // Orgs 1..=M of the fake: quiet ones (org 0 holds the big Contact table of part 1).
        env.push((format!("T{i}"), format!("org-{}", i + 1)));
    }
    std::fs::write(dir.path().join("many.toml"), toml).expect("toml");
    let many: Vec<String> = ["poll", "--once", "--config", "many.toml"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let before = fake.requests.load(Ordering::Relaxed);
    let (first, rss1, code1) = timed(&many, dir.path(), &env);
    // Let the org clocks move past the settle boundary, so every object has a window to read.
    std::thread::sleep(Duration::from_millis(2100));
    let mid = fake.requests.load(Ordering::Relaxed);
    let (second, rss2, code2) = timed(&many, dir.path(), &env);
    let after = fake.requests.load(Ordering::Relaxed);
    let reference = bare_requests(port, orgs, 8);
    println!(
        "poll, {orgs} orgs x 5 objects, first cycle (cursors created): {first:.2} s, peak RSS {rss1:.1} MB, {} requests, exit {code1}",
        mid - before
    );
    println!(
        "poll, {orgs} orgs x 5 objects, next cycle (a --once run: the sign-in composite and one cycle composite per org): {second:.2} s, peak RSS {rss2:.1} MB, {} requests, exit {code2}",
        after - mid
    );
    println!("  reference, a bare client sending the same 2 requests per org (the sign-in composite and the cycle's) with 8 threads: {reference:.2} s");
}
