//! The `sfhooks` binary: parse arguments, run the command, turn the outcome into an exit code.
//! Flags (`cli`), the commands (`cmd`) and the error-to-exit-code mapping (`exit`) live here; the
//! library below them never sees clap or anyhow.
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd;
mod exit;
mod secret_flags;
mod stdout;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if exit::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", exit::message(&err));
            for hint in exit::hints(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(exit::code_for(&err))
        }
    }
}
