//! Unit tests of the client against a scripted HTTP server on 127.0.0.1:0.
use super::*;
use crate::redacted::Redacted;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// One request as the scripted server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    authorization: String,
    body: String,
}

/// A canned answer: status, extra headers, body.
type Canned = (u16, Vec<(&'static str, String)>, String);

/// A tiny HTTP/1.1 server on 127.0.0.1:0 that answers each request with the next canned
/// answer (or, for a token request, a fresh session) and records what it saw.
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(answers: Vec<Canned>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let base = url.clone();
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            let mut sessions = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let target = parts.next().unwrap_or("").to_string();
                    let mut length = 0;
                    let mut authorization = String::new();
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        let (name, value) = h.split_once(':').unwrap();
                        let value = value.trim().to_string();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.parse().unwrap(),
                            "authorization" => authorization = value,
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    log.lock().unwrap().push(Seen {
                        method: method.clone(),
                        target: target.clone(),
                        authorization,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let (status, headers, body) = if target == "/services/oauth2/token" {
                        sessions += 1;
                        (
                            200,
                            vec![],
                            serde_json::json!({
                                "access_token": format!("TOKEN-{sessions}"),
                                "instance_url": base,
                            })
                            .to_string(),
                        )
                    } else {
                        answers.next().expect("more requests than canned answers")
                    };
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\n",
                        body.len()
                    );
                    for (name, value) in headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    stream.write_all(head.as_bytes()).unwrap();
                    stream.write_all(body.as_bytes()).unwrap();
                }
            }
        });
        Server { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn client(&self, renewable: bool) -> RestClient {
        let session = Session {
            instance_url: Url::parse(&self.url).unwrap(),
            access_token: Redacted::new("OLD-TOKEN".to_string()),
        };
        let creds = if renewable {
            Credentials::from_sfdx_auth_url(&format!("force://id::refresh@{}", self.url)).unwrap()
        } else {
            Credentials::access_token(&self.url, "OLD-TOKEN".into()).unwrap()
        };
        RestClient::new(
            reqwest::blocking::Client::new(),
            session,
            Some(creds),
            "63.0",
        )
        .with_retry(RetryPolicy {
            tries: 3,
            first_delay: Duration::from_millis(1),
        })
    }
}

fn ok(body: Value) -> Canned {
    (
        200,
        vec![
            ("date", "Mon, 07 Dec 2026 01:24:21 GMT".into()),
            ("sforce-limit-info", "api-usage=18/15000".into()),
        ],
        body.to_string(),
    )
}

fn expired() -> Canned {
    (
        401,
        vec![],
        r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#.into(),
    )
}

#[test]
fn the_client_can_be_shared_across_threads() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<RestClient>();
}

#[test]
fn api_usage_is_read_from_sforce_limit_info() {
    assert_eq!(parse_api_usage("api-usage=18/15000"), Some((18, 15000)));
    assert_eq!(
        parse_api_usage("per-app-api-usage=17/250(appName=x), api-usage=101000/100000"),
        Some((101000, 100000))
    );
    assert_eq!(parse_api_usage("per-app-api-usage=17/250"), None);
    assert_eq!(parse_api_usage("api-usage=x/1"), None);
}

