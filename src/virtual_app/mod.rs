//! A simulated Coyote 3.0 App: "try without a phone", and the phone the tests use.
//!
//! [`VirtualApp::connect`] does what the DG-LAB App does after scanning a pairing QR code,
//! over a real WebSocket: connect to `ws://host:port/<terminal id>`, take the id the relay
//! hands out, bind with the terminal. It then answers like the App (docs/protocol.md):
//!
//! - `strength-N+M+V`: set / one step up / one step down, never above the soft limit the
//!   user picked ([`VirtualApp::set_soft_limits`]); after every strength command, every
//!   soft-limit change and once after binding it reports `strength-a+b+softA+softB`;
//! - `pulse-A|B:[…]`: frames join that channel's queue, at most 500, the rest dropped and
//!   counted; `clear-N` empties it; each channel plays one frame every 100 ms;
//! - frames over 1950 characters and malformed commands are ignored without a word;
//! - heartbeats are answered; `break` 209 (the terminal left) ends the connection, as the
//!   App goes back to its scanner;
//! - [`VirtualApp::press_feedback`] sends `feedback-N`.
//!
//! Every tick it emits [`VirtualAppEvent::Played`] per channel (strength and the frame's
//! four frequency/intensity quarters), from which a window draws what the box would do.
//! Everything is bounded: the queues (500), the event buffer, the history (one minute), the
//! outgoing queue, and the largest frame read from the relay.
//!
//! The module sits on floor 2: it uses the protocol (and, through the socket, talks to any
//! relay), never the relay or the terminal in-process, so what it proves about pairing is
//! what a phone would see.

mod connection;
mod event;
mod model;
mod queue;
mod scan;
mod timeline;

pub use event::{
    ChannelState, DisconnectReason, IgnoredReason, Played, VirtualAppEvent, VirtualAppState,
};
pub use queue::APP_QUEUE_FRAMES;
pub use timeline::{FRAME_TIME, HISTORY_TICKS};

use crate::protocol::command::{FeedbackButton, MAX_STRENGTH};
use connection::{Outbound, Shared};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How the virtual App starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualAppConfig {
    /// Channel A's soft limit, 0..=200.
    pub soft_limit_a: u8,
    /// Channel B's soft limit, 0..=200.
    pub soft_limit_b: u8,
    /// How often each channel plays a frame: the App's 100 ms. Tests may slow it down
    /// to look at a full queue before it drains.
    pub tick: Duration,
    /// How long each step of the connection (connect, id, bind) may take.
    pub timeout: Duration,
}

