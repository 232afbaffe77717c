//! The command line, declared with clap: subcommands, flags, defaults and `--help`.
//! Accepts `--flag value` and `--flag=value`; a bad command line is clap's usage error
//! (stderr, exit code 2), `--help` and `--version` print on stdout and exit 0.
//!
//! Our own parsers below give the ranges in plain words; [`parse`] then turns the flags
//! into [`ServeArgs`]; any safety flag turns the relay-wide policy on.

use crate::wave::WaveArgs;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use dglab_core::pairing::{validate_public_url, PublicUrlError};
use dglab_core::protocol::command::MAX_STRENGTH;
use dglab_core::relay::RelayConfig;
use dglab_core::SafetyConfig;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Shown under the top-level and `serve` help.
const LOG_LEVEL_HELP: &str = "Log level: DGLAB_LOG=off|error|warn|info|debug|trace (default info)";

/// Longest `--heartbeat`, one day.
const MAX_HEARTBEAT_SECS: u64 = 86_400;

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "dglab-relay",
    version,
    about = "The DG-LAB SOCKET v2 relay without a window",
    after_help = LOG_LEVEL_HELP,
    arg_required_else_help = true,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Run the DG-LAB SOCKET v2 relay
    Serve(ServeFlags),
    /// Waveform tools: a share string's frames, or a summary of it
    Wave(WaveArgs),
    /// Why a phone cannot pair: each address, a self-test through
    /// it, the firewall, hints for a public URL
    #[command(verbatim_doc_comment)]
    Doctor(crate::doctor::DoctorArgs),
}

/// `serve`'s flags as typed; [`parse`] checks and resolves them into [`ServeArgs`].
///
/// Numbers accept a leading `-` so that `--port -1` is told the range, not "unexpected
/// argument". The help lines are wrapped by hand (`verbatim_doc_comment`) for an
/// 80-column terminal: clap wraps only with its `wrap_help` feature, which would add a
/// terminal-size crate. `display_name` keeps `serve --version` saying `dglab-relay`.
#[derive(Debug, Args)]
#[command(display_name = "dglab-relay", after_help = LOG_LEVEL_HELP)]
struct ServeFlags {
    /// Address to listen on: an IP address (0.0.0.0: every
    /// interface, :: for IPv6) or localhost for
    /// 127.0.0.1. Give it again to listen on several, e.g.
    /// --host 0.0.0.0 --host :: for IPv4 and IPv6
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0", value_parser = parse_host,
          action = clap::ArgAction::Append, verbatim_doc_comment)]
    host: Vec<IpAddr>,
    /// TCP port, 0 picks a free one
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        default_value_t = 9999
    )]
    port: u16,
    /// Seconds between heartbeat frames (at most 86400),
    /// 0 turns them off
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, default_value_t = 60, value_parser = parse_heartbeat,
          verbatim_doc_comment)]
    heartbeat: u64,
    /// Also run a terminal here: print its pairing QR code
    /// and log what the App reports (strength, feedback
    /// buttons). It is guarded: on Ctrl-C/SIGTERM its App is
    /// set to 0 on both channels and both waveform queues are
    /// cleared before the relay closes
    #[arg(long, verbatim_doc_comment)]
    local_terminal: bool,
    /// Highest strength any App on this relay may get on
    /// channel A, 0..=200. Given (or any of --cap-b,
    /// --max-rise-per-sec), it binds every terminal's
    /// commands, not only the local terminal's
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = SafetyConfig::DEFAULT_CAP,
          value_parser = parse_strength, verbatim_doc_comment)]
    cap_a: u8,
    /// The same for channel B
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = SafetyConfig::DEFAULT_CAP,
          value_parser = parse_strength)]
    cap_b: u8,
    /// Fastest rise, strength units per second, 1..=200
    /// (other terminals: +1 per 1/N s at most)
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = SafetyConfig::DEFAULT_MAX_RISE_PER_SEC,
          value_parser = parse_rise, verbatim_doc_comment)]
    max_rise_per_sec: u16,
    /// ws:// or wss:// address the phone should use in the
    /// QR code (reverse proxy, port forward); default: this
    /// machine's LAN address
    #[arg(long, value_name = "URL", value_parser = parse_public_url, verbatim_doc_comment)]
    public_url: Option<String>,
    /// Most connections at once (sockets, handshakes included)
    #[arg(long, value_name = "N", default_value_t = RelayConfig::server().max_connections,
          value_parser = parse_count)]
    max_connections: usize,
    /// Most connections from one public address
    #[arg(long, value_name = "N", default_value_t = RelayConfig::server().max_per_address,
          value_parser = parse_count)]
    max_per_address: usize,
    /// Most connections from one LAN address (private IPv4,
    /// link-local, IPv6 unique-local)
    #[arg(long, value_name = "N", default_value_t = RelayConfig::server().max_per_lan_address,
          value_parser = parse_count, verbatim_doc_comment)]
    max_per_lan_address: usize,
    /// Print every frame the relay reads or writes as a JSON
    /// line on stdout, with what it means (logs stay on stderr)
    #[arg(long, verbatim_doc_comment)]
    inspect: bool,
    /// The V4 relay's (DG-LAB App 4.x) flags, declared in v4.rs.
    #[command(flatten)]
    v4: crate::v4::V4Flags,
    // The game API's flags (--http-port, --http-host, --api-token): src/bin/dglab-relay/gamehub.rs.
    #[command(flatten)]
    game_api: crate::gamehub::GameApiFlags,
}

