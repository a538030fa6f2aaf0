//! sfhooks: signed, reliable outbound webhooks for Salesforce.
//!
//! The library has two halves. The generator half (`config` -> `naming` -> `render` -> `mdapi`
//! -> `salesforce`) turns a configuration into Apex, a Metadata API package and a deploy; it is
//! built with the `cli` feature (on by default). The receiver half (`webhook`) verifies what the
//! generated Apex signs, has no I/O, and is all that `default-features = false` builds, so
//! receivers can embed it without the generator's dependencies.
//!
//! The library never parses command lines or prints: the `sfhooks` binary turns flags into
//! [`config::Overrides`] and the library's typed errors into messages and [`exit_code`]s.

#[cfg(feature = "cli")]
pub mod apex;
#[cfg(feature = "cli")]
pub mod config;
pub mod exit_code;
#[cfg(feature = "cli")]
pub mod forward;
#[cfg(feature = "cli")]
pub mod generated;
#[cfg(feature = "cli")]
pub mod mdapi;
#[cfg(feature = "cli")]
pub mod naming;
#[cfg(feature = "cli")]
pub mod package;
#[cfg(feature = "cli")]
pub mod pipeline;
#[cfg(feature = "cli")]
pub mod poll;
#[cfg(feature = "cli")]
pub mod receiver;
pub mod redacted;
#[cfg(feature = "cli")]
pub mod render;
#[cfg(feature = "cli")]
pub mod salesforce;
pub mod scheme;
#[cfg(feature = "cli")]
pub mod shell;
#[cfg(feature = "cli")]
pub mod signing_secret;
pub mod webhook;

/// The README's Rust examples, compiled and run as doc tests (also without default features).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
