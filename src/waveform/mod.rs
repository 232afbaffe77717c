//! Waveforms: what the App plays, 100 ms at a time.
//!
//! - [`frame`]: one validated 100 ms frame and the Hz ↔ byte mapping.

pub mod frame;

pub use frame::{Frame, FrameError};
