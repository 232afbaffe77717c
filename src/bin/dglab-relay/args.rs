//! Command-line parsing, by hand: two subcommands and nine flags do not need a parser
//! crate. Accepts `--flag value` and `--flag=value`; anything unknown is an error that the
//! caller prints with the usage and exit code 2.

use dglab_core::pairing::validate_public_url;
use dglab_core::protocol::command::MAX_STRENGTH;
use dglab_core::safety::ConfigError;
use dglab_core::SafetyConfig;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Top-level usage, printed for `--help` and after any argument error.
pub const USAGE: &str = "\
Usage: dglab-relay serve [--host ADDR] [--port N] [--heartbeat SECS] [--public-url URL]
                         [--local-terminal [--cap-a N] [--cap-b N] [--max-rise-per-sec N]]
       dglab-relay wave ...
       dglab-relay --help | --version

Commands:
  serve   run the DG-LAB SOCKET v2 relay (see `dglab-relay serve --help`)
  wave    waveform tools

Log level: DGLAB_LOG=off|error|warn|info|debug|trace (default info)";

/// `serve --help`.
pub const SERVE_USAGE: &str = "\
Usage: dglab-relay serve [OPTIONS]

Options:
  --host ADDR        address to listen on (default 0.0.0.0: every interface)
  --port N           TCP port, 0 picks a free one (default 9999)
  --heartbeat SECS   seconds between heartbeat frames, 0 turns them off (default 60)
  --local-terminal   also run a terminal here: print its pairing QR code and log what
                     the App reports (strength, feedback buttons). It is guarded: on
                     Ctrl-C/SIGTERM its App is set to 0 on both channels and both
                     waveform queues are cleared before the relay closes
  --cap-a N          with --local-terminal: highest strength it ever sends on channel A,
                     0..=200 (default 40)
  --cap-b N          the same for channel B (default 40)
  --max-rise-per-sec N
                     with --local-terminal: fastest rise, strength units per second,
                     1..=200 (default 10)
  --public-url URL   ws:// or wss:// address the phone should use in the QR code
                     (reverse proxy, port forward); default: this machine's LAN address
  -h, --help         this text
  -V, --version      the version

Log level: DGLAB_LOG=off|error|warn|info|debug|trace (default info)";

/// Longest `--heartbeat`, one day.
const MAX_HEARTBEAT_SECS: u64 = 86_400;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the relay.
    Serve(ServeArgs),
    /// Waveform tools; the arguments after `wave`.
    Wave(Vec<String>),
    /// Print this usage text on stdout and exit 0.
    Help(&'static str),
    /// Print the version and exit 0.
    Version,
}

/// `serve`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// Where to listen.
    pub host: IpAddr,
    /// TCP port; 0 lets the OS choose (the startup line says which).
    pub port: u16,
    /// Heartbeat interval; `None` when `--heartbeat 0`.
    pub heartbeat: Option<Duration>,
    /// Run an in-process terminal and print its QR code.
    pub local_terminal: bool,
    /// Validated base for the pairing URL, instead of the best LAN address.
    pub public_url: Option<String>,
    /// The local terminal's safety gate: caps and rise rate from the flags, no watchdog
    /// (nobody renews a lease in a headless relay).
    pub safety: SafetyConfig,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 9999,
            heartbeat: Some(Duration::from_secs(60)),
            local_terminal: false,
            public_url: None,
            safety: safety_from_flags(None, None, None)
                .expect("the default safety settings are in range"),
        }
    }
}

/// A bad command line; the message is one line, shown before the usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// What is wrong.
    pub message: String,
    /// The usage text that fits (top level or `serve`).
    pub usage: &'static str,
}

/// Parses the arguments after the program name.
///
/// # Errors
/// [`ArgError`] for a missing or unknown subcommand, an unknown flag, a missing or
/// malformed value.
pub fn parse(args: &[String]) -> Result<Command, ArgError> {
    let top = |message: String| ArgError {
        message,
        usage: USAGE,
    };
    match args.first().map(String::as_str) {
        None => Err(top("a command is required".into())),
        Some("serve") => parse_serve(&args[1..]),
        Some("wave") => Ok(Command::Wave(args[1..].to_vec())),
        Some("-h" | "--help" | "help") => Ok(Command::Help(USAGE)),
        Some("-V" | "--version") => Ok(Command::Version),
        Some(other) if other.starts_with('-') => Err(top(format!(
            "unexpected option {other:?} before the command (try `dglab-relay serve {other}`)"
        ))),
        Some(other) => Err(top(format!("unknown command {other:?}"))),
    }
}