impl Default for VirtualAppConfig {
    fn default() -> Self {
        VirtualAppConfig {
            soft_limit_a: 100,
            soft_limit_b: 100,
            tick: FRAME_TIME,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why the virtual App could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VirtualAppError {
    /// The text is no pairing code: no `ws://…/<terminal id>` in it (the App's 210).
    #[error("this is not a DG-LAB pairing code: no ws:// address with a terminal id (210)")]
    InvalidQr,
    /// The connection to the relay failed.
    #[error("could not connect to the relay: {0}")]
    Connect(String),
    /// Connected, but the relay never handed out an id (the App's 211).
    #[error("the relay did not hand out an id (211)")]
    NoId,
    /// The relay refused the bind: 400 already paired, 401 terminal not connected, …
    #[error("the relay refused the pairing with code {0}")]
    BindRefused(u16),
    /// A step of the connection took too long.
    #[error("timed out waiting for the relay: {0}")]
    Timeout(&'static str),
    /// Soft limits are 0..=200.
    #[error("soft limit {0} is out of range 0..=200")]
    SoftLimitOutOfRange(u16),
    /// Feedback buttons are 0..=9.
    #[error("feedback button {0} does not exist (0..=9)")]
    NoSuchButton(u8),
    /// A frame tick of zero.
    #[error("the tick must be at least 1 ms")]
    ZeroTick,
    /// The connection has ended.
    #[error("the virtual App is disconnected")]
    Closed,
    /// Too many reports or presses waiting to go out.
    #[error("the virtual App's send queue is full")]
    Busy,
}

impl VirtualAppError {
    /// The protocol code the App would show for this failure, where there is one.
    pub fn code(&self) -> Option<u16> {
        match self {
            VirtualAppError::InvalidQr => Some(210),
            VirtualAppError::NoId => Some(211),
            VirtualAppError::BindRefused(c) => Some(*c),
            _ => None,
        }
    }
}

fn check_limit(v: u8) -> Result<u8, VirtualAppError> {
    if v > MAX_STRENGTH {
        return Err(VirtualAppError::SoftLimitOutOfRange(v.into()));
    }
    Ok(v)
}

/// A running virtual App. Dropping it (or [`VirtualApp::close`]) disconnects it; the
/// terminal then gets `break` 209 from the relay.
#[derive(Debug)]
pub struct VirtualApp {
    shared: Arc<Shared>,
}

impl VirtualApp {
    /// Scans `qr_or_ws_url` (the QR text, or the `ws://host:port/<terminal id>` in it),
    /// connects, binds and starts playing.
    ///
    /// # Errors
    /// [`VirtualAppError`]: not a pairing code (210), connection failed, no id (211), bind
    /// refused (its code), timed out, or a config value out of range.
    pub async fn connect(
        qr_or_ws_url: &str,
        config: VirtualAppConfig,
    ) -> Result<VirtualApp, VirtualAppError> {
        check_limit(config.soft_limit_a)?;
        check_limit(config.soft_limit_b)?;
        if config.tick < Duration::from_millis(1) {
            return Err(VirtualAppError::ZeroTick);
        }
        let shared = connection::connect(qr_or_ws_url, &config).await?;
        Ok(VirtualApp { shared })
    }

    /// The user moved the App's soft limits: strengths above them come down, and the
    /// terminal gets a report.
    ///
    /// # Errors
    /// A limit over 200, the connection has ended, or the send queue is full.
    pub fn set_soft_limits(&self, a: u8, b: u8) -> Result<(), VirtualAppError> {
        let limits = [check_limit(a)?, check_limit(b)?];
        let mut model = self.shared.model();
        if !model.connected() {
            return Err(VirtualAppError::Closed);
        }
        // Changed under the lock the socket task reads with, and the report is built when
        // it goes out: the terminal's last report is always the current state.
        self.push(Outbound::Report)?;
        let _ = model.set_soft_limits(limits);
        Ok(())
    }

    /// Presses feedback button `n` (0..=4 channel A's shapes, 5..=9 channel B's).
    ///
    /// # Errors
    /// No such button, the connection has ended, or the send queue is full.
    pub fn press_feedback(&self, n: u8) -> Result<(), VirtualAppError> {
        let button = FeedbackButton::new(n).ok_or(VirtualAppError::NoSuchButton(n))?;
        if !self.shared.model().connected() {
            return Err(VirtualAppError::Closed);
        }
        self.push(Outbound::Feedback(button.index()))
    }

    fn push(&self, job: Outbound) -> Result<(), VirtualAppError> {
        self.shared.out.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => VirtualAppError::Busy,
            mpsc::error::TrySendError::Closed(_) => VirtualAppError::Closed,
        })
    }

    /// Strengths, soft limits, queues and counters now.
    pub fn state(&self) -> VirtualAppState {
        self.shared.model().state()
    }

    /// Everything from now on; a watcher that falls more than ~1000 events behind loses the
    /// oldest (`RecvError::Lagged`), never slows the App.
    pub fn subscribe(&self) -> broadcast::Receiver<VirtualAppEvent> {
        self.shared.subscribe()
    }

    /// The last minute of ticks, both channels, oldest first.
    pub fn recent(&self) -> Vec<Played> {
        self.shared.history().recent()
    }

    /// Disconnects (the terminal gets `break` 209). Idempotent.
    pub fn close(&self) {
        self.shared.stop.cancel();
    }

    /// Waits until the connection has ended, for whatever reason, and the last event is out.
    pub async fn closed(&self) {
        self.shared.finished.cancelled().await;
    }
}

impl Drop for VirtualApp {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}
