//! Waveforms: what the App plays, 100 ms at a time.
//!
//! - [`frame`]: one validated 100 ms frame and the Hz ↔ byte mapping.
//! - [`pattern`]: the App's editable model (sections of intensity points, frequency modes)
//!   and its exact expansion into frames.
//! - [`share`]: `Dungeonlab+pulse:` share strings ↔ pattern, lenient or strict.
//! - [`cli`]: `dglab-relay wave frames|check` as a function the binary calls.
//! - [`player`]: streams frames to one channel of the App, gap-free, with clean stop/switch.

pub mod cli;
pub mod frame;
pub mod pattern;
pub mod player;
pub mod share;

pub use cli::wave_cli;
pub use frame::{Frame, FrameError};
pub use pattern::{
    Balance, DurationIndex, FreqIndex, FrequencyMode, Pattern, PatternError, PlayRate, Point,
    PointValue, Rest, Section,
};
