//! Waveforms: what the App plays, 100 ms at a time.
//!
//! - [`frame`]: one validated 100 ms frame and the Hz ↔ byte mapping.
//! - [`pattern`]: the App's editable model (sections of intensity points, frequency modes)
//!   and its exact expansion into frames.
//! - [`share`]: `Dungeonlab+pulse:` share strings ↔ pattern, lenient or strict.
//! - [`player`]: streams frames to one channel of the App, gap-free, with clean stop/switch.

pub mod frame;
pub mod pattern;
pub mod player;
pub mod share;

pub use frame::{Frame, FrameError};
pub use pattern::{
    Balance, DurationIndex, FreqIndex, FrequencyMode, Pattern, PatternError, PlayRate, Point,
    PointValue, Rest, Section,
};
