//! What the virtual App tells whoever watches it (the window draws these), and its state.

use crate::protocol::command::{Channel, StrengthReport};
use crate::protocol::Frame;
use serde::Serialize;

/// One 100 ms tick of one channel: what the box would output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Played {
    /// The App's clock: milliseconds since it connected, a whole number of ticks.
    pub at_ms: u64,
    /// Which channel.
    pub channel: Channel,
    /// The channel's strength during this tick (0..=200).
    pub strength: u8,
    /// The frame that played, or `None` when the queue was empty (no output).
    pub frame: Option<Frame>,
}

/// Why the virtual App ignored a frame from the relay, as the App does without a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoredReason {
    /// Longer than the App's 1950 characters.
    TooLong,
    /// Not JSON, not a protocol envelope, or a `msg` that is no command the App obeys.
    Malformed,
    /// A command naming ids that are not this App's pairing.
    NotOurs,
}

/// How the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The terminal left: `break` 209. The App drops the connection and shows the scanner.
    TerminalLeft,
    /// The relay closed the socket, or it failed.
    RelayClosed,
    /// [`super::VirtualApp::close`] (or the handle was dropped).
    Closed,
}

/// Everything the virtual App does, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VirtualAppEvent {
    /// Every tick, once per channel, frame or not.
    Played(Played),
    /// The App sent its strengths and soft limits to the terminal (after every strength
    /// command, a soft-limit change, and once after binding).
    Strength(StrengthReport),
    /// A `pulse-` message joined a channel's queue.
    Queued {
        /// Which channel.
        channel: Channel,
        /// Frames that fit.
        added: usize,
        /// Frames dropped because the queue held 500.
        dropped: usize,
        /// Queue length afterwards.
        queued: usize,
    },
    /// `clear-N` emptied a queue.
    Cleared {
        /// Which channel.
        channel: Channel,
        /// Frames that were waiting.
        discarded: usize,
    },
    /// A feedback button was pressed and sent to the terminal.
    Feedback {
        /// The wire index 0..=9.
        button: u8,
    },
    /// A frame the App ignored.
    Ignored {
        /// Why.
        reason: IgnoredReason,
        /// Its length in UTF-16 units, as the App counts.
        chars: usize,
    },
    /// The relay's heartbeat, answered.
    Heartbeat,
    /// The relay sent a code (402 not paired, 404, 500, …) instead of a command.
    RelayCode {
        /// The code.
        code: u16,
    },
    /// The connection ended; no more events follow.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// The break code when there was one (209).
        code: Option<u16>,
    },
}

/// One channel's state at the App.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ChannelState {
    /// Current strength, 0..=200, never above `soft_limit`.
    pub strength: u8,
    /// The soft limit the user picked, 0..=200.
    pub soft_limit: u8,
    /// Frames waiting (0..=500).
    pub queued: usize,
    /// Frames dropped since connecting because the queue was full.
    pub dropped: u64,
    /// Frames played since connecting.
    pub played: u64,
}

/// A snapshot of the virtual App.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualAppState {
    /// The socket to the relay is open.
    pub connected: bool,
    /// Paired with the terminal.
    pub bound: bool,
    /// The App's id, as the relay handed it out.
    pub app_id: String,
    /// The terminal's id, from the QR code.
    pub terminal_id: String,
    /// Channel A.
    pub a: ChannelState,
    /// Channel B.
    pub b: ChannelState,
    /// Frames ignored for being over 1950 characters.
    pub ignored_too_long: u64,
    /// Frames ignored as malformed or not addressed to this pairing.
    pub ignored_other: u64,
}

impl VirtualAppState {
    /// One channel's state.
    pub fn channel(&self, channel: Channel) -> &ChannelState {
        match channel {
            Channel::A => &self.a,
            Channel::B => &self.b,
        }
    }
}
