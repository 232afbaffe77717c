//! The desktop app's settings, kept as `settings.json` in the app's config folder.
//!
//! A missing file means defaults. A file that cannot be read as settings is moved aside
//! (never overwritten: the user may want it back) and defaults are used; the window says
//! so. Writes go to a temporary file first and are renamed over the old one, so a crash
//! leaves the old file or the new one, never half of each.

use crate::error::{invalid_setting, CommandError};
use crate::notice::Kind;
use crate::Range;
use dglab_core::protocol::command::MAX_STRENGTH;
use dglab_core::SafetyConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name inside the config folder.
pub const FILE_NAME: &str = "settings.json";

/// The range of each number the user can set, for [`Settings::validate`] and for the
/// window's fields (so the UI never repeats them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsLimits {
    /// `port`.
    pub port: Range,
    /// `heartbeatSecs`.
    pub heartbeat_secs: Range,
    /// `capA`, `capB`, and any strength (the App's 0..=200).
    pub strength: Range,
    /// `maxRisePerSec`.
    pub max_rise_per_sec: Range,
}

/// The ranges [`Settings::validate`] enforces.
pub const LIMITS: SettingsLimits = SettingsLimits {
    port: Range {
        min: 1,
        max: u16::MAX,
    },
    heartbeat_secs: Range { min: 5, max: 600 },
    strength: Range {
        min: 0,
        max: MAX_STRENGTH as u16,
    },
    max_rise_per_sec: Range {
        min: 1,
        max: SafetyConfig::MAX_RISE_PER_SEC,
    },
};

/// Everything the user can set; unknown or missing fields take defaults so older and
/// newer versions of the app can share one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// The relay's preferred port (the next free one is used when it is busy). Takes
    /// effect at the next start.
    pub port: u16,
    /// Seconds between protocol heartbeats to every socket. Next start.
    pub heartbeat_secs: u16,
    /// Highest strength ever sent on A (0..=200); applied at once.
    pub cap_a: u8,
    /// Highest strength ever sent on B (0..=200); applied at once.
    pub cap_b: u8,
    /// Fastest rise in strength units per second (1..=200). Next start.
    pub max_rise_per_sec: u16,
    /// The address put in the QR code (a LAN base or a typed ws/wss URL); `None` picks the
    /// best LAN address at each start.
    pub preferred_address: Option<String>,
    /// "en" or "zh".
    pub language: String,
    /// The port the relay fell back to when `port` could not be used; tried first at the
    /// next start so the QR code stays the same. Written by the app, not the user.
    pub fallback_port: Option<u16>,
    /// "system", "light" or "dark".
    pub theme: String,
    /// The game API (Games panel).
    pub games: GamesSettings,
    /// Which App the pairing panel pairs: the DG-LAB App 4.x (V4 link) or 3.x (SOCKET).
    /// Remembered so the panel opens on the user's App.
    #[serde(deserialize_with = "PairingApp::lenient")]
    pub pairing_app: PairingApp,
    /// The V4 relay's preferred port (the official relay's 9998; the next free one is used
    /// when it is busy). Next start.
    pub v4_port: u16,
    /// The address in the 4.x QR code (a LAN address or a typed ws/wss URL of a V4 relay,
    /// e.g. a reverse proxy's `/v4`); kept apart from [`Settings::preferred_address`]
    /// because a typed URL reaches one relay only.
    pub preferred_v4_address: Option<String>,
    // "Follow the App's soft limit" is deliberately not a setting: every start pairs the
    // phone afresh and a pairing switches following off (nothing rises by itself), so a
    // saved "on" could never take effect; it lives in the core gate
    // (`ChannelState.follow`), set by the `set_follow_soft_limit` command. An older file's
    // `followSoftLimit` is ignored like any unknown field.
}

/// The App the pairing panel is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingApp {
    /// DG-LAB App 3.x: the SOCKET v2 link (`…#DGLAB-SOCKET#ws://…/<id>`). The default: it is
    /// what the strength panel, players and presets drive today.
    #[default]
    Socket,
    /// DG-LAB App 4.x: the V4 link (`https://dungeon-lab.cn/s/?…&url=…?tid=<id>`).
    V4,
}

