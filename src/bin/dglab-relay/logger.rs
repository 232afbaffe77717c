//! The stderr logger behind the `log` facade: `env_logger`, one line per record,
//! `2025-06-01T12:34:56.789Z INFO  message` (UTC, milliseconds).
//!
//! The level comes from `DGLAB_LOG` (`off`, `error`, `warn`, `info`, `debug`, `trace`;
//! default `info`). Records from other crates (tungstenite's handshake chatter) are shown
//! only up to `info`, except at `trace`, so `debug` stays about the relay itself.

use env_logger::{Builder, Target};
use log::{Level, LevelFilter};
use std::io::Write;

/// The environment variable that sets the level.
pub const ENV_VAR: &str = "DGLAB_LOG";

/// The core's own one-line record of each safety event. `serve` subscribes to the hub
/// and logs the same events in plain words, so these would be duplicates.
const CORE_SAFETY_EVENTS: &str = "dglab_core::safety::event";

/// Parses a `DGLAB_LOG` value; `None` when it is not a level name.
pub fn parse_level(value: &str) -> Option<LevelFilter> {
    value.trim().parse().ok()
}

/// Installs the logger with the level from `DGLAB_LOG`. Returns a warning to log when the
/// variable holds something unreadable (the logger cannot log before it exists).
pub fn init() -> Option<String> {
    let raw = std::env::var(ENV_VAR).ok();
    let (level, warning) = match raw.as_deref().map(|v| (v, parse_level(v))) {
        None => (LevelFilter::Info, None),
        Some((_, Some(level))) => (level, None),
        Some((v, None)) => (
            LevelFilter::Info,
            Some(format!(
                "{ENV_VAR}={v:?} is not one of off, error, warn, info, debug, trace; using info"
            )),
        ),
    };
    // Fails only if a logger is already set, which main never does twice.
    let _ = builder(level, Target::Stderr).try_init();
    warning
}

/// The logger for `level`, writing to `target`: this program and the core at `level`,
/// other crates at most at `info` (unless `trace`), the core's safety records never.
fn builder(level: LevelFilter, target: Target) -> Builder {
    let others = if level == LevelFilter::Trace {
        level
    } else {
        level.min(LevelFilter::Info)
    };
    let mut builder = Builder::new();
    builder
        .filter_level(others)
        .filter_module("dglab_relay", level)
        .filter_module("dglab_core", level)
        .filter_module(CORE_SAFETY_EVENTS, LevelFilter::Off)
        .format(|buf, record| {
            writeln!(
                buf,
                "{} {:<5} {}",
                buf.timestamp_millis(),
                record.level(),
                record.args()
            )
        })
        .target(target);
    builder
}

/// Whether debug records will be shown (relayed messages are only formatted then).
pub fn debug_enabled() -> bool {
    log::log_enabled!(target: "dglab_relay", Level::Debug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::{Log, Metadata, Record};
    use std::sync::{Arc, Mutex};

    #[test]
    fn levels() {
        assert_eq!(parse_level("debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level(" WARN "), Some(LevelFilter::Warn));
        assert_eq!(parse_level("off"), Some(LevelFilter::Off));
        assert_eq!(parse_level("loud"), None);
    }

    #[test]
    fn other_crates_stay_at_info_below_trace_and_safety_records_never_show() {
        let shown = |level: LevelFilter, target: &str, at: Level| {
            let logger = builder(level, Target::Stderr).build();
            logger.enabled(&Metadata::builder().target(target).level(at).build())
        };
        let debug = LevelFilter::Debug;
        assert!(shown(debug, "dglab_relay::serve", Level::Debug));
        assert!(shown(debug, "dglab_core::relay", Level::Debug));
        assert!(!shown(debug, "tungstenite::handshake", Level::Debug));
        assert!(shown(debug, "tungstenite::handshake", Level::Info));
        assert!(shown(
            LevelFilter::Trace,
            "tungstenite::handshake",
            Level::Trace
        ));
        assert!(!shown(LevelFilter::Warn, "dglab_relay::serve", Level::Info));
        assert!(!shown(LevelFilter::Warn, "tungstenite", Level::Info));
        assert!(!shown(LevelFilter::Off, "dglab_relay::serve", Level::Error));
        assert!(!shown(LevelFilter::Trace, CORE_SAFETY_EVENTS, Level::Error));
    }

    /// Collects what the logger writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_line_per_record_timestamp_level_message() {
        let sink = Sink::default();
        let logger = builder(LevelFilter::Info, Target::Pipe(Box::new(sink.clone()))).build();
        for (level, text) in [(Level::Info, "listening"), (Level::Warn, "careful")] {
            logger.log(
                &Record::builder()
                    .target("dglab_relay::serve")
                    .level(level)
                    .args(format_args!("{text}"))
                    .build(),
            );
        }
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        for (line, rest) in lines.iter().zip(["INFO  listening", "WARN  careful"]) {
            // `2025-06-01T12:34:56.789Z INFO  listening`
            let (stamp, tail) = line.split_once(' ').unwrap();
            assert_eq!(tail, rest, "{line}");
            let b = stamp.as_bytes();
            assert_eq!(b.len(), 24, "{stamp}");
            for (i, c) in b.iter().enumerate() {
                match i {
                    4 | 7 => assert_eq!(*c, b'-', "{stamp}"),
                    10 => assert_eq!(*c, b'T', "{stamp}"),
                    13 | 16 => assert_eq!(*c, b':', "{stamp}"),
                    19 => assert_eq!(*c, b'.', "{stamp}"),
                    23 => assert_eq!(*c, b'Z', "{stamp}"),
                    _ => assert!(c.is_ascii_digit(), "{stamp}"),
                }
            }
        }
    }
}
