//! Unit tests of the parent module.
use clap::CommandFactory as _;
use sfhooks::exit_code::TABLE;

use super::*;

/// The commands whose `--help` lists exit codes with their own meanings use only the codes
/// the library defines (the top-level list is `exit_code::help_block` itself).
#[test]
fn command_help_lists_only_defined_exit_codes() {
    let cli = Cli::command();
    for name in ["deploy", "verify", "status", "replay"] {
        let help = cli
            .find_subcommand(name)
            .and_then(|c| c.get_after_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        let block = help.split("Exit codes").nth(1).unwrap_or_default();
        let codes: Vec<u8> = block
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        assert!(codes.len() >= 3, "{name}: {block}");
        for code in codes {
            assert!(
                TABLE.iter().any(|(defined, _)| *defined == code),
                "{name} --help lists exit code {code}, which exit_code::TABLE does not define"
            );
        }
    }
}
