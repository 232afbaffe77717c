//! `dglab-relay wave …`: a placeholder until `dglab_core::waveform::cli::wave_cli` lands
//! (another branch). At merge this body becomes
//! `wave_cli(args, &mut std::io::stdout(), &mut std::io::stderr())`.

/// Runs the `wave` subcommand and returns the process exit code.
pub fn run(_args: &[String]) -> i32 {
    eprintln!("wave: not built yet");
    2
}
