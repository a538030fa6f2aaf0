//! The Apex pipeline as it runs in an org, seen from outside: what `sfhooks status`
//! reads and judges, and what `sfhooks replay` changes.
//!
//! - [`names`]: the generated names the org is asked about (outbox, settings, jobs, Remote Site),
//!   derived from the prefix exactly as `render` derives them.
//! - [`soql`]: every query sent, as pure functions of those names.
//! - [`health`]: the facts read from the org (a typed model, no I/O) and the judgement: a
//!   [`health::Report`] with one reason per thing that needs attention.
//! - [`replay`]: which rows to put back to Pending, the batches of 200 and how their per-record
//!   results are matched, and when to ask before doing it.
//! - [`gather`]: the only part with I/O: runs the queries through the REST client and fills the
//!   model.
//! - [`time`]: the few UTC timestamp conversions the above need (Salesforce datetimes, `--since`).
//!
//! Nothing here prints; errors are typed.

pub mod gather;
pub mod health;
pub mod names;
pub mod replay;
pub mod soql;
pub mod time;

/// The value at a dotted path of a record (`CronJobDetail.Name`), `Null` when absent: Salesforce
/// answers a relationship field as a nested object, or `null` when the lookup is empty.
pub(crate) fn record_field<'a>(record: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    path.split('.')
        .try_fold(record, |value, key| value.get(key))
        .unwrap_or(&serde_json::Value::Null)
}
