//! DG-LAB Hub's core: the whole product without a window.
//!
//! The DG-LAB App drives a Coyote 3.0 box and, for remote control, joins a WebSocket relay
//! ("SOCKET v2"). Terminals join the same relay, pair with the App through a QR code, then
//! send strength changes and waveforms. This crate is that relay, its terminals and the
//! waveform model; it knows nothing of Tauri.
//!
//! # Layout
//! - [`protocol`]: the wire protocol — envelope, codes, codec, typed commands.
//! - [`relay`]: the relay server — `start(listener, config)` → [`relay::RelayHandle`].
//! - [`terminal`]: terminal handles, in-process ([`terminal::local`]) or over a socket
//!   ([`terminal::remote`]).
//! - [`waveform`]: frames, the App's editable patterns and their exact expansion,
//!   `Dungeonlab+pulse:` share strings, the `wave` CLI, and [`waveform::player`], the
//!   per-channel streaming clock.
//! - [`presets`]: named waveforms in one JSON file, built-ins read-only, atomic writes.
//! - [`safety`]: the gate every strength change passes — caps, rise rate, emergency
//!   stop, watchdog — as [`safety::SafetyHub`] and [`safety::GuardedTerminal`].
//! - [`pairing`]: the pairing URL the App scans, LAN address choice, QR code (SVG and text).
//! - [`error`]: the crate's [`Error`].

pub mod error;
pub mod pairing;
pub mod presets;
pub mod protocol;
pub mod relay;
pub mod safety;
pub mod terminal;
pub mod waveform;

pub use error::{Error, Result};
pub use protocol::command::Channel;
pub use relay::{start, RelayConfig, RelayHandle};
pub use safety::{GuardedTerminal, SafetyConfig, SafetyHub};
pub use terminal::{Terminal, TerminalEvent, TerminalEvents};
pub use waveform::Frame;
