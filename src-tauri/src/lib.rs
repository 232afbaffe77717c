//! DG-LAB Hub's desktop shell: adapts `dglab-core` to Tauri — commands in, events out — and
//! owns no domain logic.
//!
//! # Layout
//! - `state`: [`state::AppState`], everything a command may reach (relay, safety gate,
//!   guarded terminal, players, presets, settings, port).
//! - `commands/`: the invoke handlers, one file per area (`relay`, `strength`, `waveform`,
//!   `presets`, `settings`, `app`).
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

pub mod commands;
pub mod error;
pub mod events;
pub mod notice;
pub mod settings;
pub mod state;

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
    strength::strength_state,
    strength::set_strength,
    strength::step_strength,
    strength::emergency_stop,
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
    app.manage(state);
    Ok(())
}

/// Leaves the box silent and closes every socket cleanly when the app quits: the App keeps
/// playing what is queued otherwise. The emergency stop is the one path that zeroes both
/// channels, clears both queues and stops the players.
fn shut_down<R: Runtime>(app: &AppHandle<R>) {
    if let Some(state) = app.try_state::<AppState>() {
        state.safety.emergency_stop();
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
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let services = Services {
                bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                config_dir: app.path().app_config_dir()?,
                data_dir: app.path().app_data_dir()?,
                port: None,
                watchdog: Some(SafetyConfig::DEFAULT_LEASE),
            };
            start_services(app.handle(), services)?;
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
