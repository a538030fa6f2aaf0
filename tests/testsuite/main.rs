//! The one integration test binary: a module per feature, each driving the real `sfhooks` binary.
mod generate;
mod support;
