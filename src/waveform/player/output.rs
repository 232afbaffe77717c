//! Where a player's pulses go.
//!
//! The player only needs three things from a terminal: append frames, clear a channel,
//! and know how many frames fit in one message. Keeping that behind [`PulseOutput`] lets
//! tests and the `player_sim` bench stand a simulated App (network delay, 500-frame
//! queue, 100 ms clock) where a [`Terminal`] would be, and lets a safety gate wrap a
//! terminal later without the player knowing.

use crate::protocol::command::{Channel, MAX_PULSE_FRAMES};
use crate::terminal::{Terminal, TerminalError};
use crate::waveform::Frame;
use std::sync::Arc;

/// A non-blocking sink for pulse commands to one App.
///
/// The player calls these while holding its own lock (that is what makes `stop()`
/// final), so implementations must return promptly, must not `.await` or block on I/O,
/// and must never call back into a `Player`.
pub trait PulseOutput: Send + Sync + 'static {
    /// Appends `frames` (at most [`PulseOutput::max_frames`]) to `channel`'s queue at the App.
    ///
    /// # Errors
    /// [`TerminalError`] when the command was not queued for delivery (not paired,
    /// link closed or congested, refused, too long).
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), TerminalError>;

    /// Empties `channel`'s queue at the App (`clear-1` / `clear-2`).
    ///
    /// # Errors
    /// [`TerminalError`] when the command was not queued for delivery.
    fn clear(&self, channel: Channel) -> Result<(), TerminalError>;

    /// Most frames one [`PulseOutput::add_pulses`] call may carry so the message stays
    /// within the App's 1950-character limit.
    fn max_frames(&self) -> usize;
}

impl PulseOutput for Terminal {
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), TerminalError> {
        Terminal::add_pulses(self, channel, frames)
    }

    fn clear(&self, channel: Channel) -> Result<(), TerminalError> {
        Terminal::clear(self, channel)
    }

    fn max_frames(&self) -> usize {
        self.max_pulse_frames().min(MAX_PULSE_FRAMES)
    }
}

impl<T: PulseOutput + ?Sized> PulseOutput for Arc<T> {
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), TerminalError> {
        (**self).add_pulses(channel, frames)
    }

    fn clear(&self, channel: Channel) -> Result<(), TerminalError> {
        (**self).clear(channel)
    }

    fn max_frames(&self) -> usize {
        (**self).max_frames()
    }
}
