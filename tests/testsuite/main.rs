//! The one integration test binary: a module per feature, each driving the real `sfhooks` binary.
mod deploy;
mod forward_nats;
mod generate;
mod limits;
mod listen;
mod package;
mod support;
mod verify;
mod webhook_props;
