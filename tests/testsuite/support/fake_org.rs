//! A fake Salesforce org for the deploy tests: the OAuth token endpoint and the SOAP
//! Metadata API (`deploy`, `checkDeployStatus`, `cancelDeploy`, `deployRecentValidation`) on
//! `127.0.0.1:0`, served by hyper on a tokio runtime in a background thread.
//!
//! Answers are written by hand following `metadata-63.0.wsdl`: element order, booleans as
//! `true`/`false`, arrays as repeated elements, nillable elements as `xsi:nil="true"`, and
//! `details/runTestResult` present even while Pending. Requests are checked as strictly as the
//! schema allows (namespaces, the session header, DeployOptions children in `xsd:sequence` order),
//! so a client that drifts from the WSDL fails a test here before it fails against Salesforce.
//! With `SFHOOKS_SOAP_CAPTURE_DIR` set, every SOAP message is also written out, and
//! `.ci/xml-checks.sh` validates them all against the WSDL itself.
//!
//! Each test scripts what the org does with [`Script`]s: one per deploy or quick deploy, each a
//! list of [`Poll`]s answered to successive `checkDeployStatus` calls. Every request is recorded.
//! Like xh's test server, dropping the org asserts that every scripted step was consumed and
//! that nothing unexpected arrived (unless the test is already panicking).//!
//! The request router is [`State::respond`] in this file: one `match` on the path and the SOAP
//! operation. The answers live beside it by purpose: `fake_org/oauth.rs` (the token endpoint),
//! `fake_org/metadata.rs` (the Metadata API operations and `DeployResult`), `fake_org/soap.rs`
//! (envelopes, faults, request parsing, the capture for `.ci/xml-checks.sh`).
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

mod metadata;
mod oauth;
mod soap;

use metadata::find_foreign;
use oauth::test_public_key;
use soap::{capture, fault, invalid_session, parse};

/// Consumer key of the fake connected app.
pub const CLIENT_ID: &str = "3MVG9fake.connected.app";
/// Its consumer secret.
pub const CLIENT_SECRET: &str = "fake-consumer-secret";
/// The refresh token the fake accepts.
pub const REFRESH_TOKEN: &str = "5Aep861fake.refresh_token";
/// The user the JWT flow may act as.
pub const USERNAME: &str = "deployer@example.com";
/// An access token valid from the start, for the access-token flow.
pub const ACCESS_TOKEN: &str = "00Dfake0000000001!AQ.static.session";

const MD_NS: &str = "http://soap.sforce.com/2006/04/metadata";
const SOAPENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// `DeployOptions` children in the WSDL's `xsd:sequence` order.
const DEPLOY_OPTIONS_ORDER: [&str; 10] = [
    "allowMissingFiles",
    "autoUpdatePackage",
    "checkOnly",
    "ignoreWarnings",
    "performRetrieve",
    "purgeOnDelete",
    "rollbackOnError",
    "runTests",
    "singlePackage",
    "testLevel",
];

/// What one `checkDeployStatus` call gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Poll {
    /// A DeployResult with this status: Pending, InProgress, Succeeded, SucceededPartial, Failed.
    Status(&'static str),
    /// InProgress until `cancelDeploy` arrives; then Canceling once, then Canceled.
    UntilCanceled,
    /// HTTP 503 with an HTML body, as a load balancer sends.
    Unavailable,
    /// The connection is closed without an answer.
    Drop,
    /// Every session expires; this call gets the `INVALID_SESSION_ID` fault.
    ExpireSession,
    /// InProgress to every poll until this much time has passed since the deploy arrived; the
    /// first poll after that gets the next step. For counting how often a long job is polled.
    InProgressFor(Duration),
}

/// A component failure to report when the job ends.
#[derive(Debug, Clone)]
pub struct ComponentFailure {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub problem: String,
}

/// A test failure to report when the job ends.
#[derive(Debug, Clone)]
pub struct TestFailure {
    pub class: String,
    pub method: String,
    pub message: String,
    pub stack_trace: String,
}

/// What the org does with one deploy (or quick deploy).
#[derive(Debug, Clone, Default)]
pub struct Script {
    polls: Vec<Poll>,
    component_failures: Vec<ComponentFailure>,
    test_failures: Vec<TestFailure>,
    coverage_warnings: Vec<String>,
    tests: u32,
    deploy_unavailable: u32,
}

