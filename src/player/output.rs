//! Where a player's pulses go.
//!
//! The player only needs three things from a terminal: append frames, clear a channel,
//! and know how many frames fit in one message. Keeping that behind [`PulseOutput`] lets
//! tests and the `player_sim` bench stand a simulated App (network delay, 500-frame
//! queue, 100 ms clock) where a [`Terminal`] would be, and lets the safety gate
//! ([`GuardedTerminal`]) sit between the player and the terminal: the errors are
//! [`SafetyError`]s because the gate may refuse pulses (emergency stop latched, lease
//! lapsed); a bare terminal's own errors arrive as [`SafetyError::Terminal`].

use crate::protocol::command::{Channel, MAX_PULSE_FRAMES};
use crate::protocol::Frame;
use crate::safety::{GuardedTerminal, SafetyError};
use crate::terminal::Terminal;
use std::sync::Arc;

/// A non-blocking sink for pulse commands to one App.
///
/// The player calls these while holding its own lock (that is what makes `stop()`
/// final), so implementations must return promptly, must not `.await` or block on I/O,
/// and must never call back into a `Player` (nor into anything that does, such as
/// [`crate::SafetyHub::emergency_stop`], whose stop hooks take the player's lock).
pub trait PulseOutput: Send + Sync + 'static {
    /// Appends `frames` (at most [`PulseOutput::max_frames`]) to `channel`'s queue at the App.
    ///
    /// # Errors
    /// [`SafetyError::Latched`] / [`SafetyError::LeaseLapsed`] when a gate refuses;
    /// [`SafetyError::Terminal`] when the command was not queued for delivery (not
    /// paired, link closed or congested, refused, too long).
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), SafetyError>;

    /// Empties `channel`'s queue at the App (`clear-1` / `clear-2`). A gate always lets
    /// a clear through: it only makes things quieter.
    ///
    /// # Errors
    /// [`SafetyError::Terminal`] when the command was not queued for delivery.
    fn clear(&self, channel: Channel) -> Result<(), SafetyError>;

    /// Most frames one [`PulseOutput::add_pulses`] call may carry so the message stays
    /// within the App's 1950-character limit.
    fn max_frames(&self) -> usize;

    /// Whether pulses on `channel` would be refused right now for a reason that does not
    /// pass by itself (a latched emergency stop, a lapsed lease), so that
    /// [`super::Player::play`] can fail at once instead of later on the driver's clock.
    /// The default (a bare terminal, a simulator) never refuses here; `add_pulses`
    /// still has the last word.
    ///
    /// # Errors
    /// The refusal `add_pulses` would return.
    fn ready(&self, channel: Channel) -> Result<(), SafetyError> {
        let _ = channel;
        Ok(())
    }
}

impl PulseOutput for Terminal {
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), SafetyError> {
        Ok(Terminal::add_pulses(self, channel, frames)?)
    }

    fn clear(&self, channel: Channel) -> Result<(), SafetyError> {
        Ok(Terminal::clear(self, channel)?)
    }

    fn max_frames(&self) -> usize {
        self.max_pulse_frames().min(MAX_PULSE_FRAMES)
    }
}

/// The production path: every pulse passes the gate, which refuses them while the
/// emergency stop is latched or the lease has lapsed.
impl PulseOutput for GuardedTerminal {
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), SafetyError> {
        GuardedTerminal::add_pulses(self, channel, frames)
    }

    fn clear(&self, channel: Channel) -> Result<(), SafetyError> {
        GuardedTerminal::clear(self, channel)
    }

    fn max_frames(&self) -> usize {
        self.max_pulse_frames().min(MAX_PULSE_FRAMES)
    }

    fn ready(&self, channel: Channel) -> Result<(), SafetyError> {
        self.check_pulses(channel)
    }
}

impl<T: PulseOutput + ?Sized> PulseOutput for Arc<T> {
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), SafetyError> {
        (**self).add_pulses(channel, frames)
    }

    fn clear(&self, channel: Channel) -> Result<(), SafetyError> {
        (**self).clear(channel)
    }

    fn max_frames(&self) -> usize {
        (**self).max_frames()
    }

    fn ready(&self, channel: Channel) -> Result<(), SafetyError> {
        (**self).ready(channel)
    }
}
