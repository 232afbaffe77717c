//! A tiny stderr logger behind the `log` facade: one line per record,
//! `2025-06-01T12:34:56.789Z INFO  message`.
//!
//! The level comes from `DGLAB_LOG` (`off`, `error`, `warn`, `info`, `debug`, `trace`;
//! default `info`). Records from other crates (tungstenite's handshake chatter) are shown
//! only up to `info`, except at `trace`, so `debug` stays about the relay itself. A full
//! `env_logger` would bring a regex engine for what is one variable and five words.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that sets the level.
pub const ENV_VAR: &str = "DGLAB_LOG";

/// The core's own one-line record of each safety event. `serve` subscribes to the hub
/// and logs the same events in plain words, so these would be duplicates.
const CORE_SAFETY_EVENTS: &str = "dglab_core::safety::event";

struct StderrLogger {
    /// The most verbose level shown for this program and `dglab_core`.
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        if meta.target() == CORE_SAFETY_EVENTS {
            return false;
        }
        let own = meta.target().starts_with("dglab");
        let max = if own || self.level == LevelFilter::Trace {
            self.level
        } else {
            self.level.min(LevelFilter::Info)
        };
        meta.level() <= max
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:<5} {}\n",
            utc_timestamp(SystemTime::now()),
            record.level(),
            record.args()
        );
        // One write per line, so lines from different threads never interleave; a closed
        // stderr is no reason to crash a relay.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

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
    // set_boxed_logger fails only if a logger is already set, which main never does twice.
    if log::set_boxed_logger(Box::new(StderrLogger { level })).is_ok() {
        log::set_max_level(level);
    }
    warning
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC: no time-zone database needed, and unambiguous in
/// logs copied between machines.
pub fn utc_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Whether debug records will be shown (relayed messages are only formatted then).
pub fn debug_enabled() -> bool {
    log::log_enabled!(target: "dglab_relay", Level::Debug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789); // leap day 2000
        assert_eq!(utc_timestamp(t), "2000-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_767_225_599); // last second of 2025
        assert_eq!(utc_timestamp(t), "2025-12-31T23:59:59.000Z");
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level(" WARN "), Some(LevelFilter::Warn));
        assert_eq!(parse_level("off"), Some(LevelFilter::Off));
        assert_eq!(parse_level("loud"), None);
    }
}
