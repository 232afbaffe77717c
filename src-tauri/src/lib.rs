//! DG-LAB Hub's desktop shell: adapts `dglab-core` to Tauri — commands in, events out — and
//! owns no domain logic.
//!
//! # Layout
//! - `state`: [`state::AppState`], everything a command may reach (relay, safety gate,
//!   guarded terminal, players, presets, settings, port, audit).
//! - `audit`: the recent safety events and the last stop's state, App by App.
//! - `last_resort`: the emergency stop on SIGINT/SIGTERM/SIGHUP and on any panic.
//! - `commands/`: the invoke handlers, one file per area (`relay`, `strength`, `waveform`,
//!   `presets`, `settings`, `app`, `doctor`, `inspector`).
//! - `events`: forwards relay, terminal, safety and player events to the window; the names.
//! - `settings`: the desktop app's `settings.json`.
//! - `notice`: [`notice::Notice`], `{kind, params}`: every error and notice the window
//!   words in the user's language, and the list of kinds.
//! - `error`: [`error::CommandError`], a command's failure as a notice.
//!
//! # The bridge
//! [`COMMANDS`] and [`events::EVENT_NAMES`] are everything the window may call or hear;
//! `tests/contract.rs` invokes each command on the mock runtime and pins the names, argument
//! names, answer and payload keys, kinds and limits in `tests/ui/contract.json`, which the
//! node tests hold `ui/js/backend.js` and the wording table against. Limits (pattern,
//! settings, strength) are sent, not repeated in JS.

pub mod audit;
pub mod commands;
pub mod error;
pub mod events;
pub mod last_resort;
pub mod notice;
pub mod settings;
pub mod state;
pub mod v4;

use dglab_core::SafetyConfig;
use serde::Serialize;
use state::{AppState, Services};
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use tauri::{AppHandle, Builder, Manager, RunEvent, Runtime};

/// An inclusive range as the UI reads it (limits come from here, never from JS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    /// Smallest allowed value.
    pub min: u16,
    /// Largest allowed value.
    pub max: u16,
}

impl Range {
    /// Whether `v` lies inside.
    pub fn contains(self, v: u16) -> bool {
        (self.min..=self.max).contains(&v)
    }
}

impl From<RangeInclusive<u8>> for Range {
    fn from(r: RangeInclusive<u8>) -> Self {
        Range {
            min: (*r.start()).into(),
            max: (*r.end()).into(),
        }
    }
}

/// The relay's port unless the settings say otherwise (the vendor's examples use it too).
pub const DEFAULT_PORT: u16 = 9999;

/// Global shortcuts for the emergency stop, tried in order; each works while another
/// program has focus. `Pause` is a key nothing else uses; the chord is for laptops without it.
pub const ESTOP_SHORTCUTS: [&str; 2] = ["Pause", "CommandOrControl+Shift+Space"];

/// Lists the commands once: the same list feeds `generate_handler!` and [`COMMANDS`].
macro_rules! commands {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every command the window may invoke (the contract test holds
        /// `ui/js/backend.js` against it).
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// Wires the commands. Generic over the runtime so tests can use Tauri's mock
        /// runtime; the services are started separately ([`start_services`]) so a test can
        /// choose where.
        pub fn build_app<R: Runtime>(builder: Builder<R>) -> Builder<R> {
            builder.invoke_handler(tauri::generate_handler![$(commands::$module::$name),*])
        }
    };
}

commands![
    app::app_info,
    app::recent_log,
    app::open_log_folder,
    relay::list_connections,
    relay::pairing_info,
    relay::set_pairing_address,
    // DG-LAB App 4.x (issue 13 point 4).
    v4::v4_apps,
    v4::set_pairing_app,
    v4::v4_set_strength,
    strength::strength_state,
    strength::set_strength,
    strength::step_strength,
    strength::emergency_stop,
    strength::stop_status,
    strength::recent_safety_events,
    strength::set_follow_soft_limit,
    strength::rearm,
    strength::renew_lease,
    strength::set_caps,
    waveform::pattern_limits,
    waveform::expand_pattern,
    waveform::parse_share,
    waveform::play_waveform,
    waveform::stop_waveform,
    presets::list_presets,
    presets::get_preset,
    presets::save_preset,
    presets::rename_preset,
    presets::delete_preset,
    settings::get_settings,
    settings::save_settings,
    // Pairing doctor, phone test and protocol inspector (issue 14).
    doctor::phone_check,
    doctor::phone_attempts,
    doctor::run_doctor,
    inspector::start_inspector,
    inspector::stop_inspector,
    // "Try without a phone" (issue 14).
    virtual_app::start_virtual_app,
    virtual_app::stop_virtual_app,
    virtual_app::virtual_app_state,
    virtual_app::set_virtual_soft_limits,
    virtual_app::press_virtual_feedback,
    // The game API's panel (issue 15 point 5).
    games::games_state,
    games::set_games_api,
    games::new_games_token,
    games::set_game_output,
];

