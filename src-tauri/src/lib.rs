//! DG-LAB Hub's desktop shell: adapts `dglab-core` to Tauri — commands in, events out — and
//! owns no domain logic.
//!
//! # Layout
//! - `state`: [`state::AppState`], everything a command may reach (relay, our terminal, port).
//! - `commands/`: the invoke handlers, one file per area (`relay`, `terminal`, `app`).
//! - `events`: forwards relay and terminal events to the window; the event names.
//! - `error`: [`error::CommandError`], `{kind, message}` for the UI.
//! - `pairing_shim`: temporary stand-ins for the core's pairing module.

pub mod commands;
pub mod error;
pub mod events;
mod pairing_shim;
pub mod state;

use dglab_core::protocol::command::Channel;
use dglab_core::RelayConfig;
use state::AppState;
use std::net::{IpAddr, Ipv4Addr};
use tauri::{AppHandle, Builder, Manager, RunEvent, Runtime};

/// The relay's port unless the settings say otherwise (the vendor's examples use it too).
pub const DEFAULT_PORT: u16 = 9999;

/// Global shortcuts for the emergency stop, tried in order; each works while another
/// program has focus. `Pause` is a key nothing else uses; the chord is for laptops without it.
pub const ESTOP_SHORTCUTS: [&str; 2] = ["Pause", "CommandOrControl+Shift+Space"];

/// Wires the commands. Generic over the runtime so tests can use Tauri's mock runtime; the
/// relay is started separately ([`start_services`]) so a test can choose where it listens.
pub fn build_app<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::app::app_info,
        commands::relay::list_connections,
        commands::relay::pairing_info,
        commands::terminal::terminal_status,
        commands::terminal::set_strength,
        commands::terminal::step_strength,
        commands::terminal::emergency_stop,
        commands::terminal::rearm,
    ])
}

/// Starts the relay on `bind:preferred_port` (or the next free port) with our local
/// terminal, manages the [`AppState`] and starts forwarding events to the window.
///
/// # Errors
/// When no port at all can be bound.
pub fn start_services<R: Runtime>(
    app: &AppHandle<R>,
    bind: IpAddr,
    preferred_port: u16,
) -> std::io::Result<()> {
    // The relay's tasks are spawned on Tauri's own Tokio runtime, which outlives setup.
    let (state, terminal_events) = tauri::async_runtime::block_on(AppState::start(
        bind,
        preferred_port,
        RelayConfig::default(),
    ))?;
    events::spawn_forwarders(
        app.clone(),
        state.relay.clone(),
        state.terminal.id(),
        terminal_events,
    );
    app.manage(state);
    Ok(())
}

/// Leaves the box silent and closes every socket cleanly when the app quits: the App keeps
/// playing what is queued otherwise.
fn shut_down<R: Runtime>(app: &AppHandle<R>) {
    if let Some(state) = app.try_state::<AppState>() {
        for ch in Channel::BOTH {
            let _ = state.terminal.set_strength(ch, 0);
            let _ = state.terminal.clear(ch);
        }
        tauri::async_runtime::block_on(state.relay.shutdown());
        log::info!("relay shut down");
    }
}

#[cfg(desktop)]
fn register_shortcuts<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    use tauri_plugin_global_shortcut::{GlobalShortcutExt, ShortcutState};
    app.plugin(tauri_plugin_global_shortcut::Builder::new().build())?;
    let mut held = Vec::new();
    for chord in ESTOP_SHORTCUTS {
        let result = app
            .global_shortcut()
            .on_shortcut(chord, |app, _shortcut, event| {
                if event.state == ShortcutState::Pressed {
                    commands::terminal::stop_everything(app);
                }
            });
        match result {
            Ok(()) => held.push(chord.to_owned()),
            // Another program may hold it, or the desktop (Wayland) may not allow grabs.
            Err(e) => log::warn!("global shortcut {chord} unavailable: {e}"),
        }
    }
    app.manage(commands::app::Shortcuts(held));
    Ok(())
}

/// Runs the desktop app.
///
/// # Panics
/// When the window system cannot be initialised (no display): use `dglab-relay serve
/// --local-terminal` there instead.
pub fn run() {
    let log = tauri_plugin_log::Builder::new()
        .level(log::LevelFilter::Info)
        .targets([
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Stdout),
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::LogDir {
                file_name: Some("dglab-hub".into()),
            }),
        ])
        .build();
    let app = build_app(Builder::default())
        .plugin(log)
        .setup(|app| {
            start_services(
                app.handle(),
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                DEFAULT_PORT,
            )?;
            #[cfg(desktop)]
            register_shortcuts(app.handle())?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("DG-LAB Hub could not start");
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            shut_down(app);
        }
    });
}
