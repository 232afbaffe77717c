//! Strength through the safety gate, the emergency stop and the watchdog lease; the stop's
//! state App by App and the recent safety events.

use crate::audit::{Logged, StopView};
use crate::error::CommandResult;
use crate::events::{self, GateView};
use crate::state::AppState;
use dglab_core::protocol::command::Channel;
use dglab_core::safety::{Outcome, StopReport};
use dglab_core::terminal::Direction;
use tauri::{AppHandle, Manager, Runtime, State};

/// The strength panel's state for its first draw; later changes arrive as events.
#[tauri::command]
pub fn strength_state(state: State<'_, AppState>) -> GateView {
    events::gate_view(&state.guarded, &state.safety)
}

/// Aims a channel at an absolute strength. The gate clamps it to the cap and the App's soft
/// limit and climbs to it at the rise rate; the outcome says where it is headed.
///
/// # Errors
/// `stopped` while latched, `not_paired`, `out_of_range`, …
#[tauri::command]
pub fn set_strength(
    state: State<'_, AppState>,
    channel: Channel,
    value: u8,
) -> CommandResult<Outcome> {
    Ok(state.guarded.set_strength(channel, value)?)
}

/// Moves a channel's target one step (the App still receives an absolute value).
///
/// # Errors
/// As [`set_strength`].
#[tauri::command]
pub fn step_strength(
    state: State<'_, AppState>,
    channel: Channel,
    direction: Direction,
) -> CommandResult<Outcome> {
    Ok(state.guarded.step(channel, direction)?)
}

/// Emergency stop through the core: latch, 0/0/clear/clear to the App, both players
/// stopped. Shared by the command (button, Escape) and the global shortcut.
pub fn stop_everything<R: Runtime>(app: &AppHandle<R>) -> Option<StopReport> {
    let state = app.try_state::<AppState>()?;
    Some(state.safety.emergency_stop())
}

/// The stop button and the Escape key. The safety event tells every window. `async` so it
/// runs on the runtime's workers, never queued behind another command on the main thread.
#[tauri::command]
pub async fn emergency_stop<R: Runtime>(app: AppHandle<R>) -> Option<StopReport> {
    stop_everything(&app)
}

/// Where the last stop stands, App by App (`None` while armed); later changes arrive as
/// [`events::EVENT_STOP`].
#[tauri::command]
pub fn stop_status(state: State<'_, AppState>) -> Option<StopView> {
    state.audit.stop()
}

/// The last safety events (at most [`crate::audit::RECENT`]), oldest first; later ones
/// arrive as [`events::EVENT_SAFETY`].
#[tauri::command]
pub fn recent_safety_events(state: State<'_, AppState>) -> Vec<Logged> {
    state.audit.recent()
}

/// Switches "follow the App's soft limit" for one channel, in the core gate: the channel
/// then aims at the soft limit whenever it changes, still capped and ramped. Refused while
/// stopped; any stop or pairing switches it off (the gate says so as a safety event).
///
/// # Errors
/// `stopped` while latched, `watchdog` while the lease is lapsed.
#[tauri::command]
pub fn set_follow_soft_limit(
    state: State<'_, AppState>,
    channel: Channel,
    on: bool,
) -> CommandResult<GateView> {
    state.guarded.set_follow_soft_limit(channel, on)?;
    Ok(events::gate_view(&state.guarded, &state.safety))
}

/// Releases the emergency latch; every target stays 0.
#[tauri::command]
pub fn rearm(state: State<'_, AppState>) {
    state.safety.rearm();
}

/// The window's heartbeat: while it keeps calling, the watchdog stays quiet; if the window
/// freezes, output goes to 0 within the lease.
#[tauri::command]
pub fn renew_lease(state: State<'_, AppState>) {
    state.safety.renew_lease();
}

/// Sets both user caps (lowering pulls a channel down at once) and saves them, off the
/// main thread behind the one settings lock.
///
/// # Errors
/// `invalid_setting` above 200; `io` if the settings file cannot be written.
#[tauri::command]
pub async fn set_caps<R: Runtime>(
    app: AppHandle<R>,
    cap_a: u8,
    cap_b: u8,
) -> CommandResult<GateView> {
    super::off_main(app, "settings", move |state| {
        state.update_settings(|s| {
            state.safety.set_caps(cap_a, cap_b)?;
            s.cap_a = cap_a;
            s.cap_b = cap_b;
            Ok(())
        })?;
        Ok(events::gate_view(&state.guarded, &state.safety))
    })
    .await
}
