//! The commands the UI invokes, one file per area. Each body fetches state, calls the core
//! and maps the error; the `generate_handler!` list stays in `lib.rs`.

pub mod app;
pub mod presets;
pub mod relay;
pub mod settings;
pub mod strength;
pub mod waveform;
