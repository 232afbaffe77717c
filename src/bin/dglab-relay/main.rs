//! `dglab-relay`: the DG-LAB SOCKET v2 relay without a window, for a Raspberry Pi, a
//! server or a terminal session. `serve` runs the relay (optionally with a local terminal
//! whose QR code is printed); `wave` holds waveform tools; `doctor` says why a phone
//! cannot pair.
//!
//! - `args.rs`: subcommands, flags and help, declared with clap.
//! - `doctor.rs`: the `doctor` subcommand (why a phone cannot pair).
//! - `gamehub.rs`: the game API's flags and its start with the local terminal.
//! - `logger.rs`: env_logger on stderr, its level and filters from `DGLAB_LOG`.
//! - `pairing.rs`: which address goes in the QR code, and the block printed for it.
//! - `report.rs`: the log line for each relay and terminal event.
//! - `serve.rs`: binding, event logging, the local terminal, clean shutdown.
//! - `v4.rs`: the V4 relay for the DG-LAB App 4.x beside it: flags, binding, event lines.
//! - `wave.rs`: the `wave` subcommand (`frames`, `check`) over the core's share parser.

mod args;
mod doctor;
mod gamehub;
mod logger;
mod pairing;
mod report;
mod serve;
mod v4;
mod wave;

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = match args::parse(std::env::args_os()) {
        Ok(args::Command::Wave(wave)) => wave::run(&wave),
        Ok(args::Command::Doctor(doctor)) => doctor::run(&doctor),
        Ok(args::Command::Serve(serve_args)) => {
            if let Some(warning) = logger::init() {
                log::warn!("{warning}");
            }
            serve::run(serve_args)
        }
        // `--help` and `--version` on stdout with 0; usage errors on stderr with 2.
        Err(e) => {
            let _ = e.print();
            e.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
