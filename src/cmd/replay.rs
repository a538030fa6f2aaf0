//! `sfhooks replay`: puts Dead (or Delivered) outbox rows back to Pending and starts delivery.
//!
//! Flags -> configuration (prefix) -> the selection -> sign in -> read the rows -> the plan
//! (stderr) -> confirmation (many rows: a question on a terminal, `--yes` elsewhere) -> batches
//! of 200 through sObject Collections, progress on stderr -> a dispatcher -> the summary
//! (stdout). A session that expires mid-replay and cannot be renewed prints what was done, then
//! exits 3; running the same command again picks up the rest (replayed rows are Pending, so no
//! longer selected).
use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use serde_json::json;

use crate::cli::ReplayArgs;
use crate::exit::{self, Hinted, UsageError};
use sfhooks::pipeline::gather::{self, Interrupted};
use sfhooks::pipeline::health::Unreadable;
use sfhooks::pipeline::names::Names;
use sfhooks::pipeline::replay::{by_object, decide, Candidate, Decision, Tally, CONFIRM_ABOVE};
use sfhooks::pipeline::soql::Selection;
use sfhooks::pipeline::time::{format_datetime, parse_since};
use sfhooks::salesforce::login;

/// Runs `sfhooks replay`.
pub fn run(args: &ReplayArgs) -> anyhow::Result<u8> {
    let config = sfhooks::config::load(&args.input.overrides())?;
    config.require_vendor(sfhooks::config::VendorType::Webhooks, "sfhooks replay")?;
    let names = Names::new(&config.prefix);
    if let Some(object) = &args.object {
        sfhooks::naming::parse_object_name(object)?;
    }
    // Checked before signing in; an age (`6h`) is then counted on the org's clock.
    let since_of = |now: i64| {
        args.since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()
            .map_err(|e| UsageError::new(format!("--since: {e}")))
    };
    since_of(gather::org_now(&Default::default()))?;
    let client = login::connect(&args.org.credential_inputs(), &config.api_version)
        .map_err(exit::credentials_failed)?;
    let since = match &args.since {
        Some(_) => since_of(gather::org_clock(&client).map_err(exit::rest_failed)?)?,
        None => None,
    };
    let selection = Selection {
        status: if args.delivered { "Delivered" } else { "Dead" },
        object: args.object.clone(),
        since,
        limit: args.limit,
    };
    let (rows, org_now) =
        match gather::select_rows(&client, &names, &selection).map_err(exit::rest_failed)? {
            Ok(found) => found,
            Err(unreadable) => return Err(not_readable(&names, &unreadable)),
        };
    let what = describe(&selection, &names, &rows);
    if rows.is_empty() {
        if args.json {
            crate::stdout::print(&format!(
                "{}\n",
                summary_json(&selection, &Tally::default(), args.dry_run, None)
            ))?;
        } else {
            crate::stdout::print(&format!("nothing to replay: no {what}\n"))?;
        }
        return Ok(exit::OK);
    }
    note(&format!("{} {what}", rows.len()));
    if args.delivered {
        note(
            "Delivered rows are sent again with the same webhook-id: receivers that dedupe on \
             it (as they must) ignore what they already have",
        );
    }
    if args.dry_run {
        let tally = Tally {
            selected: rows.len(),
            ..Tally::default()
        };
        if args.json {
            crate::stdout::print(&format!(
                "{}\n",
                summary_json(&selection, &tally, true, None)
            ))?;
        } else {
            crate::stdout::print(&format!(
                "--dry-run: would replay {} {what}; nothing was changed\n",
                rows.len()
            ))?;
        }
        return Ok(exit::OK);
    }
    confirm(rows.len(), &what, args.yes)?;

    let batches = rows.len().div_ceil(sfhooks::pipeline::replay::BATCH_SIZE);
    let result = gather::reset_rows(&client, &names, &rows, org_now, |tally| {
        note(&format!(
            "batch {}/{batches}: {} replayed, {} refused so far",
            tally.batches,
            tally.replayed,
            tally.failed.len()
        ));
    });
    let tally = match result {
        Ok(tally) => tally,
        Err(interrupted) => {
            let Interrupted { tally, source } = *interrupted;
            print_summary(args, &selection, &rows, &tally, None)?;
            let err = exit::rest_failed(*source);
            let code = exit::code_for(&err);
            return Err(Hinted {
                message: format!(
                    "replay stopped after {} of {} rows: {}",
                    tally.replayed + tally.failed.len(),
                    tally.selected,
                    exit::message(&err)
                ),
                hint: format!(
                    "the rows not reached are unchanged; run the same command again to replay \
                     them{}",
                    exit::hints(&err)
                        .first()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default()
                ),
                code,
            }
            .into());
        }
    };
    if tally
        .failed
        .iter()
        .any(|f| f.message.starts_with("INSUFFICIENT_ACCESS") || f.message.contains("FIELD_"))
    {
        note(&format!(
            "hint: rows refused for access: assign the permission set {} (it may edit Status, \
             Attempts and Next Attempt At)",
            names.admin_permission_set
        ));
    }
    let dispatcher = if tally.replayed > 0 {
        Some(start_dispatcher(&client, &names))
    } else {
        None
    };
    print_summary(args, &selection, &rows, &tally, dispatcher.as_deref())?;
    Ok(if tally.failed.is_empty() {
        exit::OK
    } else {
        exit::FAILURE
    })
}