impl Script {
    /// Successive `checkDeployStatus` answers.
    pub fn polls(polls: &[Poll]) -> Self {
        Script {
            polls: polls.to_vec(),
            ..Script::default()
        }
    }

    /// The usual happy path: Pending → InProgress → Succeeded.
    pub fn succeeds() -> Self {
        Script::polls(&[
            Poll::Status("Pending"),
            Poll::Status("InProgress"),
            Poll::Status("Succeeded"),
        ])
    }

    /// How many test methods the job runs.
    pub fn tests(mut self, n: u32) -> Self {
        self.tests = n;
        self
    }

    /// Adds a component failure reported at the end.
    pub fn component_failure(mut self, file: &str, line: u32, column: u32, problem: &str) -> Self {
        self.component_failures.push(ComponentFailure {
            file: file.into(),
            line,
            column,
            problem: problem.into(),
        });
        self
    }

    /// Adds a test failure reported at the end.
    pub fn test_failure(mut self, class: &str, method: &str, message: &str, stack: &str) -> Self {
        self.test_failures.push(TestFailure {
            class: class.into(),
            method: method.into(),
            message: message.into(),
            stack_trace: stack.into(),
        });
        self
    }

    /// The first `n` deploy requests get HTTP 503 (nothing started), the next one starts the job.
    pub fn deploy_unavailable(mut self, n: u32) -> Self {
        self.deploy_unavailable = n;
        self
    }

    /// Adds an org-wide code coverage warning reported at the end.
    pub fn coverage_warning(mut self, message: &str) -> Self {
        self.coverage_warnings.push(message.into());
        self
    }
}

/// One request the org received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The URL path.
    pub path: String,
    /// The SOAP operation (`deploy`, ...) or `token` for the OAuth endpoint.
    pub operation: String,
    /// The raw body.
    pub body: String,
    /// The `sessionId` of a SOAP request.
    pub session_id: Option<String>,
    /// Form fields of a token request.
    pub form: Vec<(String, String)>,
}

impl Received {
    /// A form field of a token request.
    pub fn form_field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The parsed SOAP envelope.
    pub fn envelope(&self) -> Node {
        parse(&self.body).expect("recorded SOAP bodies parsed when they arrived")
    }

    /// The operation element (the Body's child).
    pub fn operation_element(&self) -> Node {
        self.envelope()
            .child("Body")
            .and_then(|b| b.children.first().cloned())
            .expect("recorded SOAP requests have an operation")
    }
}

/// A deploy request as received: the zip and the DeployOptions children in order.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub zip: Vec<u8>,
    pub options: Vec<(String, String)>,
}

impl DeployRequest {
    /// The values of one option, in order (`runTests` repeats).
    pub fn option(&self, name: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The zip's entries with their contents.
    pub fn zip_entries(&self) -> Vec<(String, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&self.zip)).expect("a zip");
        (0..archive.len())
            .map(|i| {
                let mut f = archive.by_index(i).expect("a zip entry");
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).expect("a readable zip entry");
                (f.name().to_string(), bytes)
            })
            .collect()
    }
}

/// An element of a parsed request, with its namespace.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub ns: String,
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// The running fake org.
pub struct FakeOrg {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Job {
    check_only: bool,
    test_level: String,
    run_tests: Vec<String>,
    rollback_on_error: bool,
    components: Vec<(String, String, String)>,
    /// Apex classes an uninstall (destructiveChanges.xml) deletes.
    removed_classes: Vec<String>,
    script: Script,
    cursor: usize,
    cancel: CancelPhase,
    last_status: &'static str,
    done: bool,
    started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelPhase {
    None,
    Requested,
    Canceling,
}

#[derive(Debug)]
struct State {
    base_url: String,
    audience: String,
    sessions: HashSet<String>,
    next_session: u32,
    next_job: u32,
    jobs: HashMap<String, Job>,
    scripts: VecDeque<Script>,
    received: Vec<Received>,
    unexpected: Vec<String>,
    public_key: Vec<u8>,
    rest: super::fake_rest::FakeRest,
}

enum Reply {
    Answer(StatusCode, &'static str, String),
    Drop,
}

impl FakeOrg {
    /// The flags that sign a command in with this org's static access token.
    pub fn access_token_args(&self) -> [String; 4] {
        [
            "--access-token".into(),
            ACCESS_TOKEN.into(),
            "--instance-url".into(),
            self.url(),
        ]
    }

