//! Waveforms as the App models them: what it plays, 100 ms at a time.
//!
//! The frames themselves are the wire's ([`crate::protocol::frame`]); streaming them to an
//! App is the player's (`player/`, a floor above); this module is the model only.
//!
//! - [`pattern`]: the App's editable model (sections of intensity points, frequency modes)
//!   and its exact expansion into frames.
//! - [`share`]: `Dungeonlab+pulse:` share strings ↔ pattern, lenient or strict.

pub mod pattern;
pub mod share;

pub use pattern::{
    Balance, DurationIndex, FreqIndex, FrequencyMode, Pattern, PatternError, PlayRate, Point,
    PointValue, Rest, Section,
};
