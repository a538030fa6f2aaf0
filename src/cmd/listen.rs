//! `sfhooks listen`.
use crate::cli::ListenArgs;

/// Runs `sfhooks listen`.
pub fn run(_args: &ListenArgs) -> anyhow::Result<u8> {
    anyhow::bail!("sfhooks listen is not implemented yet")
}