#[test]
fn a_query_follows_next_records_url_and_keeps_the_last_meta() {
    let server = Server::start(vec![
        ok(serde_json::json!({
            "totalSize": 3, "done": false,
            "nextRecordsUrl": "/services/data/v63.0/query/01gD0000002HU6KIAW-2",
            "records": [{"attributes": {"type": "CronTrigger"}, "Id": "08e1"},
                        {"attributes": {"type": "CronTrigger"}, "Id": "08e2"}],
        })),
        (
            200,
            vec![
                ("date", "Mon, 07 Dec 2026 01:25:00 GMT".into()),
                ("sforce-limit-info", "api-usage=19/15000".into()),
            ],
            serde_json::json!({"totalSize": 3, "done": true,
                "records": [{"attributes": {"type": "CronTrigger"}, "Id": "08e3"}]})
            .to_string(),
        ),
    ]);
    let client = server.client(false);
    let result = client
        .query("SELECT Id FROM CronTrigger WHERE CronJobDetail.Name LIKE 'Sfhooks%'")
        .unwrap();
    let ids: Vec<&str> = result
        .records
        .iter()
        .map(|r| r["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["08e1", "08e2", "08e3"]);
    assert_eq!(result.total_size, 3);
    assert_eq!(result.meta.api_usage, Some((19, 15000)));
    assert_eq!(
        result.meta.date,
        Some(httpdate::parse_http_date("Mon, 07 Dec 2026 01:25:00 GMT").unwrap())
    );
    let seen = server.seen();
    assert_eq!(
        seen[0].target,
        "/services/data/v63.0/query?q=SELECT+Id+FROM+CronTrigger+WHERE+CronJobDetail.Name\
         +LIKE+%27Sfhooks%25%27"
    );
    assert_eq!(
        seen[1].target,
        "/services/data/v63.0/query/01gD0000002HU6KIAW-2"
    );
    assert!(seen.iter().all(|s| s.authorization == "Bearer OLD-TOKEN"));
}

#[test]
fn an_expired_session_is_renewed_once_and_the_request_resent() {
    let server = Server::start(vec![
        expired(),
        ok(serde_json::json!({"totalSize": 0, "done": true, "records": []})),
    ]);
    let client = server.client(true);
    let result = client.tooling_query("SELECT Id FROM RemoteProxy").unwrap();
    assert!(result.records.is_empty());
    let seen = server.seen();
    let targets: Vec<&str> = seen.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/services/data/v63.0/tooling/query?q=SELECT+Id+FROM+RemoteProxy",
            "/services/oauth2/token",
            "/services/data/v63.0/tooling/query?q=SELECT+Id+FROM+RemoteProxy",
        ]
    );
    assert_eq!(seen[2].authorization, "Bearer TOKEN-1");
    assert_eq!(client.session().access_token.expose(), "TOKEN-1");
}

#[test]
fn renewal_is_never_a_loop_and_an_access_token_is_not_renewed() {
    let server = Server::start(vec![expired(), expired()]);
    let err = server
        .client(true)
        .get_json("/services/data/v63.0/")
        .unwrap_err();
    assert!(matches!(err, RestError::SessionExpired { .. }), "{err}");
    assert!(err.to_string().contains("just issued"), "{err}");
    assert_eq!(server.seen().len(), 3);

    let server = Server::start(vec![expired()]);
    let err = server
        .client(false)
        .query("SELECT Id FROM Organization")
        .unwrap_err();
    assert!(matches!(err, RestError::SessionExpired { .. }), "{err}");
    assert!(!err.to_string().contains("TOKEN"), "{err}");
    assert!(!format!("{err:?}").contains("OLD-TOKEN"), "{err:?}");
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn salesforce_errors_are_typed() {
    let server = Server::start(vec![
        (
            400,
            vec![],
            r#"[{"message":"unexpected token: FORM","errorCode":"MALFORMED_QUERY"}]"#.into(),
        ),
        (
            403,
            vec![("sforce-limit-info", "api-usage=100001/100000".into())],
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#
                .into(),
        ),
        (502, vec![], "<html>bad gateway</html>".into()),
        (502, vec![], "<html>bad gateway</html>".into()),
        (502, vec![], "<html>bad gateway</html>".into()),
    ]);
    let client = server.client(false);
    let err = client.query("SELECT Id FORM Account").unwrap_err();
    assert_eq!(err.error_code(), Some("MALFORMED_QUERY"));
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("unexpected token"), "{err}");
    assert!(!err.to_string().contains("FORM+Account"), "{err}");
    let err = client.query("SELECT Id FROM Account").unwrap_err();
    let RestError::RequestLimitExceeded { api_usage, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*api_usage, Some((100001, 100000)));
    // A read is resent after a 5xx, up to the policy's tries.
    let err = client.get_json("/services/data/v63.0/limits").unwrap_err();
    assert_eq!(err.error_code(), Some("HTTP_502"), "{err}");
    assert_eq!(server.seen().len(), 5);
}

