//! `sfhooks secret`: prints a new Standard Webhooks signing secret.
//!
//! 32 bytes (above the 24-byte minimum, the size of the HMAC-SHA256 output) from the operating
//! system's generator, printed as `whsec_` + base64. The secret goes to stdout only, so it can be
//! redirected straight into a file or a secret store.
use std::io::Write as _;

use crate::cli::SecretArgs;
use sfhooks::webhook::encode_secret;

/// Bytes of key in a new secret.
const SECRET_BYTES: usize = 32;

/// Runs `sfhooks secret`.
pub fn run(_args: &SecretArgs) -> anyhow::Result<u8> {
    let mut key = [0u8; SECRET_BYTES];
    getrandom::fill(&mut key)
        .map_err(|e| anyhow::anyhow!("the operating system's random generator failed: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", encode_secret(&key))?;
    Ok(crate::exit::OK)
}
