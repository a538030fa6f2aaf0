//! What `sfhooks replay` does, without the I/O: the rows it selects ([`super::soql::Selection`]),
//! the update that puts them back to Pending, the batches of at most 200 records an sObject
//! Collections request takes, how each batch's per-record results are matched (by position: a
//! failed result may carry no id; REST API Developer Guide, "Update Records Using sObject
//! Collections": "The SaveResult objects are returned in the order in which the update
//! requests were specified"), and when to ask before doing it.
use serde_json::{json, Value};

use super::names::Names;
use super::time::format_datetime;
use crate::salesforce::rest::SaveResult;

/// Records per sObject Collections request (the documented maximum).
pub const BATCH_SIZE: usize = 200;

/// Above this many rows, a replay on a terminal asks first, and elsewhere needs `--yes`.
pub const CONFIRM_ABOVE: usize = 100;

/// One row selected for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The outbox row's Id.
    pub id: String,
    /// `Object_Type__c`.
    pub object: Option<String>,
}

/// The record that puts one row back to Pending, due now, with its attempts reset: what the
/// generated Replay class does (`Replay.reset`). `now` is the org's clock.
pub fn reset_record(names: &Names, id: &str, now: i64) -> Value {
    json!({
        "attributes": {"type": names.outbox},
        "id": id,
        "Status__c": "Pending",
        "Attempts__c": 0,
        "Next_Attempt_At__c": format_datetime(now),
    })
}

/// A row that could not be put back to Pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The row's Id (from the request when the result has none).
    pub id: String,
    /// The errors, `CODE: message` joined by `; `.
    pub message: String,
}

/// What a replay did so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// Rows selected.
    pub selected: usize,
    /// Rows put back to Pending.
    pub replayed: usize,
    /// Rows refused, with why.
    pub failed: Vec<Failure>,
    /// Requests sent.
    pub batches: usize,
}

impl Tally {
    /// Adds one batch's results, matched to its records by position (the REST client has
    /// already refused an answer with a different number of results).
    pub fn record(&mut self, batch: &[Candidate], results: &[SaveResult]) {
        self.batches += 1;
        for (row, result) in batch.iter().zip(results) {
            if result.success {
                self.replayed += 1;
            } else {
                let message = if result.errors.is_empty() {
                    "refused without a reason".to_string()
                } else {
                    result
                        .errors
                        .iter()
                        .map(|e| format!("{}: {}", e.status_code, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                self.failed.push(Failure {
                    id: result.id.clone().unwrap_or_else(|| row.id.clone()),
                    message,
                });
            }
        }
    }
}

/// Whether to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Few rows, or `--yes`.
    Proceed,
    /// Many rows on a terminal: ask.
    Ask,
    /// Many rows, no terminal, no `--yes`: refuse (a script must say `--yes`).
    Refuse,
}

/// Decides whether a replay of `count` rows goes ahead, asks, or is refused.
pub fn decide(count: usize, interactive: bool, yes: bool) -> Decision {
    if yes || count <= CONFIRM_ABOVE {
        Decision::Proceed
    } else if interactive {
        Decision::Ask
    } else {
        Decision::Refuse
    }
}

/// The rows by object, for the plan printed before a replay: `Contact 300, Account 150`.
pub fn by_object(rows: &[Candidate]) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for row in rows {
        *counts
            .entry(row.object.clone().unwrap_or_else(|| "?".into()))
            .or_default() += 1;
    }
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate {
                id: format!("a00{i:015}"),
                object: Some(if i % 3 == 0 { "Account" } else { "Contact" }.into()),
            })
            .collect()
    }

    #[test]
    fn the_reset_is_the_replay_class_reset() {
        let record = reset_record(&Names::new("Sfhooks"), "a00000000000001AAA", 0);
        assert_eq!(
            record,
            json!({
                "attributes": {"type": "Sfhooks_Outbox__c"},
                "id": "a00000000000001AAA",
                "Status__c": "Pending",
                "Attempts__c": 0,
                "Next_Attempt_At__c": "1970-01-01T00:00:00Z",
            })
        );
    }

    #[test]
    fn results_are_matched_by_position_even_without_an_id() {
        let all = rows(450);
        let batches: Vec<&[Candidate]> = all.chunks(BATCH_SIZE).collect();
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [200, 200, 50]
        );
        let mut tally = Tally {
            selected: all.len(),
            ..Tally::default()
        };
        for batch in &batches {
            let results: Vec<SaveResult> = batch
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    if batch.len() == 200 && i == 7 && row.id.ends_with("207") {
                        let body = r#"{"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}]}"#;
                        serde_json::from_str(body).unwrap()
                    } else {
                        SaveResult {
                            id: Some(row.id.clone()),
                            success: true,
                            errors: vec![],
                        }
                    }
                })
                .collect();
            tally.record(batch, &results);
        }
        assert_eq!(tally.batches, 3);
        assert_eq!(tally.replayed, 449);
        assert_eq!(
            tally.failed,
            [Failure {
                id: "a00000000000000207".into(),
                message: "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record"
                    .into()
            }]
        );
    }

    #[test]
    fn many_rows_need_a_yes_or_a_terminal() {
        assert_eq!(decide(CONFIRM_ABOVE, false, false), Decision::Proceed);
        assert_eq!(decide(CONFIRM_ABOVE + 1, true, false), Decision::Ask);
        assert_eq!(decide(CONFIRM_ABOVE + 1, false, false), Decision::Refuse);
        assert_eq!(decide(10_000, false, true), Decision::Proceed);
    }

    #[test]
    fn the_plan_counts_rows_by_object() {
        assert_eq!(
            by_object(&rows(6)),
            [("Contact".to_string(), 4), ("Account".to_string(), 2)]
        );
    }
}