fn parse_serve(args: &[String]) -> Result<Command, ArgError> {
    let err = |message: String| ArgError {
        message,
        usage: SERVE_USAGE,
    };
    let mut out = ServeArgs::default();
    // The safety flags, remembered by name so a missing --local-terminal can be named.
    let (mut cap_a, mut cap_b, mut rise) = (None, None, None);
    let mut safety_flag: Option<&'static str> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        // `--flag=value` and `--flag value` both work.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, ArgError> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| err(format!("{name} needs a value")))
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help(SERVE_USAGE)),
            "-V" | "--version" => return Ok(Command::Version),
            "--host" => out.host = parse_host(&value("--host")?).map_err(err)?,
            "--port" => {
                let v = value("--port")?;
                out.port = v
                    .parse()
                    .map_err(|_| err(format!("--port expects 0..=65535, got {v:?}")))?;
            }
            "--heartbeat" => {
                let v = value("--heartbeat")?;
                // Capped at a day: the relay adds the interval to `Instant::now()`, which
                // panics on overflow, and a day is already far past any useful heartbeat.
                let secs = v
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= MAX_HEARTBEAT_SECS)
                    .ok_or_else(|| {
                        err(format!(
                            "--heartbeat expects whole seconds 0..={MAX_HEARTBEAT_SECS} (0 turns it off), got {v:?}"
                        ))
                    })?;
                out.heartbeat = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "--public-url" => {
                let v = value("--public-url")?;
                let url = validate_public_url(&v).map_err(|e| err(format!("--public-url: {e}")))?;
                out.public_url = Some(url);
            }
            "--cap-a" | "--cap-b" => {
                let name = if flag == "--cap-a" {
                    "--cap-a"
                } else {
                    "--cap-b"
                };
                let cap = parse_cap(name, &value(name)?).map_err(err)?;
                *if name == "--cap-a" {
                    &mut cap_a
                } else {
                    &mut cap_b
                } = Some(cap);
                safety_flag.get_or_insert(name);
            }
            "--max-rise-per-sec" => {
                let v = value("--max-rise-per-sec")?;
                let max = SafetyConfig::MAX_RISE_PER_SEC;
                rise = Some(
                    v.parse::<u16>()
                        .ok()
                        .filter(|r| (1..=max).contains(r))
                        .ok_or_else(|| {
                            err(format!(
                                "--max-rise-per-sec expects strength units per second 1..={max}, got {v:?}"
                            ))
                        })?,
                );
                safety_flag.get_or_insert("--max-rise-per-sec");
            }
            "--local-terminal" if inline.is_none() => out.local_terminal = true,
            "--local-terminal" => return Err(err("--local-terminal takes no value".into())),
            other => return Err(err(format!("unknown option {other:?}"))),
        }
    }
    if let Some(name) = safety_flag.filter(|_| !out.local_terminal) {
        // The relay only forwards other terminals' commands; a cap here would limit
        // nothing, and a user must not believe otherwise.
        return Err(err(format!(
            "{name} limits the local terminal only; add --local-terminal (the relay does not change what other terminals send)"
        )));
    }
    out.safety = safety_from_flags(cap_a, cap_b, rise)
        .map_err(|e| err(format!("invalid safety settings: {e}")))?;
    Ok(Command::Serve(out))
}

/// The local terminal's safety settings from `--cap-a`, `--cap-b` and
/// `--max-rise-per-sec`: a missing flag takes the core's default, and the watchdog stays
/// off (nobody renews a lease in a headless relay).
///
/// # Errors
/// [`ConfigError`] if a value is out of range (see [`SafetyConfig::validate`]).
pub fn safety_from_flags(
    cap_a: Option<u8>,
    cap_b: Option<u8>,
    max_rise_per_sec: Option<u16>,
) -> Result<SafetyConfig, ConfigError> {
    let config = SafetyConfig {
        cap_a: cap_a.unwrap_or(SafetyConfig::DEFAULT_CAP),
        cap_b: cap_b.unwrap_or(SafetyConfig::DEFAULT_CAP),
        max_rise_per_sec: max_rise_per_sec.unwrap_or(SafetyConfig::DEFAULT_MAX_RISE_PER_SEC),
        watchdog: None,
    };
    config.validate()?;
    Ok(config)
}

