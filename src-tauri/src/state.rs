//! Everything a command may reach, managed once by Tauri: the relay, the safety gate and
//! the one guarded terminal behind it, a player per channel, the preset store, the
//! settings, and the port we ended up on.

use crate::audit::Audit;
use crate::settings::{self, Settings, SettingsFile};
use dglab_core::player::{Player, PlayerConfig};
use dglab_core::presets::{PresetStore, Recovered};
use dglab_core::protocol::command::Channel;
use dglab_core::safety::{GuardedEvents, StopRegistration};
use dglab_core::{GuardedTerminal, RelayConfig, RelayHandle, SafetyConfig, SafetyHub};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;

/// How many ports after the preferred one are tried before letting the OS pick any.
const PORT_TRIES: u16 = 100;

/// The port the user asked for and the one the relay listens on; they differ when the
/// preferred port was busy, and the window says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    /// From the settings (9999 by default).
    pub requested: u16,
    /// Where the relay really listens.
    pub actual: u16,
}

/// Where and how to start; `run()` derives it from the app's folders, tests choose freely.
#[derive(Debug, Clone)]
pub struct Services {
    /// Address to listen on: every interface for the app, loopback in tests.
    pub bind: IpAddr,
    /// Holds `settings.json`.
    pub config_dir: PathBuf,
    /// Holds `presets.json`.
    pub data_dir: PathBuf,
    /// Overrides the settings' port (tests pass 0 for any free port).
    pub port: Option<u16>,
    /// The safety watchdog's lease; the UI renews it, so a frozen window stops output.
    pub watchdog: Option<Duration>,
}