#[test]
fn collections_are_capped_and_matched_by_position() {
    let server = Server::start(vec![ok(serde_json::json!([
        {"id": "a001", "success": true, "errors": []},
        {"success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED",
            "message": "entity is deleted", "fields": []}]},
    ]))]);
    let client = server.client(false);
    let records = vec![
        serde_json::json!({"attributes": {"type": "X__c"}, "id": "a001", "Status__c": "Pending"}),
        serde_json::json!({"attributes": {"type": "X__c"}, "id": "a002", "Status__c": "Pending"}),
    ];
    let answer = client.patch_collection(&records, false).unwrap();
    assert!(answer.body[0].success);
    assert_eq!(answer.body[1].id, None);
    assert_eq!(answer.body[1].errors[0].status_code, "ENTITY_IS_DELETED");
    let seen = server.seen();
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].target, "/services/data/v63.0/composite/sobjects");
    let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(sent["allOrNone"], false);
    assert_eq!(sent["records"].as_array().unwrap().len(), 2);
    let too_many = vec![records[0].clone(); COLLECTION_LIMIT + 1];
    assert!(matches!(
        client.patch_collection(&too_many, false),
        Err(RestError::TooManyRecords { count: 201 })
    ));
}

#[test]
fn anonymous_apex_is_sent_encoded_and_its_outcome_read() {
    let server = Server::start(vec![
        ok(
            serde_json::json!({"line": -1, "column": -1, "compiled": true, "success": true,
            "compileProblem": null, "exceptionStackTrace": null, "exceptionMessage": null}),
        ),
        ok(
            serde_json::json!({"line": 1, "column": 8, "compiled": false, "success": false,
            "compileProblem": "Variable does not exist: SfhooksJobs",
            "exceptionStackTrace": null, "exceptionMessage": null}),
        ),
    ]);
    let client = server.client(false);
    let done = client.execute_anonymous("SfhooksJobs.pause();").unwrap();
    assert!(done.compiled && done.success);
    let failed = client
        .execute_anonymous("SfhooksJobs.restore(); // a+b")
        .unwrap();
    assert!(!failed.compiled);
    assert_eq!(failed.line, 1);
    assert_eq!(
        failed.compile_problem.as_deref(),
        Some("Variable does not exist: SfhooksJobs")
    );
    let seen = server.seen();
    assert_eq!(
        seen[0].target,
        "/services/data/v63.0/tooling/executeAnonymous/?anonymousBody=SfhooksJobs.pause%28%29%3B"
    );
    assert!(
        seen[1].target.ends_with("%2F%2F+a%2Bb"),
        "{}",
        seen[1].target
    );
}

#[test]
fn invocable_actions_post_their_inputs() {
    let server = Server::start(vec![ok(serde_json::json!([
        {"actionName": "SfhooksReplay", "errors": null, "isSuccess": true,
         "outputValues": {"count": 3}},
    ]))]);
    let client = server.client(false);
    let answer = client
        .invoke_apex_action("SfhooksReplay", &[serde_json::json!({"status": "Dead"})])
        .unwrap();
    assert!(answer.body[0].is_success);
    assert_eq!(answer.body[0].output_values["count"], 3);
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].target,
        "/services/data/v63.0/actions/custom/apex/SfhooksReplay"
    );
    assert!(client.invoke_apex_action("../sobjects", &[]).is_err());
}

#[test]
fn the_org_id_comes_from_the_organization_query() {
    let server = Server::start(vec![ok(serde_json::json!({"totalSize": 1, "done": true,
        "records": [{"attributes": {"type": "Organization"}, "Id": "00D000000000001AAA"}]}))]);
    assert_eq!(server.client(false).org_id().unwrap(), "00D000000000001AAA");
}
