//! sfhooks: signed, reliable outbound webhooks for Salesforce.
//!
//! The library has two halves. The generator half (`config` -> `naming` -> `render` -> `mdapi`
//! -> `salesforce`) turns a configuration into Apex, a Metadata API package and a deploy. The
//! receiver half (`webhook`) verifies what the generated Apex signs and has no I/O, so receivers
//! can embed it.

pub mod apex;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod exit;
pub mod forward;
pub mod mdapi;
pub mod naming;
pub mod receiver;
pub mod redacted;
pub mod render;
pub mod salesforce;
pub mod webhook;

/// Runs one parsed command line and returns the process exit code.
pub fn run(cli: cli::Cli) -> anyhow::Result<u8> {
    cmd::dispatch(cli)
}