/// Why the app could not start its services, in plain words.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Not even an OS-chosen port could be bound.
    #[error("cannot listen for the phone on any port: {0}")]
    Bind(#[from] std::io::Error),
    /// The presets folder is unusable.
    #[error("cannot open the presets: {0}")]
    Presets(#[from] dglab_core::presets::PresetError),
    /// The safety settings are out of range (the settings file was validated, so this is a bug).
    #[error("invalid safety settings: {0}")]
    Safety(#[from] dglab_core::safety::ConfigError),
    /// A player could not start.
    #[error("cannot start the waveform player: {0}")]
    Player(#[from] dglab_core::player::PlayerError),
}

/// The desktop app's shared state.
pub struct AppState {
    /// The relay the phone connects to; commands read its snapshot, the event forwarder
    /// subscribes to it, and exit shuts it down.
    pub relay: RelayHandle,
    /// Caps, rise rate, emergency stop, watchdog: shared by the terminal and the players.
    pub safety: SafetyHub,
    /// Our terminal, behind the gate: the QR code pairs the phone with it, and it is the
    /// only path by which this app sends strength and pulses (no raw `Terminal` is kept,
    /// hence the name: nothing here can bypass the gate).
    pub guarded: GuardedTerminal,
    /// One player per channel, A then B, streaming through the gate (a latched stop or a
    /// lapsed lease also refuses their pulses).
    pub players: [Player; 2],
    /// Keeps the hooks registered by which the emergency stop and the watchdog stop both
    /// players.
    _players_stop: [StopRegistration; 2],
    /// User presets in the app's data folder (built-ins come with the core).
    pub presets: PresetStore,
    /// What the presets file held when it was unreadable (moved aside); shown once.
    pub presets_recovered: Option<Recovered>,
    /// The settings as saved; a command holds the lock only to read or replace them.
    pub settings: Mutex<Settings>,
    /// Serialises every settings change from read to file to memory
    /// ([`AppState::update_settings`]), so two saves at once (caps and the pairing address,
    /// say) never lose one another's change. Held only on a blocking thread, never on the
    /// main thread and never across `.await`.
    save_lock: Mutex<()>,
    /// The recent safety events and the last stop's state, App by App, for the window.
    pub audit: Arc<Audit>,
    /// Where the settings live, and whether a broken file was moved aside.
    pub settings_file: SettingsFile,
    /// The settings the services were started with (port, heartbeat and rise rate only
    /// change at the next start; the settings view says when a restart is due).
    started_with: Settings,
    /// Shown next to the pairing URL, and in the notice when the port was busy.
    pub port: PortInfo,
    /// The watchdog lease the window must renew within (`None`: no watchdog); the window
    /// paces its heartbeat on it.
    pub lease: Option<Duration>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("relay", &self.relay.local_addr())
            .field("guarded", &self.guarded.id())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Loads the settings, binds the preferred port (or the next free one), starts the
    /// relay, our guarded terminal, the players and the preset store. Must run inside the
    /// Tokio runtime the relay will live on.
    ///
    /// # Errors
    /// [`StartError`] in plain words.
    pub async fn start(services: Services) -> Result<(AppState, GuardedEvents), StartError> {
        let (settings, settings_file) = settings::load(&services.config_dir);
        let preferred_port = services.port.unwrap_or(settings.port);
        let listener = bind_with_fallback(services.bind, preferred_port).await?;
        let actual = listener.local_addr()?.port();
        if actual != preferred_port {
            log::warn!("port {preferred_port} is busy; the relay listens on {actual} instead");
        }
        let relay_config = RelayConfig {
            heartbeat_interval: Some(Duration::from_secs(settings.heartbeat_secs.into())),
            ..RelayConfig::default()
        };
        let relay = dglab_core::relay::start(listener, relay_config)?;
        let safety = SafetyHub::new(SafetyConfig {
            cap_a: settings.cap_a,
            cap_b: settings.cap_b,
            max_rise_per_sec: settings.max_rise_per_sec,
            watchdog: services.watchdog,
        })?;
        let (raw, raw_events) = dglab_core::Terminal::local(&relay);
        let (guarded, guarded_events) = safety.guard(raw, raw_events);
        let players = [
            Player::spawn(guarded.clone(), Channel::A, PlayerConfig::default())?,
            Player::spawn(guarded.clone(), Channel::B, PlayerConfig::default())?,
        ];
        let players_stop = [
            safety.register_stop(players[0].stop_hook()),
            safety.register_stop(players[1].stop_hook()),
        ];
        let (presets, presets_recovered) = PresetStore::open_or_recover(&services.data_dir)?;
        if let Some(r) = &presets_recovered {
            log::error!(
                "presets file unreadable ({}); moved to {}",
                r.reason,
                r.moved_to.display()
            );
        }
        log::info!(
            "relay listening on {}, terminal {}, presets in {}",
            relay.local_addr(),
            guarded.id(),
            presets.dir().display()
        );
        let state = AppState {
            relay,
            safety,
            guarded,
            players,
            _players_stop: players_stop,
            presets,
            presets_recovered,
            started_with: settings.clone(),
            settings: Mutex::new(settings),
            save_lock: Mutex::new(()),
            audit: Arc::default(),
            settings_file,
            port: PortInfo {
                requested: preferred_port,
                actual,
            },
            lease: services.watchdog,
        };
        Ok((state, guarded_events))
    }

    /// The current settings (the lock is never held across anything slow).
    pub fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the settings: `change` edits a copy of the current ones, which is then
    /// validated, written atomically and kept, all under one lock so concurrent changes
    /// apply one after the other. Does file I/O: call it off the main thread.
    ///
    /// # Errors
    /// `change`'s error; `invalid_setting`; `io` when the file cannot be written (nothing
    /// changes then).
    pub fn update_settings<T>(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<T, crate::error::CommandError>,
    ) -> Result<(T, Settings), crate::error::CommandError> {
        let _one_at_a_time = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = self.settings().clone();
        let out = change(&mut next)?;
        next.validate()?;
        settings::save(&self.settings_file.path, &next).map_err(|e| {
            log::error!("cannot save {}: {e}", self.settings_file.path.display());
            crate::error::CommandError::new(crate::notice::Kind::Io).with("what", "settings")
        })?;
        *self.settings() = next.clone();
        Ok((out, next))
    }

    /// The settings the running services were started with.
    pub fn running_settings(&self) -> &Settings {
        &self.started_with
    }

    /// The player of one channel.
    pub fn player(&self, channel: Channel) -> &Player {
        match channel {
            Channel::A => &self.players[0],
            Channel::B => &self.players[1],
        }
    }
}

/// Binds the preferred port, else one of the next [`PORT_TRIES`], else any free port.
async fn bind_with_fallback(ip: IpAddr, preferred: u16) -> std::io::Result<TcpListener> {
    if preferred != 0 {
        let last = preferred.saturating_add(PORT_TRIES);
        for port in preferred..=last {
            match TcpListener::bind(SocketAddr::new(ip, port)).await {
                Ok(l) => return Ok(l),
                Err(e) => log::debug!("port {port}: {e}"),
            }
        }
    }
    TcpListener::bind(SocketAddr::new(ip, 0)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[tokio::test]
    async fn busy_preferred_port_falls_back_to_a_later_one() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let taken = TcpListener::bind((lo, 0)).await.unwrap();
        let busy = taken.local_addr().unwrap().port();
        let got = bind_with_fallback(lo, busy).await.unwrap();
        let port = got.local_addr().unwrap().port();
        assert_ne!(port, busy);
        if busy < u16::MAX - PORT_TRIES {
            assert!(
                port > busy && port <= busy + PORT_TRIES,
                "{port} after {busy}"
            );
        }
    }

    #[tokio::test]
    async fn free_preferred_port_is_used() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let probe = TcpListener::bind((lo, 0)).await.unwrap();
        let free = probe.local_addr().unwrap().port();
        drop(probe);
        let got = bind_with_fallback(lo, free).await.unwrap();
        assert_eq!(got.local_addr().unwrap().port(), free);
    }
}
