//! `dglab-relay wave frames|check '<share string>'`: the waveform tools, which live in the
//! core (`dglab_core::waveform::cli`) so they are tested there.

/// Runs the `wave` subcommand and returns the process exit code.
pub fn run(args: &[String]) -> i32 {
    dglab_core::waveform::wave_cli(args, &mut std::io::stdout(), &mut std::io::stderr())
}
