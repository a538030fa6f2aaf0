//! Webhook envelope, signing and verification, for receivers. No I/O: receivers embed this.
//!
//! What the generated Apex sends and how to check it:
//!
//! - [`Verifier`] checks a Standard Webhooks v1 delivery: the `webhook-signature` HMAC-SHA256 over
//!   `id.timestamp.body` (the raw body bytes, never a re-serialised copy), keyed with one or more
//!   [`Secret`]s (rotation), and the `webhook-timestamp` against a clock the caller passes in.
//! - [`ElementsVerifier`] checks the Open Connectors `Elements-Webhook-Signature` scheme, which has
//!   no timestamp and so no replay protection.
//! - [`sign`] / [`sign_elements`] produce what a sender puts in the headers, for tests and for
//!   people testing their own receivers.
//! - [`envelope`] holds the serde types of the JSON body, [`headers`] the parsers of each header
//!   value, [`org`] the org ids a receiver may restrict deliveries to, [`dedupe`] the bounded set of recently seen `webhook-id`s a receiver needs to refuse
//!   replays inside the tolerance window, and [`wire`] the constants shared with the Apex templates.
//!
//! ```
//! use sfhooks::webhook::{sign, Headers, Secret, Verifier};
//!
//! let secret: Secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".parse()?;
//! let body = br#"{"email":"test@example.com","username":"test_user"}"#;
//! let signature = sign(&secret, "msg_1", 1_649_367_553, body);
//!
//! let verifier = Verifier::new(vec![secret])?;
//! let headers = Headers {
//!     id: Some(b"msg_1"),
//!     timestamp: Some(b"1649367553"),
//!     signature: Some(signature.as_bytes()),
//! };
//! let delivery = verifier.verify(&headers, body, 1_649_367_560)?;
//! assert_eq!(delivery.id, "msg_1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
pub mod dedupe;
pub mod envelope;
pub mod error;
pub mod head_scan;
pub mod headers;
pub mod org;
pub mod secret;
pub mod sign;
pub mod verify;
pub mod wire;

pub use dedupe::{Claim, SeenIds};
pub use envelope::{
    parse_envelope, parse_envelope_head, Envelope, EnvelopeError, EnvelopeHead, Event, EventHead,
    EventType, Gap, GapReason,
};
pub use error::{SecretError, VerifyError};
pub use head_scan::HeadScanner;
pub use org::{OrgId, OrgIdError};
pub use secret::{encode_secret, ElementsKey, Secret};
pub use sign::{sign, sign_all, sign_elements};
pub use verify::{BodyCheck, Delivery, ElementsVerifier, Headers, Verifier};
