//! The relay's own log lines: peer-supplied text made harmless, and writing that never
//! blocks the relay.
//!
//! - Anything a peer chose (ids, messages) goes through [`escape`] before it reaches a line:
//!   control characters (newlines above all, which would let a peer forge whole lines),
//!   quotes, backslashes and bidirectional overrides are escaped, and the text is cut short.
//! - The relay never calls the `log` facade itself from a socket task or under a lock: it
//!   hands the finished line to [`line`], which queues it (bounded) for one logging thread.
//!   A stderr that does not drain then only stalls that thread; when its queue is full,
//!   lines are dropped and counted, and the count is logged once the output moves again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

/// Longest id (a UUID is 36 characters) shown in a log line or an event.
pub const MAX_ID_CHARS: usize = 64;

/// Longest peer text shown in a log line.
pub const MAX_TEXT_CHARS: usize = 200;

/// Lines waiting for the logging thread before further ones are dropped.
const QUEUE: usize = 1024;

/// The `log` target of the relay's lines.
const TARGET: &str = "dglab_core::relay";

/// `s` made safe for one log line: at most `max_chars` characters of it, with control and
/// invisible formatting characters, quotes and backslashes escaped (`\n`, `\u{202e}`, …),
/// and a note of how much was cut.
pub fn escape(s: &str, max_chars: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len().min(max_chars) + 8);
    for (n, (i, c)) in s.char_indices().enumerate() {
        if n == max_chars {
            let _ = write!(out, "…(+{} bytes)", s.len() - i);
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() || is_invisible_format(c) => {
                for e in c.escape_default() {
                    out.push(e);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Line/paragraph separators, bidirectional controls and zero-width characters: not
/// `is_control`, yet able to make a line read as something else.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

static SENDER: OnceLock<Option<SyncSender<(log::Level, String)>>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Whether a line at `level` would be shown (skip formatting it otherwise).
pub(crate) fn enabled(level: log::Level) -> bool {
    log::log_enabled!(target: TARGET, level)
}

/// Queues one finished line for the logging thread; never waits.
pub(crate) fn line(level: log::Level, text: String) {
    if !enabled(level) {
        return;
    }
    let sender = SENDER.get_or_init(|| {
        let (tx, rx) = sync_channel::<(log::Level, String)>(QUEUE);
        std::thread::Builder::new()
            .name("dglab-relay-log".into())
            .spawn(move || {
                for (level, text) in rx {
                    let dropped = DROPPED.swap(0, Ordering::Relaxed);
                    if dropped > 0 {
                        log::warn!(target: TARGET, "{dropped} relay log line(s) dropped: the log output was not keeping up");
                    }
                    log::log!(target: TARGET, level, "{text}");
                }
            })
            .ok()
            .map(|_| tx)
    });
    match sender {
        Some(tx) => match tx.try_send((level, text)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        },
        // No thread could be started: dropping the line beats blocking the relay.
        None => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_defuses_forged_lines_and_cuts_long_text() {
        let forged = "x\n2026-01-01T00:00:00.000Z INFO  bind App a to terminal t: 200 paired";
        let e = escape(forged, 200);
        assert!(!e.contains('\n'));
        assert!(e.starts_with("x\\n2026"));
        assert_eq!(escape("a\"b\\c\u{202e}", 10), "a\\\"b\\\\c\\u{202e}");
        let long = "é".repeat(100);
        let e = escape(&long, 10);
        assert_eq!(e, format!("{}…(+180 bytes)", "é".repeat(10)));
        let id = "0b6e1c3a-2f5d-4c1e-9a7b-3d2e1f0a9b8c";
        assert_eq!(escape(id, MAX_ID_CHARS), id);
    }
}
