//! DG-LAB Hub's core: the whole product without a window.
//!
//! The DG-LAB App drives a Coyote 3.0 box and, for remote control, joins a WebSocket relay
//! ("SOCKET v2"). Terminals join the same relay, pair with the App through a QR code, then
//! send strength changes and waveforms. This crate is that relay, its terminals, the
//! safety gate and the waveform model; it knows nothing of Tauri.
//!
//! # Layers
//! Every import points down; `tests/layers.rs` fails the build's tests on one that does
//! not (docs/architecture.md draws it).
//!
//! 1. Ground, importing nothing of the crate but each other's types downwards:
//!    - [`protocol`]: the wire — envelope, codes, codec, typed commands and the 100 ms
//!      pulse [`protocol::frame`].
//!    - [`pairing`]: the pairing URL the App scans, LAN address choice, QR code.
//!    - [`fs`]: the one atomic file write (presets here, settings in the desktop shell).
//! 2. On the wire:
//!    - [`relay`]: the relay server — `start(listener, config)` → [`relay::RelayHandle`];
//!      knows nothing of terminals or safety and offers a seam for in-process endpoints
//!      ([`relay::LocalEndpoint`], [`relay::LocalLink`]).
//!    - [`waveform`]: the App's editable model ([`waveform::pattern`]) and its
//!      `Dungeonlab+pulse:` share strings ([`waveform::share`]).
//! 3. Controllers:
//!    - [`terminal`]: the typed terminal handle, in-process ([`Terminal::local`]) or over a
//!      socket ([`terminal::remote`]).
//!    - [`presets`]: named waveforms in one JSON file, built-ins read-only, atomic writes.
//!    - [`safety`]: the gate every strength change passes — caps, rise rate, emergency
//!      stop, watchdog — as [`safety::SafetyHub`] and [`safety::GuardedTerminal`].
//!    - [`player`]: the per-channel streaming clock that keeps the App's queue fed.
//!    - [`virtual_app`]: a simulated Coyote App that pairs through a real socket and plays
//!      what it is sent ("try without a phone", and the tests' phone).
//!    - [`gamehub`]: the Game-Hub-compatible HTTP API and the game output loop it
//!      drives, through the player and the gate.
//! 4. Top, outside this library: the `dglab-relay` binary (`src/bin/dglab-relay/`) and
//!    the desktop shell (`src-tauri/`).

pub mod fs;
pub mod gamehub;
pub mod pairing;
pub mod player;
pub mod presets;
pub mod protocol;
pub mod relay;
pub mod safety;
pub mod terminal;
pub mod virtual_app;
pub mod waveform;

pub use protocol::command::Channel;
pub use protocol::Frame;
pub use relay::{start, RelayConfig, RelayHandle};
pub use safety::{GuardedTerminal, SafetyConfig, SafetyHub};
pub use terminal::{Terminal, TerminalEvent, TerminalEvents};
