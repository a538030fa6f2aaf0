//! The `sfhooks` binary: parse arguments, run the command, turn the outcome into an exit code.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sfhooks::cli::Cli::parse();
    match sfhooks::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if sfhooks::exit::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", sfhooks::exit::message(&err));
            for hint in sfhooks::exit::hints(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(sfhooks::exit::code_for(&err))
        }
    }
}