/// The flags that turn the relay-wide safety policy on, by argument id and flag.
const SAFETY_FLAGS: [(&str, &str); 3] = [
    ("cap_a", "--cap-a"),
    ("cap_b", "--cap-b"),
    ("max_rise_per_sec", "--max-rise-per-sec"),
];

/// What the user asked for, checked.
#[derive(Debug)]
pub enum Command {
    /// Run the relay.
    Serve(ServeArgs),
    /// A waveform tool.
    Wave(WaveArgs),
    /// The pairing doctor.
    Doctor(crate::doctor::DoctorArgs),
}

/// `serve`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// Where to listen: one listener per address, same port.
    pub hosts: Vec<IpAddr>,
    /// TCP port; 0 lets the OS choose (the startup line says which).
    pub port: u16,
    /// Heartbeat interval; `None` when `--heartbeat 0`.
    pub heartbeat: Option<Duration>,
    /// Run an in-process terminal and print its QR code.
    pub local_terminal: bool,
    /// Validated base for the pairing URL, instead of the best LAN address.
    pub public_url: Option<String>,
    /// The safety gate's caps and rise rate from the flags, no watchdog (nobody renews a
    /// lease in a headless relay): the local terminal's, and every App's with
    /// `relay_policy`.
    pub safety: SafetyConfig,
    /// A safety flag was given: the caps, rise rate and stop bind every App on the relay.
    pub relay_policy: bool,
    /// Connection limits, on top of [`RelayConfig::server`].
    pub max_connections: usize,
    /// Most connections from one public address.
    pub max_per_address: usize,
    /// Most connections from one LAN address.
    pub max_per_lan_address: usize,
    /// Print every frame as a JSON line on stdout (`--inspect`).
    pub inspect: bool,
    /// The V4 relay: port, timers.
    pub v4: crate::v4::V4Args,
    /// The game API (`--http-port`, …); `None` when off.
    pub game_api: Option<crate::gamehub::GameApiArgs>,
}

