//! `doctor`: checks every integration of a PathOps catalog end to end (PathOps → tool and
//! tool → PathOps, with authentication both ways) and prints a table and the fixes.
//!
//! With no arguments it runs the embedded demo (see `demo.rs`); `--help` documents every
//! flag. Run with `cargo run -p pathops-examples --bin doctor`.

#![allow(clippy::print_stdout)]

mod args;
mod cli;
mod demo;
mod progress;
mod receiver;
mod render;
mod secrets;
mod store;

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints usage errors with a pointer to --help and exits 2.
    cli::main(args::DoctorCli::parse().options()).await
}