/// Starts the relay, the safety gate, our terminal, the players and the preset store,
/// manages the [`AppState`] and starts forwarding events to the window.
///
/// # Errors
/// [`state::StartError`] in plain words (no port at all, unusable presets folder, …).
pub fn start_services<R: Runtime>(
    app: &AppHandle<R>,
    services: Services,
) -> Result<(), state::StartError> {
    // The relay's and players' tasks live on Tauri's own Tokio runtime, which outlives setup.
    let (state, events) = tauri::async_runtime::block_on(AppState::start(services))?;
    events::spawn_forwarders(app, &state, events);
    commands::doctor::start(app, &state.relay);
    state.v4.spawn_forwarders(app);
    // From here on a panic anywhere in the process stops every App first.
    last_resort::stop_on_panic(state.safety.clone());
    app.manage(state);
    Ok(())
}

/// Leaves the box silent and closes every socket cleanly when the app quits: the App keeps
/// playing what is queued otherwise. The emergency stop is the one path that zeroes both
/// channels, clears both queues and stops the players.
fn shut_down<R: Runtime>(app: &AppHandle<R>) {
    if let Some(state) = app.try_state::<AppState>() {
        state.safety.emergency_stop();
        // Not the single instance any more: a launch while the relay closes (up to a
        // second) must start afresh, not hand over to this exiting one (which would never
        // answer, and the new launch would fail to start at all).
        tauri_plugin_single_instance::destroy(app);
        tauri::async_runtime::block_on(state.relay.shutdown());
        tauri::async_runtime::block_on(state.v4.relay.shutdown());
        log::info!("relay shut down");
    }
}

/// Bytes per log file before it rotates (sized in `run`).
pub const LOG_FILE_BYTES: u128 = 8 * 1024 * 1024;
/// Rotated log files kept besides the live one (sized in `run`).
pub const LOG_FILES_KEPT: usize = 4;

/// Brings the main window to the front: shown, unminimised, focused.
pub fn focus_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        if let Err(e) = w.set_focus() {
            log::warn!("cannot focus the window: {e}");
        }
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
                    commands::strength::stop_everything(app);
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
    // The audit trail must cover a day of use. What is logged at info and above: every
    // safety decision that changed or refused a request (one line per request, not per
    // ramp step), pairings, App reports that were corrected, stops. A busy session is about
    // one request a second while the user plays (a slider drag is throttled to 12/s, but
    // only in bursts), so ~2 lines/s with their clamp/ramp notices, ~180 bytes each: about
    // 1.3 MB an hour, 10-16 MB for a long day of 8-12 hours. The plugin's default (one
    // 40 kB file, the previous one overwritten) held minutes of that. Five files of 8 MB
    // (the live one plus four rotated) keep 32-40 MB: two such days, or a whole day of
    // sustained dragging at 12 requests a second for 4 hours.
    let log = tauri_plugin_log::Builder::new()
        .level(log::LevelFilter::Info)
        .max_file_size(LOG_FILE_BYTES)
        .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(LOG_FILES_KEPT))
        .targets([
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Stdout),
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::LogDir {
                file_name: Some("dglab-hub".into()),
            }),
        ])
        .build();
    let app = build_app(Builder::default())
        // First, as the plugin asks: a second launch hands over to the running one and
        // exits in its own plugin setup, before ours below could start a second relay.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            log::info!("a second launch: focusing this window instead");
            focus_main(app);
        }))
        .plugin(log)
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let services = Services {
                bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                config_dir: app.path().app_config_dir()?,
                data_dir: app.path().app_data_dir()?,
                port: None,
                v4_port: None,
                watchdog: Some(SafetyConfig::DEFAULT_LEASE),
            };
            start_services(app.handle(), services)?;
            // The game API (Games panel): 127.0.0.1:8920 unless the settings say otherwise.
            commands::games::start(app.handle());
            #[cfg(desktop)]
            register_shortcuts(app.handle())?;
            #[cfg(unix)]
            last_resort::stop_on_signals(app.handle(), |app| app.exit(0));
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
