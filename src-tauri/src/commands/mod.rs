//! The commands the UI invokes, one file per area. Each body fetches state, calls the core
//! and maps the error; the `generate_handler!` list stays in `lib.rs`.
//!
//! Tauri runs a plain (non-`async`) command on the main thread, one after another. The
//! emergency stop must never wait there behind a disk write, so every command that touches
//! a file (presets, settings) is `async` and does its I/O on a blocking thread
//! ([`off_main`]); the stop itself is `async` too, so it does not even queue behind a
//! window event.

pub mod app;
pub mod doctor;
pub mod inspector;
// The game API's panel (issue 15 point 5).
pub mod games;
pub mod presets;
pub mod relay;
pub mod settings;
pub mod strength;
// DG-LAB App 4.x (issue 13 point 4).
pub mod v4;
// "Try without a phone" (issue 14).
pub mod virtual_app;
pub mod waveform;

use crate::error::{CommandError, CommandResult};
use crate::notice::Kind;
use crate::state::AppState;
use tauri::{AppHandle, Manager, Runtime};

/// Runs `work` with the app's state on Tokio's blocking pool, off the main thread and off
/// the async workers.
///
/// # Errors
/// `work`'s; `io` if the state is missing or the blocking task died (logged).
pub(crate) async fn off_main<R: Runtime, T: Send + 'static>(
    app: AppHandle<R>,
    what: &'static str,
    work: impl FnOnce(&AppState) -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(move || match app.try_state::<AppState>() {
        Some(state) => work(&state),
        None => Err(CommandError::new(Kind::Io).with("what", what)),
    })
    .await
    .unwrap_or_else(|e| {
        log::error!("{what}: blocking task failed: {e}");
        Err(CommandError::new(Kind::Io).with("what", what))
    })
}
