//! Core events, forwarded to the window with `app.emit`. The event names live here and are
//! mirrored once in `ui/js/backend.js`.
//!
//! The binding table is fed the relay's whole snapshot after each event that changes who is
//! connected or paired: a handful of rows, and the UI never has to patch its table from
//! partial events (nor fall out of step when a broadcast lags).

use dglab_core::relay::{ConnectionInfo, RelayEvent, Role};
use dglab_core::{RelayHandle, TerminalEvent, TerminalEvents};
use serde::Serialize;
use std::time::UNIX_EPOCH;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// Payload: `Vec<ConnectionView>`, every connection, oldest first.
pub const EVENT_CONNECTIONS: &str = "relay:connections";
/// Payload: [`TerminalView`], what our terminal heard (pairing, reports, feedback, …).
pub const EVENT_TERMINAL: &str = "terminal:event";
/// Payload: [`EstopView`], the emergency stop was latched or re-armed (from any source:
/// button, Escape, global shortcut).
pub const EVENT_ESTOP: &str = "safety:estop";

/// One row of the binding table, with plain numbers instead of `SystemTime`/`Duration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionView {
    /// The relay's id for the connection.
    pub id: Uuid,
    /// `app`, `terminal`, `local` or `unknown` (connected, never bound).
    pub role: Role,
    /// `ip:port`, or `None` for an in-process terminal.
    pub remote: Option<String>,
    /// Milliseconds since the Unix epoch; the UI counts "connected for" from it.
    pub connected_since_ms: u64,
    /// Last WebSocket ping round trip.
    pub rtt_ms: Option<f64>,
    /// Partner's id.
    pub paired_with: Option<Uuid>,
    /// Whether this is this window's own terminal (the one the QR code names).
    pub ours: bool,
}

impl ConnectionView {
    /// The view of one snapshot row; `ours` is the id of this app's terminal.
    pub fn new(info: &ConnectionInfo, ours: Uuid) -> Self {
        ConnectionView {
            id: info.id,
            role: info.role,
            remote: info.remote.map(|a| a.to_string()),
            connected_since_ms: info
                .connected_since
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            rtt_ms: info.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
            paired_with: info.paired_with,
            ours: info.id == ours,
        }
    }
}

/// Every connection now, as the table shows it.
pub fn connections(relay: &RelayHandle, ours: Uuid) -> Vec<ConnectionView> {
    relay
        .snapshot()
        .iter()
        .map(|c| ConnectionView::new(c, ours))
        .collect()
}

/// A terminal event in a shape the UI can read: the core's `TerminalEvent` with its
/// feedback button spelled out (index, channel and position among the channel's five).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TerminalView {
    /// An App paired with our terminal.
    Paired {
        /// Its id.
        app: Uuid,
    },
    /// The App's strengths and soft limits.
    Strength {
        /// A now.
        a: u8,
        /// B now.
        b: u8,
        /// A's soft limit.
        limit_a: u8,
        /// B's soft limit.
        limit_b: u8,
    },
    /// A feedback button was pressed.
    Feedback {
        /// Wire index 0..=9.
        index: u8,
        /// "A" or "B".
        channel: &'static str,
        /// 0..=4: ○ △ □ ☆ ⬡.
        position: u8,
    },
    /// The App left; the same QR code can be scanned again.
    AppLeft {
        /// Its id.
        app: Uuid,
    },
    /// The relay refused something we sent.
    Refused {
        /// The protocol code.
        code: u16,
    },
    /// Heartbeats and unknown messages, for the activity log only.
    Other {
        /// A few words.
        message: String,
    },
}

impl From<TerminalEvent> for TerminalView {
    fn from(ev: TerminalEvent) -> Self {
        match ev {
            TerminalEvent::Paired { app } => TerminalView::Paired { app },
            TerminalEvent::Strength(r) => TerminalView::Strength {
                a: r.a,
                b: r.b,
                limit_a: r.limit_a,
                limit_b: r.limit_b,
            },
            TerminalEvent::Feedback(f) => TerminalView::Feedback {
                index: f.index(),
                channel: f.channel().letter(),
                position: f.position(),
            },
            TerminalEvent::AppLeft { app } => TerminalView::AppLeft { app },
            TerminalEvent::Refused { code } => TerminalView::Refused { code },
            TerminalEvent::Heartbeat => TerminalView::Other {
                message: "heartbeat".into(),
            },
            TerminalEvent::Other { message } => TerminalView::Other { message },
            TerminalEvent::Closed => TerminalView::Other {
                message: "closed".into(),
            },
        }
    }
}

/// Payload of [`EVENT_ESTOP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EstopView {
    /// Latched (strength changes refused) or re-armed.
    pub stopped: bool,
}

/// Tells every window that the emergency stop was latched or re-armed.
pub fn emit_estop<R: Runtime>(app: &AppHandle<R>, stopped: bool) {
    if let Err(e) = app.emit(EVENT_ESTOP, EstopView { stopped }) {
        log::error!("emit {EVENT_ESTOP}: {e}");
    }
}

/// Spawns the two forwarding tasks; they end when the relay shuts down.
pub fn spawn_forwarders<R: Runtime>(
    app: AppHandle<R>,
    relay: RelayHandle,
    ours: Uuid,
    mut terminal: TerminalEvents,
) {
    let mut rx = relay.subscribe();
    let app2 = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                // Messages between pairs do not change the table; everything else may.
                Ok(RelayEvent::Relayed { .. }) => continue,
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => log::debug!("connection events lagged by {n}"),
                Err(RecvError::Closed) => break,
            }
            if let Err(e) = app2.emit(EVENT_CONNECTIONS, connections(&relay, ours)) {
                log::error!("emit {EVENT_CONNECTIONS}: {e}");
            }
        }
    });
    tauri::async_runtime::spawn(async move {
        while let Some(ev) = terminal.recv().await {
            match &ev {
                TerminalEvent::Paired { app } => log::info!("App {app} paired"),
                TerminalEvent::AppLeft { app } => log::info!("App {app} left"),
                _ => {}
            }
            if let Err(e) = app.emit(EVENT_TERMINAL, TerminalView::from(ev)) {
                log::error!("emit {EVENT_TERMINAL}: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use dglab_core::protocol::command::{FeedbackButton, StrengthReport};

    #[test]
    fn terminal_views_serialize_flat_for_the_ui() {
        let fb = TerminalView::from(TerminalEvent::Feedback(FeedbackButton::new(7).unwrap()));
        assert_eq!(
            serde_json::to_value(fb).unwrap(),
            serde_json::json!({"kind": "feedback", "index": 7, "channel": "B", "position": 2})
        );
        let st = TerminalView::from(TerminalEvent::Strength(StrengthReport {
            a: 1,
            b: 2,
            limit_a: 30,
            limit_b: 40,
        }));
        assert_eq!(
            serde_json::to_value(st).unwrap(),
            serde_json::json!({"kind": "strength", "a": 1, "b": 2, "limit_a": 30, "limit_b": 40})
        );
    }
}
