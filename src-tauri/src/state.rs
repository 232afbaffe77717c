//! Everything a command may reach, managed once by Tauri: the relay, the safety gate and
//! the one guarded terminal behind it, a player per channel, the preset store, the
//! settings, and the port we ended up on.

use crate::audit::Audit;
use crate::settings::{self, Settings, SettingsFile};
use dglab_core::player::{Player, PlayerConfig};
use dglab_core::presets::{PresetStore, Recovered, SetAside};
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
/// preferred port could not be used, and the window says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    /// From the settings (9999 by default).
    pub requested: u16,
    /// Where the relay really listens.
    pub actual: u16,
    /// Why `actual` differs from `requested` (`None` when they are equal).
    pub reason: Option<PortReason>,
}

/// Why the preferred port could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortReason {
    /// Another program listens on it.
    Busy,
    /// The system reserves it (below 1024 on Linux and macOS without administrator rights).
    Permission,
}

/// Where the relay ended up listening, and why not on the preferred port.
#[derive(Debug)]
pub struct Bound {
    /// The listener.
    pub listener: TcpListener,
    /// Why the preferred port was not used.
    pub reason: Option<PortReason>,
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
    /// Overrides the settings' V4 port (DG-LAB App 4.x; tests pass 0).
    pub v4_port: Option<u16>,
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
    /// The V4 relay for the DG-LAB App 4.x and our controller on it.
    pub v4: crate::v4::V4Side,
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
    /// Presets that were wrong on their own and moved out of the file at start; shown once.
    pub presets_set_aside: Option<SetAside>,
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
        let (mut settings, settings_file) = (settings, settings_file);
        let preferred_port = services.port.unwrap_or(settings.port);
        // A test's port override is not the user's: nothing is remembered for it.
        let remembered = services
            .port
            .is_none()
            .then_some(settings.fallback_port)
            .flatten();
        let Bound { listener, reason } =
            bind_with_fallback(services.bind, preferred_port, remembered).await?;
        let actual = listener.local_addr()?.port();
        if let Some(why) = reason {
            log::warn!("port {preferred_port} unusable ({why:?}); the relay listens on {actual}");
        }
        // Keep the port stable: the next start tries the same fallback before any other, so
        // the QR code the phone knows stays valid. The settings say which port it is.
        if services.port.is_none() {
            let fallback = (actual != preferred_port).then_some(actual);
            if settings.fallback_port != fallback && fallback.is_some() {
                settings.fallback_port = fallback;
                if let Err(e) = settings::save(&settings_file.path, &settings) {
                    log::warn!("cannot record the fallback port: {e}");
                }
            }
        }
        let relay_config = RelayConfig {
            heartbeat_interval: Some(Duration::from_secs(settings.heartbeat_secs.into())),
            ..RelayConfig::default()
        };
        let relay = dglab_core::relay::start(listener, relay_config.clone())?;
        let safety = SafetyHub::new(SafetyConfig {
            cap_a: settings.cap_a,
            cap_b: settings.cap_b,
            max_rise_per_sec: settings.max_rise_per_sec,
            watchdog: services.watchdog,
        })?;
        // The same caps and STOP bind every DG-LAB App 4.x on the V4 relay.
        let v4 = crate::v4::V4Side::start(
            services.bind,
            services.v4_port.unwrap_or(settings.v4_port),
            &relay_config,
            &safety,
        )
        .await?;
        // The user's caps and STOP bind every App on this relay, not only ours: another
        // terminal, the vendor's web page or a game mod pairing its own App included.
        safety.guard_relay(&relay);
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
        // One bad entry must not hide the rest: it alone is set aside, and named.
        let presets_set_aside = presets.set_aside_bad_entries().unwrap_or_else(|e| {
            log::error!("cannot set bad presets aside: {e}");
            None
        });
        log::info!(
            "relay listening on {}, terminal {}, presets in {}",
            relay.local_addr(),
            guarded.id(),
            presets.dir().display()
        );
        let state = AppState {
            relay,
            v4,
            safety,
            guarded,
            players,
            _players_stop: players_stop,
            presets,
            presets_recovered,
            presets_set_aside,
            started_with: settings.clone(),
            settings: Mutex::new(settings),
            save_lock: Mutex::new(()),
            audit: Arc::default(),
            settings_file,
            port: PortInfo {
                requested: preferred_port,
                actual,
                reason,
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

/// Binds the preferred port; else the remembered fallback; else one of the next
/// [`PORT_TRIES`] after the preferred port (after [`crate::DEFAULT_PORT`] when the preferred
/// one needs administrator rights, as its neighbours would too); else any free port.
pub(crate) async fn bind_with_fallback(
    ip: IpAddr,
    preferred: u16,
    remembered: Option<u16>,
) -> std::io::Result<Bound> {
    if preferred == 0 {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        return Ok(Bound {
            listener,
            reason: None,
        });
    }
    let reason = match TcpListener::bind(SocketAddr::new(ip, preferred)).await {
        Ok(listener) => {
            return Ok(Bound {
                listener,
                reason: None,
            })
        }
        Err(e) => port_reason(&e),
    };
    let reason = Some(reason);
    if let Some(port) = remembered.filter(|&p| p != 0 && p != preferred) {
        if let Ok(listener) = TcpListener::bind(SocketAddr::new(ip, port)).await {
            return Ok(Bound { listener, reason });
        }
    }
    let first = match reason {
        Some(PortReason::Permission) => crate::DEFAULT_PORT,
        _ => preferred.saturating_add(1),
    };
    for port in first..=first.saturating_add(PORT_TRIES) {
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(listener) => return Ok(Bound { listener, reason }),
            Err(e) => log::debug!("port {port}: {e}"),
        }
    }
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
    Ok(Bound { listener, reason })
}

/// Permission (a reserved port) or busy (anything else: in use, or not available here).
fn port_reason(e: &std::io::Error) -> PortReason {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        PortReason::Permission
    } else {
        PortReason::Busy
    }
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
        let got = bind_with_fallback(lo, busy, None).await.unwrap();
        assert_eq!(got.reason, Some(PortReason::Busy));
        let port = got.listener.local_addr().unwrap().port();
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
        let got = bind_with_fallback(lo, free, None).await.unwrap();
        assert_eq!(got.listener.local_addr().unwrap().port(), free);
        assert_eq!(got.reason, None);
    }