    /// Starts an org that expects JWT assertions for sandboxes (`aud` test.salesforce.com).
    pub fn start() -> Self {
        Self::start_with_audience("https://test.salesforce.com")
    }

    /// Starts an org that expects this JWT `aud`.
    pub fn start_with_audience(audience: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            base_url: format!("http://{addr}"),
            audience: audience.to_string(),
            sessions: HashSet::from([ACCESS_TOKEN.to_string()]),
            next_session: 0,
            next_job: 0,
            jobs: HashMap::new(),
            scripts: VecDeque::new(),
            received: Vec::new(),
            unexpected: Vec::new(),
            public_key: test_public_key(),
            rest: super::fake_rest::FakeRest::default(),
        }));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let server_state = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = server_state.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    handle(state.clone(), req)
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        FakeOrg {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the instance URL and the login URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SFDX auth URL for this org.
    pub fn sfdx_auth_url(&self, refresh_token: &str) -> String {
        format!(
            "force://{CLIENT_ID}:{CLIENT_SECRET}:{refresh_token}@{}",
            self.url()
        )
    }

    /// Queues what the next deploy or quick deploy does.
    pub fn script(&self, script: Script) {
        self.lock().scripts.push_back(script);
    }

    /// Adds a finished check-only validation; `ran_tests` false makes it ineligible for quick
    /// deploy. Returns its id.
    pub fn seed_validation(&self, ran_tests: bool) -> String {
        let mut state = self.lock();
        let id = state.new_job_id();
        state.jobs.insert(
            id.clone(),
            Job {
                check_only: true,
                test_level: if ran_tests {
                    "RunSpecifiedTests"
                } else {
                    "NoTestRun"
                }
                .into(),
                run_tests: Vec::new(),
                rollback_on_error: true,
                components: Vec::new(),
                removed_classes: Vec::new(),
                script: Script::default(),
                cursor: 0,
                cancel: CancelPhase::None,
                last_status: "Succeeded",
                done: true,
                started: Instant::now(),
            },
        );
        id
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The requests for one operation (`deploy`, `checkDeployStatus`, `token`, ...).
    pub fn received_for(&self, operation: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.operation == operation)
            .collect()
    }

    /// The deploy requests, decoded.
    pub fn deploys(&self) -> Vec<DeployRequest> {
        self.received_for("deploy")
            .iter()
            .map(|r| {
                let op = r.operation_element();
                let zip = STANDARD
                    .decode(op.text_of("ZipFile").unwrap_or_default().trim())
                    .expect("ZipFile is base64");
                let options = op
                    .child("DeployOptions")
                    .map(|o| {
                        o.children
                            .iter()
                            .map(|c| (c.name.clone(), c.text.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                DeployRequest { zip, options }
            })
            .collect()
    }

    /// Blocks until `count` requests for `operation` arrived (at most 20 s).
    pub fn wait_for(&self, operation: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.received_for(operation).len() < count {
            assert!(
                Instant::now() < deadline,
                "the fake org did not receive {count} {operation} requests in 20 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Takes the list of unexpected requests seen so far, for a test that sends one on purpose
    /// (the list is otherwise asserted empty when the org is dropped).
    pub fn take_unexpected(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().unexpected)
    }

    /// The REST side of the org (tables, scripted anonymous Apex, recorded requests).
    pub fn with_rest<T>(&self, f: impl FnOnce(&mut super::fake_rest::FakeRest) -> T) -> T {
        f(&mut self.lock().rest)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FakeOrg {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if std::thread::panicking() {
            return;
        }
        let state = self.lock();
        let mut problems = state.unexpected.clone();
        if !state.scripts.is_empty() {
            problems.push(format!(
                "{} scripted deploy(s) never started",
                state.scripts.len()
            ));
        }
        for (id, job) in &state.jobs {
            if job.cursor < job.script.polls.len() {
                problems.push(format!(
                    "job {id}: polls never made: {:?}",
                    &job.script.polls[job.cursor..]
                ));
            }
        }
        drop(state);
        assert!(problems.is_empty(), "fake org: {problems:#?}");
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_string();
    let (method, query) = (req.method().clone(), req.uri().query().map(str::to_string));
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // Only sfhooks' own requests are captured: tests also send deliberately invalid ones.
    let from_sfhooks = req
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|agent| agent.starts_with("sfhooks/"));
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    let request = body.clone();
    if path.starts_with("/services/data/") {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        let State {
            rest,
            sessions,
            unexpected,
            ..
        } = &mut *state;
        let (query, auth) = (query.as_deref(), authorization.as_deref());
        return Ok(rest.respond(&method, &path, query, auth, &body, sessions, unexpected));
    }
    let reply = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.respond(&path, &content_type, body)
    };
    if path.starts_with("/services/Soap/") {
        capture(from_sfhooks.then_some(request.as_str()), &reply);
    }
    match reply {
        Reply::Answer(status, content_type, body) => Ok(Response::builder()
            .status(status)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")),
        // hyper closes the connection without answering when the service fails.
        Reply::Drop => Err(std::io::Error::other("scripted dropped connection")),
    }
}

impl State {
    /// The request router: every request the fake org answers goes through here.
    fn respond(&mut self, path: &str, content_type: &str, body: String) -> Reply {
        if path == "/services/oauth2/token" {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            self.received.push(Received {
                path: path.into(),
                operation: "token".into(),
                body,
                session_id: None,
                form: form.clone(),
            });
            if !content_type.starts_with("application/x-www-form-urlencoded") {
                self.unexpected
                    .push(format!("token request with Content-Type {content_type:?}"));
            }
            return self.token(&form);
        }
        if path != "/services/Soap/m/63.0" {
            self.unexpected
                .push(format!("request to unknown path {path}"));
            return Reply::Answer(
                StatusCode::NOT_FOUND,
                "text/html",
                "<h1>Not Found</h1>".into(),
            );
        }
        if !content_type.starts_with("text/xml") {
            self.unexpected
                .push(format!("SOAP request with Content-Type {content_type:?}"));
        }
        let envelope = match parse(&body) {
            Ok(env) => env,
            Err(e) => {
                self.unexpected
                    .push(format!("unparsable SOAP request: {e}"));
                return fault(
                    "soapenv:Client",
                    &format!("Unable to parse the request: {e}"),
                );
            }
        };
        let operation = envelope
            .child("Body")
            .and_then(|b| b.children.first())
            .cloned()
            .unwrap_or_default();
        let session_id = envelope
            .child("Header")
            .and_then(|h| h.child("SessionHeader"))
            .and_then(|s| s.text_of("sessionId"))
            .map(str::to_string);
        self.received.push(Received {
            path: path.into(),
            operation: operation.name.clone(),
            body: body.clone(),
            session_id: session_id.clone(),
            form: Vec::new(),
        });
        if envelope.ns != SOAPENV_NS || envelope.name != "Envelope" {
            self.unexpected
                .push("the request is not a SOAP 1.1 envelope".into());
            return fault("soapenv:VersionMismatch", "not a SOAP 1.1 envelope");
        }
        if let Some(bad) = find_foreign(&operation) {
            self.unexpected
                .push(format!("element {bad} outside the metadata namespace"));
            return fault(
                "soapenv:Client",
                &format!("Element {bad} invalid at this location"),
            );
        }
        if !session_id
            .as_ref()
            .is_some_and(|s| self.sessions.contains(s))
        {
            return invalid_session();
        }
        match operation.name.as_str() {
            "deploy" => self.deploy(&operation),
            "checkDeployStatus" => self.check_deploy_status(&operation),
            "cancelDeploy" => self.cancel_deploy(&operation),
            "deployRecentValidation" => self.deploy_recent_validation(&operation),
            other => {
                self.unexpected
                    .push(format!("unexpected operation {other}"));
                fault(
                    "soapenv:Client",
                    &format!("No operation available for request {{{MD_NS}}}{other}"),
                )
            }
        }
    }

    fn new_job_id(&mut self) -> String {
        self.next_job += 1;
        // 18 characters like a real AsyncResult id (0Af prefix: DeployRequest).
        format!("0Af{:015}", self.next_job)
    }

    fn new_session(&mut self) -> String {
        self.next_session += 1;
        let token = format!("00Dfake0000000001!AQ.session.{}", self.next_session);
        self.sessions.insert(token.clone());
        token
    }
}