impl PairingApp {
    /// Reads a saved value; one this version does not know (a newer version's) is the
    /// default rather than a reason to move the whole settings file aside.
    fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PairingApp, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.as_str() {
            "v4" => PairingApp::V4,
            _ => PairingApp::Socket,
        })
    }
}

/// The themes the window offers.
pub const THEMES: &[&str] = &["system", "light", "dark"];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: crate::DEFAULT_PORT,
            heartbeat_secs: 60,
            cap_a: SafetyConfig::DEFAULT_CAP,
            cap_b: SafetyConfig::DEFAULT_CAP,
            max_rise_per_sec: SafetyConfig::DEFAULT_MAX_RISE_PER_SEC,
            preferred_address: None,
            language: "en".into(),
            fallback_port: None,
            theme: "system".into(),
            games: GamesSettings::default(),
            pairing_app: PairingApp::default(),
            v4_port: crate::v4::DEFAULT_PORT,
            preferred_v4_address: None,
        }
    }
}

/// The game API's settings (the Games panel): on 127.0.0.1:8920 unless the user says
/// otherwise; the LAN only with the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GamesSettings {
    /// The API runs.
    pub enabled: bool,
    /// Its port (Game-Hub's 8920; a taken port is said, not moved).
    pub port: u16,
    /// Every interface, with the token, instead of this machine only.
    pub lan: bool,
    /// What other machines must send (`Authorization: Bearer`); made once at the first
    /// start (empty before), renewable.
    pub token: String,
}

impl Default for GamesSettings {
    fn default() -> Self {
        GamesSettings {
            enabled: true,
            port: dglab_core::gamehub::DEFAULT_PORT,
            lan: false,
            // Made and saved at the first start (`commands::games::start`), so defaults
            // compare equal and the token does not change from one start to the next.
            token: String::new(),
        }
    }
}

impl Settings {
    /// Checks every range.
    ///
    /// # Errors
    /// `invalid_setting` naming the setting and its range, or `invalid_language`.
    pub fn validate(&self) -> Result<(), CommandError> {
        let check = |setting, value: u16, range: Range| {
            if range.contains(value) {
                Ok(())
            } else {
                Err(invalid_setting(setting)
                    .with("min", range.min)
                    .with("max", range.max))
            }
        };
        check("port", self.port, LIMITS.port)?;
        check("port", self.v4_port, LIMITS.port)?;
        check("heartbeat", self.heartbeat_secs, LIMITS.heartbeat_secs)?;
        check("cap_a", self.cap_a.into(), LIMITS.strength)?;
        check("cap_b", self.cap_b.into(), LIMITS.strength)?;
        check("rise", self.max_rise_per_sec, LIMITS.max_rise_per_sec)?;
        check("games_port", self.games.port, LIMITS.port)?;
        let token = &self.games.token;
        if !token.is_empty() && (token.len() < 12 || token.chars().any(char::is_whitespace)) {
            return Err(invalid_setting("games_token"));
        }
        if !matches!(self.language.as_str(), "en" | "zh") {
            return Err(CommandError::new(Kind::InvalidLanguage));
        }
        if !THEMES.contains(&self.theme.as_str()) {
            return Err(CommandError::new(Kind::InvalidTheme));
        }
        Ok(())
    }
}

impl Settings {
    /// The saved address choice of `app`'s QR code.
    pub fn address_for(&self, app: PairingApp) -> Option<&String> {
        match app {
            PairingApp::Socket => self.preferred_address.as_ref(),
            PairingApp::V4 => self.preferred_v4_address.as_ref(),
        }
    }

    /// The same, to change it.
    pub fn address_for_mut(&mut self, app: PairingApp) -> &mut Option<String> {
        match app {
            PairingApp::Socket => &mut self.preferred_address,
            PairingApp::V4 => &mut self.preferred_v4_address,
        }
    }
}

/// The settings file and what was loaded from it.
#[derive(Debug)]
pub struct SettingsFile {
    /// `<config dir>/settings.json`.
    pub path: PathBuf,
    /// Set when the file was unreadable and moved aside: (new path, why).
    pub recovered: Option<(PathBuf, String)>,
}

