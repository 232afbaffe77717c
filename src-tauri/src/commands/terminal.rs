//! Our terminal: strength and the emergency stop.
//!
//! TEMPORARY: every strength here goes straight to the terminal, guarded only by the
//! shell's emergency latch. When the core's safety gate is merged these calls go through
//! `SafetyHub` (caps, rise rate, emergency stop) instead.

use crate::error::{CommandError, CommandResult};
use crate::events;
use crate::state::AppState;
use dglab_core::protocol::command::{Channel, StrengthReport};
use dglab_core::terminal::Direction;
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime, State};
use uuid::Uuid;

/// What the strength panel needs on first draw.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalStatus {
    /// Our terminal's id.
    pub id: Uuid,
    /// The paired App, if any.
    pub app: Option<Uuid>,
    /// The App's last report since it paired.
    pub report: Option<StrengthReport>,
    /// Whether the emergency stop is latched.
    pub stopped: bool,
}

fn refuse_when_stopped(state: &AppState) -> CommandResult<()> {
    if state.estop.is_stopped() {
        return Err(CommandError::new(
            "stopped",
            "Emergency stop is on: re-arm before changing strength.",
        ));
    }
    Ok(())
}

/// Pairing, last report and latch, for the first draw.
#[tauri::command]
pub fn terminal_status(state: State<'_, AppState>) -> TerminalStatus {
    TerminalStatus {
        id: state.terminal.id(),
        app: state.terminal.app(),
        report: state.terminal.last_report(),
        stopped: state.estop.is_stopped(),
    }
}

/// Sets a channel to an absolute strength (0..=200).
///
/// # Errors
/// `stopped` while the emergency stop is latched; `not_paired`, `out_of_range`, … from the terminal.
#[tauri::command]
pub fn set_strength(state: State<'_, AppState>, channel: Channel, value: u8) -> CommandResult<()> {
    refuse_when_stopped(&state)?;
    Ok(state.terminal.set_strength(channel, value)?)
}

/// Moves a channel one step (±1 at the App).
///
/// # Errors
/// As [`set_strength`].
#[tauri::command]
pub fn step_strength(
    state: State<'_, AppState>,
    channel: Channel,
    direction: Direction,
) -> CommandResult<()> {
    refuse_when_stopped(&state)?;
    Ok(state.terminal.step(channel, direction)?)
}

/// Emergency stop: latch, both channels to 0, both queues cleared; tells every window.
/// Shared by the command (button, Escape) and the global shortcut.
pub fn stop_everything<R: Runtime>(app: &AppHandle<R>) -> bool {
    let state = app.state::<AppState>();
    let sent = state.emergency_stop();
    events::emit_estop(app, true);
    sent
}

/// The stop button and the Escape key. Returns whether every command reached the App
/// (`false` when no App is paired: the latch is set all the same).
#[tauri::command]
pub fn emergency_stop<R: Runtime>(app: AppHandle<R>) -> bool {
    stop_everything(&app)
}

/// Releases the emergency latch. Strength stays at 0 until the user moves it.
#[tauri::command]
pub fn rearm<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) {
    state.estop.rearm();
    log::info!("emergency stop re-armed");
    events::emit_estop(&app, false);
}
