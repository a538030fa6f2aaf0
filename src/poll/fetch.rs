//! The REST calls of the poller, over the shared [`RestClient`] (which renews sessions and hands
//! back each answer's `Date` and `Sforce-Limit-Info`):
//! - `GET sobjects/{Object}/describe`: the readable fields (field-level security leaves the
//!   others out);
//! - `POST composite`: the first page of every object's changes query and its `deleted` request
//!   in one API call (at most 25 subrequests, at most 5 of them queries: REST API Developer
//!   Guide, "Composite"); further pages through `nextRecordsUrl`, never `OFFSET`;
//! - `GET sobjects/{Object}/deleted/?start=&end=` as a composite subrequest.
use reqwest::Method;
use serde_json::{json, Value};

use super::soql::FieldInfo;
use crate::salesforce::rest::{AnswerMeta, RestClient, RestError};

/// At most this many subrequests in one composite request.
pub const COMPOSITE_SUBREQUESTS: usize = 25;
/// At most this many of them queries.
pub const COMPOSITE_QUERIES: usize = 5;

/// One GET to put into a composite request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubGet {
    /// The path and query, `/services/data/vNN.0/...`.
    pub url: String,
    /// Whether it is a query (they are limited per request).
    pub is_query: bool,
}

/// One subrequest's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum SubAnswer {
    /// 2xx with its body.
    Ok(Value),
    /// An error in Salesforce's shape.
    Failed {
        /// HTTP status.
        status: u16,
        /// `errorCode`.
        error_code: String,
        /// `message`.
        message: String,
    },
}

/// The fields a describe answer lists, with their types; `None` when it lists none.
pub fn fields_of(describe: &Value) -> Option<Vec<FieldInfo>> {
    describe
        .get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| {
                    Some(FieldInfo {
                        name: f.get("name")?.as_str()?.to_string(),
                        kind: f
                            .get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    })
                })
                .collect()
        })
}

/// Sends GETs as one composite request (the caller keeps within the limits); answers in order.
pub fn composite(
    client: &RestClient,
    gets: &[SubGet],
) -> Result<(Vec<SubAnswer>, AnswerMeta), RestError> {
    let path = client.data_path("composite");
    let requests: Vec<Value> = gets
        .iter()
        .enumerate()
        .map(|(i, g)| json!({"method": "GET", "url": g.url, "referenceId": format!("r{i}")}))
        .collect();
    let body = json!({"allOrNone": false, "compositeRequest": requests});
    let answer = client.request_json(Method::POST, &path, Some(&body))?;
    let responses = answer
        .body
        .get("compositeResponse")
        .and_then(Value::as_array)
        .ok_or_else(|| RestError::Decode {
            method: Method::POST,
            path: path.clone(),
            detail: "no compositeResponse".into(),
        })?;
    let mut out = Vec::with_capacity(gets.len());
    for i in 0..gets.len() {
        let reference = format!("r{i}");
        let sub = responses
            .iter()
            .find(|r| r.get("referenceId").and_then(Value::as_str) == Some(&reference))
            .ok_or_else(|| RestError::Decode {
                method: Method::POST,
                path: path.clone(),
                detail: format!("no answer for subrequest {reference}"),
            })?;
        let status = sub
            .get("httpStatusCode")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u16;
        let body = sub.get("body").cloned().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            out.push(SubAnswer::Ok(body));
        } else {
            let first = body.as_array().and_then(|a| a.first()).unwrap_or(&body);
            out.push(SubAnswer::Failed {
                status,
                error_code: first
                    .get("errorCode")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("HTTP_{status}"), str::to_string),
                message: first
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
    }
    Ok((out, answer.meta))
}

/// One page of a query: its records and the next page's URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records, `attributes` included.
    pub records: Vec<Value>,
    /// `nextRecordsUrl` when `done` is false.
    pub next: Option<String>,
}

/// Reads a query answer body.
pub fn page_of(body: Value) -> Result<Page, String> {
    let done = body
        .get("done")
        .and_then(Value::as_bool)
        .ok_or("a query answer without done")?;
    let next = body
        .get("nextRecordsUrl")
        .and_then(Value::as_str)
        .map(str::to_string);
    if !done && next.is_none() {
        return Err("done is false but there is no nextRecordsUrl".into());
    }
    let records = match body {
        Value::Object(mut map) => match map.remove("records") {
            Some(Value::Array(records)) => records,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(Page {
        records,
        next: if done { None } else { next },
    })
}

/// Fetches the page a `nextRecordsUrl` names.
pub fn next_page(client: &RestClient, url: &str) -> Result<(Page, AnswerMeta), RestError> {
    let answer = client.get_json(url)?;
    let page = page_of(answer.body).map_err(|detail| RestError::Decode {
        method: Method::GET,
        path: url.split('?').next().unwrap_or(url).to_string(),
        detail,
    })?;
    Ok((page, answer.meta))
}

/// A `deleted` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// `(id, deletedDate ms)`, as listed.
    pub records: Vec<(String, i64)>,
    /// `latestDateCovered` (ms).
    pub latest_covered: Option<i64>,
    /// `earliestDateAvailable` (ms).
    pub earliest_available: Option<i64>,
}

/// Reads a `deleted` answer body.
pub fn deleted_of(body: &Value) -> Deleted {
    let date = |v: Option<&Value>| v.and_then(Value::as_str).and_then(super::clock::parse_ms);
    Deleted {
        records: body
            .get("deletedRecords")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|r| {
                        Some((
                            r.get("id")?.as_str()?.to_string(),
                            date(r.get("deletedDate"))?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        latest_covered: date(body.get("latestDateCovered")),
        earliest_available: date(body.get("earliestDateAvailable")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_deleted_answers_read_as_documented() {
        let page = page_of(json!({"totalSize": 3, "done": false, "nextRecordsUrl": "/services/data/v63.0/query/01g-2000", "records": [{"Id": "1"}]})).unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(
            page.next.as_deref(),
            Some("/services/data/v63.0/query/01g-2000")
        );
        assert!(page_of(json!({"done": false, "records": []})).is_err());
        assert_eq!(
            page_of(json!({"done": true, "records": []})).unwrap().next,
            None
        );
        let d = deleted_of(
            &json!({"deletedRecords": [{"id": "003A", "deletedDate": "2026-12-07T10:00:30.000+0000"}],
            "earliestDateAvailable": "2026-11-22T10:00:00.000+0000", "latestDateCovered": "2026-12-07T10:01:00.000+0000"}),
        );
        assert_eq!(
            d.records,
            vec![(
                "003A".to_string(),
                super::super::clock::parse_ms("2026-12-07T10:00:30Z").unwrap()
            )]
        );
        assert!(d.latest_covered.is_some() && d.earliest_available.is_some());
    }
}
