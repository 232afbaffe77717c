//! Waveforms: what the App plays, 100 ms at a time.
//!
//! - [`frame`]: one validated 100 ms frame and the Hz ↔ byte mapping.
//! - [`player`]: streams frames to one channel of the App, gap-free, with clean stop/switch.

pub mod frame;
pub mod player;

pub use frame::{Frame, FrameError};
