//! `sfhooks status`: reads the pipeline's state from the org and judges it.
//!
//! Flags -> configuration (prefix, callback URL) -> sign in (`salesforce::login`) -> read
//! (`pipeline::gather`) -> judge (`pipeline::health`) -> print; exit 0 when healthy, 1 when
//! something needs attention. `--watch` repeats the read on a terminal.
use std::io::IsTerminal as _;
use std::time::Duration;

use crate::cli::StatusArgs;
use crate::exit::{self, UsageError};
use sfhooks::pipeline::gather;
use sfhooks::pipeline::health::{evaluate, Expect, Report};
use sfhooks::pipeline::names::Names;
use sfhooks::salesforce::login;
use sfhooks::salesforce::rest::RestClient;

/// Runs `sfhooks status`.
pub fn run(args: &StatusArgs) -> anyhow::Result<u8> {
    if args.watch && !std::io::stdout().is_terminal() {
        return Err(UsageError::new(
            "--watch redraws a terminal and stdout is not one: run `sfhooks status` (or \
             `--json`) once per check from scripts and monitors",
        )
        .into());
    }
    let config = sfhooks::config::load(&args.input.overrides())?;
    config.require_vendor(sfhooks::config::VendorType::Webhooks, "sfhooks status")?;
    let expect = Expect {
        names: Names::new(&config.prefix),
        callback_url: config.require_callback_url()?.clone(),
        max_lag_secs: i64::try_from(args.max_lag.saturating_mul(60)).unwrap_or(i64::MAX),
    };
    let client = login::connect(&args.org.credential_inputs(), &config.api_version)
        .map_err(exit::credentials_failed)?;
    if !args.watch {
        let report = check(&client, &expect)?;
        let text = if args.json {
            format!("{}\n", report.to_json())
        } else {
            report.to_text()
        };
        crate::stdout::print(&text)?;
        return Ok(report.code());
    }
    loop {
        let report = check(&client, &expect)?;
        let usage = report
            .facts
            .api_usage
            .map(|(used, max)| format!(" · API requests today {used}/{max}"))
            .unwrap_or_default();
        let text = format!(
            "\x1b[2J\x1b[Hsfhooks status · every {} s{usage} · Ctrl-C stops\n\n{}",
            args.interval,
            report.to_text()
        );
        crate::stdout::print(&text)?;
        std::thread::sleep(Duration::from_secs(args.interval));
    }
}

fn check(client: &RestClient, expect: &Expect) -> anyhow::Result<Report> {
    let facts = gather::status_facts(client, &expect.names).map_err(exit::rest_failed)?;
    Ok(evaluate(facts, expect.clone()))
}