/// A cap is a strength: 0..=200 (0 allows nothing above 0 on that channel).
fn parse_cap(name: &str, v: &str) -> Result<u8, String> {
    v.parse::<u8>()
        .ok()
        .filter(|c| *c <= MAX_STRENGTH)
        .ok_or_else(|| format!("{name} expects a strength 0..={MAX_STRENGTH}, got {v:?}"))
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
        .map_err(|_| {
            format!("--host expects an IP address such as 0.0.0.0 or 192.168.1.5, got {v:?}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, ArgError> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn serve(args: &[&str]) -> ServeArgs {
        match p(args) {
            Ok(Command::Serve(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    fn message(args: &[&str]) -> String {
        p(args).unwrap_err().message
    }

    #[test]
    fn defaults() {
        assert_eq!(serve(&["serve"]), ServeArgs::default());
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
        ]);
        assert_eq!(
            s,
            ServeArgs {
                host: Ipv4Addr::LOCALHOST.into(),
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
            }
        );
        assert_eq!(
            serve(&["serve", "--host", "[::1]"]).host,
            "::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            serve(&["serve", "--host", "localhost"]).host,
            Ipv4Addr::LOCALHOST
        );
        assert_eq!(
            serve(&["serve", "--heartbeat", "5"]).heartbeat,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn help_version_wave() {
        assert_eq!(p(&["--help"]), Ok(Command::Help(USAGE)));
        assert_eq!(p(&["serve", "-h"]), Ok(Command::Help(SERVE_USAGE)));
        assert_eq!(p(&["-V"]), Ok(Command::Version));
        assert_eq!(
            p(&["wave", "--port", "x"]),
            Ok(Command::Wave(vec!["--port".into(), "x".into()]))
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(message(&[]), "a command is required");
        assert_eq!(message(&["srve"]), "unknown command \"srve\"");
        assert!(message(&["--port", "1"]).contains("before the command"));
        assert_eq!(message(&["serve", "--bogus"]), "unknown option \"--bogus\"");
        assert_eq!(message(&["serve", "--port"]), "--port needs a value");
        assert_eq!(
            message(&["serve", "--port", "70000"]),
            "--port expects 0..=65535, got \"70000\""
        );
        assert!(message(&["serve", "--heartbeat", "-1"]).starts_with("--heartbeat expects"));
        assert!(message(&["serve", "--heartbeat", "86401"]).starts_with("--heartbeat expects"));
        assert!(message(&["serve", "--heartbeat", "18446744073709551615"]).contains("0..=86400"));
        assert!(message(&["serve", "--host", "example.org"]).starts_with("--host expects"));
        assert!(message(&["serve", "--public-url", "http://x"]).starts_with("--public-url: "));
        assert_eq!(
            message(&["serve", "--local-terminal=yes"]),
            "--local-terminal takes no value"
        );
        assert_eq!(p(&["serve", "--bogus"]).unwrap_err().usage, SERVE_USAGE);
    }

    #[test]
    fn safety_flags_default_validate_and_need_the_local_terminal() {
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
        assert_eq!(
            lt(&["--cap-a", "201"]),
            "--cap-a expects a strength 0..=200, got \"201\""
        );
        assert_eq!(
            lt(&["--cap-b=-1"]),
            "--cap-b expects a strength 0..=200, got \"-1\""
        );
        assert_eq!(
            lt(&["--cap-a", "x"]),
            "--cap-a expects a strength 0..=200, got \"x\""
        );
        assert_eq!(lt(&["--cap-b"]), "--cap-b needs a value");
        for bad in ["0", "201", "1.5"] {
            assert_eq!(
                lt(&["--max-rise-per-sec", bad]),
                format!(
                    "--max-rise-per-sec expects strength units per second 1..=200, got {bad:?}"
                )
            );
        }
        assert_eq!(
            serve(&["serve", "--local-terminal", "--cap-a=0"])
                .safety
                .cap_a,
            0
        );
        assert_eq!(
            message(&["serve", "--cap-a", "5"]),
            "--cap-a limits the local terminal only; add --local-terminal (the relay does not change what other terminals send)"
        );
        assert!(
            message(&["serve", "--max-rise-per-sec=5"]).starts_with("--max-rise-per-sec limits")
        );
        // The flag order does not matter.
        assert_eq!(
            serve(&["serve", "--cap-b", "7", "--local-terminal"])
                .safety
                .cap_b,
            7
        );
    }
}