/// What the selection is, in words: `Dead rows of Sfhooks_Outbox__c (Contact 300, Account 150)`.
fn describe(selection: &Selection, names: &Names, rows: &[Candidate]) -> String {
    let mut what = format!("{} rows of {}", selection.status, names.outbox);
    if let Some(object) = &selection.object {
        what.push_str(&format!(" for {object}"));
    }
    if let Some(since) = selection.since {
        what.push_str(&format!(" captured since {}", format_datetime(since)));
    }
    if !rows.is_empty() {
        let objects: Vec<String> = by_object(rows)
            .into_iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        what.push_str(&format!(" ({})", objects.join(", ")));
    }
    what
}

/// Asks on a terminal above the threshold; refuses without one unless `--yes`.
fn confirm(count: usize, what: &str, yes: bool) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    match decide(count, interactive, yes) {
        Decision::Proceed => Ok(()),
        Decision::Refuse => Err(UsageError::new(format!(
            "replaying {count} rows (more than {CONFIRM_ABOVE}) needs --yes when there is no \
             terminal to ask on; check the selection with --dry-run first"
        ))
        .into()),
        Decision::Ask => {
            eprint!("replay {count} {what}? [y/N] ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut answer)
                .context("cannot read the answer")?;
            if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
                Ok(())
            } else {
                Err(UsageError::new("replay canceled: nothing was changed").into())
            }
        }
    }
}

/// Starts a dispatcher; says what happened (never fails the replay: the sweeper is the
/// fallback).
fn start_dispatcher(client: &sfhooks::salesforce::rest::RestClient, names: &Names) -> String {
    let later = "the sweeper starts one within 15 minutes";
    match gather::start_dispatcher(client, names) {
        Ok(result) if result.success => format!(
            "started a dispatcher ({}.requestRun()): the rows go out now",
            names.dispatcher
        ),
        Ok(result) => format!(
            "could not start a dispatcher ({}): {later}",
            result
                .compile_problem
                .or(result.exception_message)
                .unwrap_or_else(|| "no reason given".into())
        ),
        Err(err) => format!(
            "could not start a dispatcher ({}; running Anonymous Apex needs \"Author Apex\"): \
             {later}",
            exit::message_of(&err)
        ),
    }
}

fn print_summary(
    args: &ReplayArgs,
    selection: &Selection,
    rows: &[Candidate],
    tally: &Tally,
    dispatcher: Option<&str>,
) -> anyhow::Result<()> {
    if args.json {
        return crate::stdout::print(&format!(
            "{}\n",
            summary_json(selection, tally, false, dispatcher)
        ));
    }
    let mut out = format!(
        "replayed {} of {} {} rows in {} request{}",
        tally.replayed,
        rows.len(),
        selection.status,
        tally.batches,
        if tally.batches == 1 { "" } else { "s" }
    );
    if tally.failed.is_empty() {
        out.push('\n');
    } else {
        out.push_str(&format!("; {} refused:\n", tally.failed.len()));
        for failure in &tally.failed {
            out.push_str(&format!("  {}: {}\n", failure.id, failure.message));
        }
    }
    if let Some(dispatcher) = dispatcher {
        out.push_str(dispatcher);
        out.push('\n');
    }
    crate::stdout::print(&out)
}

fn summary_json(
    selection: &Selection,
    tally: &Tally,
    dry_run: bool,
    dispatcher: Option<&str>,
) -> serde_json::Value {
    json!({
        "status": if tally.failed.is_empty() { 0 } else { 1 },
        "dryRun": dry_run,
        "from": selection.status,
        "objectType": selection.object,
        "since": selection.since.map(format_datetime),
        "selected": tally.selected,
        "replayed": tally.replayed,
        "requests": tally.batches,
        "failed": tally.failed.iter().map(|f| json!({"id": f.id, "message": f.message})).collect::<Vec<_>>(),
        "dispatcher": dispatcher,
    })
}

/// The outbox cannot be read: not deployed, or no access.
fn not_readable(names: &Names, unreadable: &Unreadable) -> anyhow::Error {
    let (message, hint) = match unreadable {
        Unreadable::Missing { detail, .. } => (
            format!(
                "sfhooks is not deployed in this org (no object {}), or this user cannot see \
                 it ({detail})",
                names.outbox
            ),
            format!(
                "deploy with `sfhooks deploy`, or assign the permission set {} to this user",
                names.admin_permission_set
            ),
        ),
        Unreadable::NoAccess { detail, .. } => (
            format!("this user may not read {} ({detail})", names.outbox),
            format!(
                "assign the permission set {} to this user",
                names.admin_permission_set
            ),
        ),
    };
    Hinted {
        message,
        hint,
        code: exit::FAILURE,
    }
    .into()
}

fn note(text: &str) {
    eprintln!("{text}");
}
