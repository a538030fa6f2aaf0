//! The process exit codes of the `sfhooks` binary, defined once: the binary returns them, its
//! `--help` and the README list them from [`TABLE`], and the tests compare against them.

/// Success.
pub const OK: u8 = 0;
/// A check failed, or Salesforce reported a failure.
pub const FAILURE: u8 = 1;
/// Usage, configuration or bad input.
pub const USAGE: u8 = 2;
/// Authentication with Salesforce failed.
pub const AUTH: u8 = 3;
/// Deploy succeeded partially (as the Salesforce CLI).
pub const PARTIAL: u8 = 68;
/// Deploy still running when the wait ran out (as the Salesforce CLI).
pub const STILL_RUNNING: u8 = 69;

/// Every exit code with what it means, in the order `--help` and the README list them.
pub const TABLE: [(u8, &str); 6] = [
    (OK, "success"),
    (
        FAILURE,
        "a check failed (drift, bad signature), or Salesforce reported a failed/canceled deploy",
    ),
    (USAGE, "usage, configuration or bad input"),
    (AUTH, "authentication with Salesforce failed"),
    (PARTIAL, "deploy partially succeeded"),
    (STILL_RUNNING, "deploy still running when --wait ran out"),
];

/// [`TABLE`] as the `Exit codes:` block of `--help`.
pub fn help_block() -> String {
    let mut text = String::from("Exit codes:");
    for (code, meaning) in TABLE {
        text.push_str(&format!("\n  {code:<3} {meaning}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_block_lists_every_code_once() {
        let block = help_block();
        assert!(block.starts_with("Exit codes:\n  0   success\n"), "{block}");
        assert!(block.ends_with("\n  69  deploy still running when --wait ran out"));
        let mut codes: Vec<u8> = TABLE.iter().map(|(c, _)| *c).collect();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
    }
}