/// Loads the settings in `dir`, or defaults.
pub fn load(dir: &Path) -> (Settings, SettingsFile) {
    let path = dir.join(FILE_NAME);
    let mut file = SettingsFile {
        path: path.clone(),
        recovered: None,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Settings::default(), file),
        Err(e) => {
            log::error!("cannot read {}: {e}; using defaults", path.display());
            return (Settings::default(), file);
        }
    };
    let parsed = serde_json::from_str::<Settings>(&text)
        .map_err(|e| e.to_string())
        .and_then(|s| s.validate().map(|()| s).map_err(|e| e.to_string()));
    match parsed {
        Ok(s) => (s, file),
        Err(why) => {
            let aside = path.with_extension(format!(
                "json.corrupt-{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            ));
            log::error!(
                "{} is unusable ({why}); moved to {}",
                path.display(),
                aside.display()
            );
            let _ = std::fs::rename(&path, &aside);
            file.recovered = Some((aside, why));
            (Settings::default(), file)
        }
    }
}

/// Writes `settings` atomically to `path`.
///
/// # Errors
/// The file system's error.
pub fn save(path: &Path, settings: &Settings) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(settings).map_err(std::io::Error::other)?;
    dglab_core::fs::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("dglab-hub-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn missing_file_gives_defaults_and_a_save_round_trips() {
        let dir = temp_dir("roundtrip");
        let (s, file) = load(&dir);
        assert_eq!(s, Settings::default());
        let changed = Settings {
            cap_a: 77,
            language: "zh".into(),
            ..s
        };
        save(&file.path, &changed).unwrap();
        assert_eq!(load(&dir).0, changed);
    }

    #[test]
    fn an_unusable_file_is_moved_aside_not_overwritten() {
        let dir = temp_dir("corrupt");
        std::fs::write(dir.join(FILE_NAME), r#"{"capA": 250}"#).unwrap();
        let (s, file) = load(&dir);
        assert_eq!(s, Settings::default());
        let (aside, why) = file.recovered.unwrap();
        assert!(why.contains("cap"), "{why}");
        assert_eq!(std::fs::read_to_string(aside).unwrap(), r#"{"capA": 250}"#);
    }

    #[test]
    fn an_old_saved_follow_soft_limit_is_ignored() {
        let dir = temp_dir("follow");
        std::fs::write(
            dir.join(FILE_NAME),
            r#"{"capA": 30, "followSoftLimit": [true, true]}"#,
        )
        .unwrap();
        let (s, file) = load(&dir);
        assert!(file.recovered.is_none());
        assert_eq!(s.cap_a, 30);
        save(&file.path, &s).unwrap();
        let text = std::fs::read_to_string(&file.path).unwrap();
        assert!(!text.contains("follow"), "{text}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_ones_default() {
        let dir = temp_dir("partial");
        std::fs::write(
            dir.join(FILE_NAME),
            r#"{"port": 9000, "futureThing": true}"#,
        )
        .unwrap();
        let (s, file) = load(&dir);
        assert!(file.recovered.is_none());
        assert_eq!(s.port, 9000);
        assert_eq!(s.cap_a, SafetyConfig::DEFAULT_CAP);
    }

    #[test]
    fn the_pairing_app_round_trips_and_an_unknown_one_is_the_default() {
        let dir = temp_dir("pairing-app");
        std::fs::write(dir.join(FILE_NAME), r#"{"pairingApp": "v4", "capA": 30}"#).unwrap();
        let (s, file) = load(&dir);
        assert!(file.recovered.is_none());
        assert_eq!((s.pairing_app, s.cap_a), (PairingApp::V4, 30));
        std::fs::write(dir.join(FILE_NAME), r#"{"pairingApp": "v9", "capA": 31}"#).unwrap();
        let (s, file) = load(&dir);
        assert!(file.recovered.is_none());
        assert_eq!((s.pairing_app, s.cap_a), (PairingApp::Socket, 31));
        assert_eq!(s.v4_port, crate::v4::DEFAULT_PORT);
    }
}
