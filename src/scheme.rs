//! How deliveries are signed: the one setting both the generated Apex and every receiver agree on.
use std::fmt;
use std::str::FromStr;

/// How deliveries are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureScheme {
    /// Standard Webhooks v1: webhook-id, webhook-timestamp, webhook-signature (v1,<base64>).
    Standard,
    /// Open Connectors / Cloud Elements: Elements-Webhook-Signature: sha256=<base64>; no replay protection.
    Elements,
}

impl SignatureScheme {
    /// Every scheme, in the order `--help` lists them.
    pub const ALL: [SignatureScheme; 2] = [SignatureScheme::Standard, SignatureScheme::Elements];

    /// The name used in flags, sfhooks.toml and the generated metadata: `standard`, `elements`.
    pub fn name(self) -> &'static str {
        match self {
            SignatureScheme::Standard => "standard",
            SignatureScheme::Elements => "elements",
        }
    }

    /// One line on what the scheme sends, for `--help`.
    pub fn description(self) -> &'static str {
        match self {
            SignatureScheme::Standard => {
                "Standard Webhooks v1: webhook-id, webhook-timestamp, webhook-signature (v1,<base64>)"
            }
            SignatureScheme::Elements => {
                "Open Connectors / Cloud Elements: Elements-Webhook-Signature: sha256=<base64>; no replay protection"
            }
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scheme name that is neither `standard` nor `elements`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature scheme {given:?}: use standard or elements")]
pub struct UnknownScheme {
    /// What was given.
    pub given: String,
}

impl FromStr for SignatureScheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignatureScheme::ALL
            .into_iter()
            .find(|scheme| scheme.name() == s)
            .ok_or_else(|| UnknownScheme {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for scheme in SignatureScheme::ALL {
            assert_eq!(scheme.to_string().parse::<SignatureScheme>(), Ok(scheme));
        }
        assert_eq!(
            "Standard".parse::<SignatureScheme>(),
            Err(UnknownScheme {
                given: "Standard".into()
            })
        );
    }
}
