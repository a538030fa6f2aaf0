//! Queries: the lazily fetched pages of one query ([`QueryPages`]), following
//! `nextRecordsUrl` (never `OFFSET`), and the calls that gather them.
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::{
    encode_query_value, strip_query, AnswerMeta, QueryPage, QueryResource, QueryResult, RestClient,
    RestError,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryAnswer {
    total_size: u64,
    done: bool,
    #[serde(default)]
    records: Vec<Value>,
    next_records_url: Option<String>,
}

/// The pages of one query, fetched as they are read. Ends after the first error.
pub struct QueryPages<'a> {
    client: &'a RestClient,
    next: Option<String>,
}

impl Iterator for QueryPages<'_> {
    type Item = Result<QueryPage, RestError>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.next.take()?;
        let answer = match self.client.get_json(&path) {
            Ok(answer) => answer,
            Err(err) => return Some(Err(err)),
        };
        let page: QueryAnswer = match serde_json::from_value(answer.body) {
            Ok(page) => page,
            Err(e) => {
                return Some(Err(RestError::Decode {
                    method: Method::GET,
                    path: strip_query(&path),
                    detail: format!("not a query answer ({e})"),
                }))
            }
        };
        if !page.done {
            match page.next_records_url {
                Some(url) => self.next = Some(url),
                None => {
                    return Some(Err(RestError::Decode {
                        method: Method::GET,
                        path: strip_query(&path),
                        detail: "done is false but there is no nextRecordsUrl".into(),
                    }))
                }
            }
        }
        Some(Ok(QueryPage {
            records: page.records,
            total_size: page.total_size,
            done: page.done,
            meta: answer.meta,
        }))
    }
}

impl RestClient {
    /// The pages of a query, fetched lazily (for big reads).
    pub fn query_pages(&self, resource: QueryResource, soql: &str) -> QueryPages<'_> {
        let path = format!(
            "{}?q={}",
            self.data_path(resource.path()),
            encode_query_value(soql)
        );
        QueryPages {
            client: self,
            next: Some(path),
        }
    }

    /// Every record of a query on `resource`, following `nextRecordsUrl`.
    pub fn query_with(
        &self,
        resource: QueryResource,
        soql: &str,
    ) -> Result<QueryResult, RestError> {
        let mut result = QueryResult {
            records: Vec::new(),
            total_size: 0,
            meta: AnswerMeta::default(),
        };
        for page in self.query_pages(resource, soql) {
            let mut page = page?;
            result.records.append(&mut page.records);
            result.total_size = page.total_size;
            result.meta = page.meta;
        }
        Ok(result)
    }

    /// `GET /query`: every record.
    pub fn query(&self, soql: &str) -> Result<QueryResult, RestError> {
        self.query_with(QueryResource::Query, soql)
    }

    /// `GET /queryAll`: every record, deleted and archived ones included.
    pub fn query_all(&self, soql: &str) -> Result<QueryResult, RestError> {
        self.query_with(QueryResource::QueryAll, soql)
    }

    /// `GET /tooling/query`: every record.
    pub fn tooling_query(&self, soql: &str) -> Result<QueryResult, RestError> {
        self.query_with(QueryResource::Tooling, soql)
    }
}