/// Parses the whole command line, program name first.
///
/// # Errors
/// A [`clap::Error`] to print with [`clap::Error::print`] and exit with its
/// [`clap::Error::exit_code`]: `--help` and `--version` (stdout, 0) as well as every
/// usage error (stderr, 2).
pub fn parse<I, T>(argv: I) -> Result<Command, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(argv)?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    match cli.command {
        CliCommand::Wave(wave) => Ok(Command::Wave(wave)),
        CliCommand::Doctor(doctor) => Ok(Command::Doctor(doctor)),
        CliCommand::Serve(flags) => {
            let given = matches
                .subcommand_matches("serve")
                .map(|m| {
                    SAFETY_FLAGS
                        .iter()
                        .filter(|(id, _)| m.value_source(id) == Some(ValueSource::CommandLine))
                        .min_by_key(|(id, _)| m.index_of(id))
                        .map(|(_, flag)| *flag)
                })
                .unwrap_or_default();
            let v4_port_given = matches
                .subcommand_matches("serve")
                .is_some_and(|m| m.value_source("v4_port") == Some(ValueSource::CommandLine));
            let safety = safety_from_flags(&flags);
            let game_api = flags.game_api.resolve(flags.local_terminal).map_err(|m| {
                clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, m).format(&mut cmd)
            })?;
            let mut hosts = flags.host.clone();
            hosts.dedup();
            Ok(Command::Serve(ServeArgs {
                hosts,
                port: flags.port,
                heartbeat: (flags.heartbeat > 0).then(|| Duration::from_secs(flags.heartbeat)),
                local_terminal: flags.local_terminal,
                public_url: flags.public_url,
                safety,
                relay_policy: given.is_some(),
                max_connections: flags.max_connections,
                max_per_address: flags.max_per_address,
                max_per_lan_address: flags.max_per_lan_address,
                inspect: flags.inspect,
                v4: flags.v4.resolve(v4_port_given),
                game_api,
            }))
        }
    }
}

/// The local terminal's safety settings from `--cap-a`, `--cap-b` and
/// `--max-rise-per-sec` (each already in range); the watchdog stays off (nobody renews a
/// lease in a headless relay). [`dglab_core::SafetyHub::new`] validates it again.
fn safety_from_flags(flags: &ServeFlags) -> SafetyConfig {
    SafetyConfig {
        cap_a: flags.cap_a,
        cap_b: flags.cap_b,
        max_rise_per_sec: flags.max_rise_per_sec,
        watchdog: None,
    }
}

/// A cap is a strength: 0..=200 (0 allows nothing above 0 on that channel).
fn parse_strength(v: &str) -> Result<u8, String> {
    v.parse::<u8>()
        .ok()
        .filter(|c| *c <= MAX_STRENGTH)
        .ok_or_else(|| format!("expected a strength 0..={MAX_STRENGTH}"))
}

/// The fastest rise, 1..=200 units per second.
fn parse_rise(v: &str) -> Result<u16, String> {
    let max = SafetyConfig::MAX_RISE_PER_SEC;
    v.parse::<u16>()
        .ok()
        .filter(|r| (1..=max).contains(r))
        .ok_or_else(|| format!("expected strength units per second 1..={max}"))
}

/// Whole seconds, capped at a day: the relay adds the interval to `Instant::now()`, which
/// panics on overflow, and a day is already far past any useful heartbeat.
fn parse_heartbeat(v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|s| *s <= MAX_HEARTBEAT_SECS)
        .ok_or_else(|| format!("expected whole seconds 0..={MAX_HEARTBEAT_SECS} (0 turns it off)"))
}

/// A connection count, at least 1.
fn parse_count(v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| "expected a whole number of connections, at least 1".to_owned())
}

/// An IP address, or `localhost` for 127.0.0.1. Host names are not resolved: a relay
/// listens on an address this machine owns, and a name could resolve to anything.
fn parse_host(v: &str) -> Result<IpAddr, String> {
    if v.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    v.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| "expected an IP address such as 0.0.0.0 or 192.168.1.5".to_owned())
}

