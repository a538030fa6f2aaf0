//! The first requests of a run for an org: its Id (`SELECT Id FROM Organization`) and the describe
//! of every object, sent together in composite requests (one API call for up to 25 of them)
//! instead of one call each. A `--once` run from cron for five objects so costs two calls (this
//! and the cycle's composite) instead of seven.
use serde_json::Value;

use super::{encode, rest_failure, session_or_budget, Ctx, Failure, Plan};
use crate::poll::fetch::{self, SubAnswer, SubGet, COMPOSITE_SUBREQUESTS};
use crate::poll::soql::select_fields;
use crate::poll::store::Store;
use crate::salesforce::rest::RestClient;

const ORG_QUERY: &str = "SELECT Id FROM Organization";

/// Learns what the runtime does not know yet: the org's Id (bound in the state) and the plan of
/// every object (its describe checked against `fields` and `watched_fields`).
pub(super) fn sign_in(
    ctx: &mut Ctx<'_, '_>,
    store: &mut Store,
    client: &RestClient,
) -> Result<(), Failure> {
    let want_org = ctx.rt.org_id.is_none();
    let want_plans = ctx.rt.plans.is_none();
    let mut gets = Vec::new();
    if want_org {
        gets.push(SubGet {
            url: format!("{}?q={}", client.data_path("query"), encode(ORG_QUERY)),
            is_query: true,
        });
    }
    if want_plans {
        for object in &ctx.job.objects {
            gets.push(SubGet {
                url: client.data_path(&format!("sobjects/{}/describe", object.name.api_name)),
                is_query: false,
            });
        }
    }
    let mut answers = Vec::with_capacity(gets.len());
    // One query at most, so only the subrequest count limits a composite here.
    for chunk in gets.chunks(COMPOSITE_SUBREQUESTS) {
        let (got, meta) = fetch::composite(client, chunk).map_err(rest_failure)?;
        ctx.meta(&meta)?;
        answers.extend(got);
    }
    let mut answers = answers.into_iter();
    if want_org {
        let body = ok_body(answers.next(), "the Organization query")?;
        let org_id = body
            .pointer("/records/0/Id")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::Other("the Organization query returned no Id".into()))?
            .to_string();
        store.bind_org(&ctx.job.name, &org_id)?;
        ctx.rt.org_id = Some(org_id);
    }
    if want_plans {
        let mut plans = Vec::with_capacity(ctx.job.objects.len());
        for object in &ctx.job.objects {
            let name = object.name.api_name.clone();
            let answer = answers.next();
            if let Some(SubAnswer::Failed {
                status, error_code, ..
            }) = &answer
            {
                if *status == 404 || error_code == "NOT_FOUND" {
                    return Err(Failure::Config(format!(
                        "org {:?} has no object {name:?} (describe answered 404): check the API name \
                         (custom objects end in __c) and that the user can see it",
                        ctx.job.name
                    )));
                }
            }
            let body = ok_body(answer, &format!("the describe of {name}"))?;
            let fields = fetch::fields_of(&body).ok_or_else(|| {
                Failure::Other(format!("the describe of {name} answered without fields"))
            })?;
            let select = select_fields(
                &name,
                &fields,
                object.fields.as_deref(),
                object.watched_fields.as_deref(),
            )
            .map_err(|e| Failure::Config(format!("org {:?}: {e}", ctx.job.name)))?;
            plans.push(Plan {
                object: name,
                select,
                fields: object.fields.clone(),
                watched: object.watched_fields.clone(),
            });
        }
        ctx.rt.plans = Some(plans);
    }
    Ok(())
}

/// The body of a subrequest that succeeded, or the failure it stands for.
fn ok_body(answer: Option<SubAnswer>, what: &str) -> Result<Value, Failure> {
    match answer {
        Some(SubAnswer::Ok(body)) => Ok(body),
        Some(SubAnswer::Failed {
            status,
            error_code,
            message,
        }) => {
            let text = format!("{what} failed: HTTP {status} {error_code}: {message}");
            Err(session_or_budget(&error_code, &text).unwrap_or(Failure::Other(text)))
        }
        None => Err(Failure::Other(format!(
            "the composite request gave no answer for {what}"
        ))),
    }
}
