//! The org pin of the settings record at deploy time: the zip's settings record gets the
//! authenticated org's Id, and a zip pinned to another org is refused, so that a sandbox refresh
//! never delivers to production with a valid signature (docs/apex-design.md).
use serde_json::json;

use crate::exit::{self, Hinted, UsageError};
use sfhooks::mdapi::{self, Pinned};
use sfhooks::salesforce::rest::RestClient;

use super::output::Ui;

/// Pins the settings record in the zip to the authenticated org. Returns the zip to deploy (the
/// same bytes when nothing changed) and what happened, for the report.
pub(super) fn pin_settings(
    rest: &RestClient,
    zip: &[u8],
    ui: &Ui,
) -> anyhow::Result<(Option<Vec<u8>>, serde_json::Value)> {
    let org_id = rest
        .org_id()
        .map_err(|e| anyhow::Error::new(e).context("cannot read the org's Id"))?;
    let pinned = mdapi::pin_org_id(zip, &org_id).map_err(|e| match e {
        mdapi::PinError::OtherOrg { .. } => anyhow::Error::new(Hinted {
            message: e.to_string(),
            hint: "build the zip for this org (`sfhooks package` without --org-id, or with this org's Id); \
                   `sfhooks deploy --zip` pins a zip that is not pinned yet"
                .into(),
            code: exit::USAGE,
        }),
        other => UsageError::new(other.to_string()).into(),
    })?;
    let (zip, state) = match pinned {
        Pinned::Now(bytes) => {
            ui.note(&format!(
                "settings: pinned the settings record to this org ({org_id})"
            ));
            (Some(bytes), "pinned")
        }
        Pinned::Already => (None, "already"),
        Pinned::NoRecord => (None, "noRecord"),
        Pinned::NoField => {
            ui.note("settings: the zip's settings type has no Org_Id__c field (built by an older sfhooks): the record is not pinned");
            (None, "noField")
        }
    };
    Ok((zip, json!({"orgId": org_id, "pin": state})))
}