fn parse_public_url(v: &str) -> Result<String, PublicUrlError> {
    validate_public_url(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn p(args: &[&str]) -> Result<Command, clap::Error> {
        parse(std::iter::once("dglab-relay").chain(args.iter().copied()))
    }

    fn serve(args: &[&str]) -> ServeArgs {
        match p(args) {
            Ok(Command::Serve(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    /// The error as printed (no colours: clap's `color` feature is off).
    fn error(args: &[&str]) -> (ErrorKind, i32, String) {
        let e = p(args).unwrap_err();
        (e.kind(), e.exit_code(), e.render().to_string())
    }

    fn message(args: &[&str]) -> String {
        let (_, code, text) = error(args);
        assert_eq!(code, 2, "{text}");
        text
    }

    #[test]
    fn clap_is_configured_consistently() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        assert_eq!(
            serve(&["serve"]),
            ServeArgs {
                hosts: vec![Ipv4Addr::UNSPECIFIED.into()],
                port: 9999,
                heartbeat: Some(Duration::from_secs(60)),
                local_terminal: false,
                public_url: None,
                safety: SafetyConfig {
                    cap_a: SafetyConfig::DEFAULT_CAP,
                    cap_b: SafetyConfig::DEFAULT_CAP,
                    max_rise_per_sec: SafetyConfig::DEFAULT_MAX_RISE_PER_SEC,
                    watchdog: None,
                },
                relay_policy: false,
                max_connections: 24_000,
                max_per_address: RelayConfig::server().max_per_address,
                max_per_lan_address: RelayConfig::server().max_per_lan_address,
                inspect: false,
                v4: crate::v4::V4Args::default(),
                game_api: None,
            }
        );
    }

    #[test]
    fn every_flag_both_spellings() {
        let s = serve(&[
            "serve",
            "--host",
            "127.0.0.1",
            "--port=0",
            "--heartbeat",
            "0",
            "--local-terminal",
            "--public-url=wss://relay.example.org/dglab/",
            "--cap-a",
            "5",
            "--cap-b=200",
            "--max-rise-per-sec",
            "20",
            "--max-connections=12000",
            "--max-per-address",
            "8",
            "--max-per-lan-address=64",
            "--inspect",
        ]);
        assert_eq!(
            s,
            ServeArgs {
                hosts: vec![Ipv4Addr::LOCALHOST.into()],
                port: 0,
                heartbeat: None,
                local_terminal: true,
                public_url: Some("wss://relay.example.org/dglab".into()),
                safety: SafetyConfig {
                    cap_a: 5,
                    cap_b: 200,
                    max_rise_per_sec: 20,
                    watchdog: None,
                },
                relay_policy: true,
                max_connections: 12_000,
                max_per_address: 8,
                max_per_lan_address: 64,
                inspect: true,
                v4: crate::v4::V4Args::default(),
                game_api: Some(crate::gamehub::GameApiArgs {
                    addr: "127.0.0.1:8920".parse().unwrap(),
                    explicit: false,
                    token: None,
                }),
            }
        );
        assert_eq!(
            serve(&["serve", "--host", "[::1]"]).hosts,
            ["::1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            serve(&["serve", "--host", "localhost"]).hosts,
            [IpAddr::from(Ipv4Addr::LOCALHOST)]
        );
        // Several listeners: IPv4 and IPv6 at once.
        assert_eq!(
            serve(&["serve", "--host", "0.0.0.0", "--host", "::"]).hosts,
            ["0.0.0.0".parse::<IpAddr>().unwrap(), "::".parse().unwrap()]
        );
        assert!(message(&["serve", "--max-connections", "0"]).contains("at least 1"));
        assert_eq!(
            serve(&["serve", "--heartbeat", "5"]).heartbeat,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn help_and_version_go_to_stdout_with_exit_0() {
        for (args, kind) in [
            (&["--help"][..], ErrorKind::DisplayHelp),
            (&["help"], ErrorKind::DisplayHelp),
            (&["serve", "-h"], ErrorKind::DisplayHelp),
            (&["wave", "--help"], ErrorKind::DisplayHelp),
            (&["-V"], ErrorKind::DisplayVersion),
            (&["serve", "--version"], ErrorKind::DisplayVersion),
        ] {
            let e = p(args).unwrap_err();
            assert_eq!((e.kind(), e.exit_code(), e.use_stderr()), (kind, 0, false));
        }
        let (_, _, help) = error(&["serve", "--help"]);
        for text in [
            "Usage: dglab-relay serve [OPTIONS]",
            "--heartbeat <SECS>",
            "[default: 60]",
            "--cap-a <N>",
            "[default: 40]",
            "--max-rise-per-sec <N>",
            "[default: 10]",
            "DGLAB_LOG=",
        ] {
            assert!(help.contains(text), "{text:?} in {help}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        // No command: the top-level help, on stderr, exit 2.
        let (kind, code, text) = error(&[]);
        assert_eq!(
            (kind, code),
            (ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand, 2)
        );
        assert!(text.contains("Usage: dglab-relay <COMMAND>"), "{text}");
        assert!(message(&["srve"]).contains("unrecognized subcommand 'srve'"));
        let text = message(&["--port", "1"]);
        assert!(text.contains("unexpected argument '--port'"), "{text}");
        let text = message(&["serve", "--bogus"]);
        assert!(
            text.starts_with("error: unexpected argument '--bogus' found"),
            "{text}"
        );
        assert!(
            text.contains("Usage: dglab-relay serve [OPTIONS]"),
            "{text}"
        );
        assert!(message(&["serve", "--port"]).contains("a value is required for '--port <N>'"));
        assert!(message(&["serve", "--port", "70000"]).starts_with(
            "error: invalid value '70000' for '--port <N>': 70000 is not in 0..=65535"
        ));
        for bad in ["-1", "86401", "18446744073709551615"] {
            let text = message(&["serve", "--heartbeat", bad]);
            assert!(
                text.contains("for '--heartbeat <SECS>': expected whole seconds 0..=86400"),
                "{text}"
            );
        }
        assert!(message(&["serve", "--host", "example.org"])
            .contains("for '--host <ADDR>': expected an IP address"));
        assert!(
            message(&["serve", "--public-url", "http://x"]).contains("for '--public-url <URL>': ")
        );
        assert!(message(&["serve", "--local-terminal=yes"])
            .contains("unexpected value 'yes' for '--local-terminal'"));
    }

    #[test]
    fn safety_flags_default_validate_and_turn_the_relay_wide_policy_on() {
        let s = serve(&["serve", "--local-terminal"]).safety;
        assert_eq!(
            (s.cap_a, s.cap_b, s.max_rise_per_sec, s.watchdog),
            (40, 40, 10, None)
        );
        let lt = |extra: &[&str]| {
            let mut a = vec!["serve", "--local-terminal"];
            a.extend_from_slice(extra);
            message(&a)
        };
        assert!(lt(&["--cap-a", "201"]).starts_with(
            "error: invalid value '201' for '--cap-a <N>': expected a strength 0..=200\n"
        ));
        assert!(lt(&["--cap-b=-1"]).starts_with(
            "error: invalid value '-1' for '--cap-b <N>': expected a strength 0..=200\n"
        ));
        assert!(lt(&["--cap-a", "x"]).contains("expected a strength 0..=200"));
        assert!(lt(&["--cap-b"]).contains("a value is required for '--cap-b <N>'"));
        for bad in ["0", "201", "1.5"] {
            assert!(
                lt(&["--max-rise-per-sec", bad]).starts_with(&format!(
                    "error: invalid value '{bad}' for '--max-rise-per-sec <N>': expected strength units per second 1..=200\n"
                )),
                "{bad}"
            );
        }
        assert_eq!(
            serve(&["serve", "--local-terminal", "--cap-a=0"])
                .safety
                .cap_a,
            0
        );
        // Any safety flag turns the relay-wide policy on, with or without a local terminal;
        // without one, the relay relays as before.
        assert!(serve(&["serve", "--cap-a", "5"]).relay_policy);
        assert!(serve(&["serve", "--max-rise-per-sec=5"]).relay_policy);
        assert!(!serve(&["serve", "--local-terminal"]).relay_policy);
        assert!(!serve(&["serve"]).relay_policy);
        // The flag order does not matter.
        assert_eq!(
            serve(&["serve", "--cap-b", "7", "--local-terminal"])
                .safety
                .cap_b,
            7
        );
    }
}
