//! The one integration test binary: a module per feature, each driving the real `sfhooks` binary.
mod deploy;
mod deploy_day2;
mod exit_codes;
mod forward_nats;
mod forward_nats_secured;
mod generate;
mod limits;
mod listen;
mod package;
mod poll;
mod poll_nats;
mod replay;
mod secret_rule;
mod status;
mod support;
mod verify;
mod webhook_props;