    #[tokio::test]
    async fn a_busy_port_falls_back_to_the_remembered_one_first() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let taken = TcpListener::bind((lo, 0)).await.unwrap();
        let busy = taken.local_addr().unwrap().port();
        let probe = TcpListener::bind((lo, 0)).await.unwrap();
        let remembered = probe.local_addr().unwrap().port();
        drop(probe);
        let got = bind_with_fallback(lo, busy, Some(remembered))
            .await
            .unwrap();
        assert_eq!(got.listener.local_addr().unwrap().port(), remembered);
        assert_eq!(got.reason, Some(PortReason::Busy));
    }

    #[test]
    fn permission_and_busy_are_told_apart() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            port_reason(&Error::from(ErrorKind::PermissionDenied)),
            PortReason::Permission
        );
        assert_eq!(
            port_reason(&Error::from(ErrorKind::AddrInUse)),
            PortReason::Busy
        );
    }

    /// Port 80 needs administrator rights on Linux: the fallback says so and starts at the
    /// default port, not at 81. (Skipped when this user may bind it, e.g. as root.)
    #[tokio::test]
    async fn a_reserved_port_is_a_permission_problem() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        if let Ok(l) = TcpListener::bind((lo, 80)).await {
            drop(l);
            eprintln!("this user may bind port 80: nothing to test");
            return;
        }
        let got = bind_with_fallback(lo, 80, None).await.unwrap();
        let port = got.listener.local_addr().unwrap().port();
        assert_eq!(got.reason, Some(PortReason::Permission));
        assert!(port >= crate::DEFAULT_PORT || port > 1023, "{port}");
    }
}
