//! Writing a command's report to stdout, for the commands whose output a script reads: one
//! write and a flush, so a closed pipe surfaces as an error (which `main` turns into a quiet exit)
//! rather than a panic of `print!`.
use std::io::Write as _;

use anyhow::Context as _;

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")
}
