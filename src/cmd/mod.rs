//! One module per subcommand, each with a short `run` that returns the exit code.
pub mod deploy;
pub mod generate;
pub mod listen;
pub mod package;
pub mod poll;
pub mod replay;
pub mod secret;
pub mod status;
pub mod verify;

use crate::cli::{Cli, Command};

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Generate(args) => generate::run(&args),
        Command::Package(args) => package::run(&args),
        Command::Deploy(args) => deploy::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Secret(args) => secret::run(&args),
        Command::Listen(args) => listen::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Poll(args) => poll::run(&args),
    }
}
