//! The exit codes are defined once (`sfhooks::exit_code`): `--help` and the README list exactly
//! those, in that order.
use sfhooks::exit_code::{help_block, TABLE};

use crate::support::{code, repo_root, run, sfhooks, stdout};

#[test]
fn help_lists_the_library_table() {
    let result = run(sfhooks(repo_root()).arg("--help"));
    assert_eq!(code(&result), 0);
    assert!(
        stdout(&result).contains(&help_block()),
        "{}",
        stdout(&result)
    );
}

#[test]
fn the_readme_table_lists_the_same_codes_in_the_same_order() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Exit codes\n")
        .nth(1)
        .expect("an Exit codes section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let listed: Vec<u8> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| ")?.split(' ').next()?.parse().ok())
        .collect();
    let defined: Vec<u8> = TABLE.iter().map(|(code, _)| *code).collect();
    assert_eq!(listed, defined);
}
