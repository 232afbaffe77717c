//! The error every command returns: a [`Notice`], `{kind, params}`, for the UI.
//!
//! `kind` is stable and the UI switches on it and words it in the user's language
//! (`ui/js/lib/i18n.js`); `params` holds only values (numbers, names, paths). The technical
//! detail goes to the log file here, where the error is mapped, never to the window.

use crate::notice::{Kind, Notice};
use dglab_core::pairing::PublicUrlError;
use dglab_core::player::PlayerError;
use dglab_core::presets::PresetError;
use dglab_core::safety::{ConfigError, SafetyError};
use dglab_core::terminal::TerminalError;
use dglab_core::waveform::share::{ParseError, ParseErrorKind};
use serde::Serialize;
use serde_json::Value;

/// Values of the `setting` param (`invalid_setting`).
pub const SETTING_NAMES: &[&str] = &[
    "port",
    "heartbeat",
    "cap_a",
    "cap_b",
    "rise",
    "lease",
    "games_port",
    "games_token",
];
/// Values of the `rule` param (`invalid_url`).
pub const URL_RULES: &[&str] = &[
    "scheme",
    "host",
    "port",
    "user_info",
    "unspecified",
    "query",
    "fragment",
    "whitespace",
];
/// Values of the `reason` param (`invalid_share`).
pub const SHARE_REASONS: &[&str] = &[
    "too_long",
    "missing_prefix",
    "no_section",
    "too_many_sections",
    "too_many_points",
    "strict",
];
/// Values of the `what` param (`io`).
pub const FILES: &[&str] = &["settings", "presets", "log"];

/// Each param of [`crate::notice::WORDED_PARAMS`] with every value it may take.
pub fn worded_params() -> [(&'static str, &'static [&'static str]); 5] {
    [
        ("setting", SETTING_NAMES),
        ("rule", URL_RULES),
        ("reason", SHARE_REASONS),
        ("what", FILES),
        ("field", crate::notice::SHARE_FIELDS),
    ]
}

/// A command's failure, as the UI receives it: `{kind, params}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CommandError(pub Notice);

impl CommandError {
    /// An error of `kind` without params.
    pub fn new(kind: Kind) -> Self {
        CommandError(Notice::new(kind))
    }

    /// Adds one param.
    #[must_use]
    pub fn with(self, name: &str, value: impl Serialize) -> Self {
        CommandError(self.0.with(name, value))
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.0.kind.as_str(),
            Value::Object(self.0.params.clone())
        )
    }
}

impl std::error::Error for CommandError {}

impl From<TerminalError> for CommandError {
    fn from(e: TerminalError) -> Self {
        log::warn!("terminal command failed: {e:?}");
        match e {
            TerminalError::NotPaired => CommandError::new(Kind::NotPaired),
            TerminalError::Closed => CommandError::new(Kind::PhoneGone),
            TerminalError::StrengthOutOfRange(v) => CommandError::new(Kind::OutOfRange)
                .with("value", v)
                .with("max", dglab_core::protocol::command::MAX_STRENGTH),
            TerminalError::FrameCount(n) => CommandError::new(Kind::TooLong)
                .with("frames", n)
                .with("max", dglab_core::protocol::command::MAX_PULSE_FRAMES),
            TerminalError::TooLong { frames, max, .. } => CommandError::new(Kind::TooLong)
                .with("frames", frames)
                .with("max", max),
            TerminalError::Refused(code) => CommandError::new(Kind::Refused).with("code", code),
            TerminalError::Busy => CommandError::new(Kind::Busy),
        }
    }
}

impl From<SafetyError> for CommandError {
    fn from(e: SafetyError) -> Self {
        match e {
            SafetyError::Latched => CommandError::new(Kind::Stopped),
            SafetyError::LeaseLapsed => CommandError::new(Kind::Watchdog),
            SafetyError::Terminal(t) => t.into(),
        }
    }
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        log::warn!("safety settings refused: {e}");
        match e {
            ConfigError::Cap { channel, .. } => {
                invalid_setting(if channel == dglab_core::Channel::A {
                    "cap_a"
                } else {
                    "cap_b"
                })
                .with("min", 0)
                .with("max", dglab_core::protocol::command::MAX_STRENGTH)
            }
            ConfigError::Rate(_) => invalid_setting("rise")
                .with("min", 1)
                .with("max", dglab_core::SafetyConfig::MAX_RISE_PER_SEC),
            ConfigError::Lease(_) => invalid_setting("lease").with("min", 100).with("max", "∞"),
        }
    }
}

/// `invalid_setting` naming the setting (the UI words the name; add `min`/`max`).
pub fn invalid_setting(setting: &'static str) -> CommandError {
    CommandError::new(Kind::InvalidSetting).with("setting", setting)
}

impl From<PresetError> for CommandError {
    fn from(e: PresetError) -> Self {
        log::warn!("preset operation failed: {e:?}");
        match e {
            PresetError::Io { .. } => CommandError::new(Kind::Io).with("what", "presets"),
            PresetError::Corrupt { moved_to, .. } => {
                CommandError::new(Kind::PresetsCorrupt).with("moved_to", moved_to)
            }
            PresetError::ReadOnly(name) => CommandError::new(Kind::ReadOnly).with("name", name),
            PresetError::NotFound(name) => CommandError::new(Kind::NotFound).with("name", name),
            PresetError::AlreadyExists(name) => CommandError::new(Kind::Exists).with("name", name),
            PresetError::InvalidName { name, .. } => {
                CommandError::new(Kind::InvalidName).with("name", name)
            }
            PresetError::Invalid(_) => CommandError::new(Kind::InvalidPattern),
        }
    }
}

impl From<ParseError> for CommandError {
    fn from(e: ParseError) -> Self {
        log::info!("share string refused: {e}");
        let reason = match e.kind {
            ParseErrorKind::TooLong { .. } => "too_long",
            ParseErrorKind::MissingPrefix => "missing_prefix",
            ParseErrorKind::NoSection => "no_section",
            ParseErrorKind::TooManySections { .. } => "too_many_sections",
            ParseErrorKind::TooManyPoints { .. } => "too_many_points",
            ParseErrorKind::Strict(_) => "strict",
        };
        CommandError::new(Kind::InvalidShare)
            .with("reason", reason)
            .with("at", e.at.char + 1)
    }
}

impl From<PlayerError> for CommandError {
    fn from(e: PlayerError) -> Self {
        match e {
            PlayerError::Output(t) => t.into(),
            other => {
                log::error!("player: {other:?}");
                CommandError::new(Kind::Player)
            }
        }
    }
}

/// A typed relay address the phone could not use, with the rule it breaks.
pub fn invalid_url(url: &str, e: &PublicUrlError) -> CommandError {
    log::info!("relay address {url:?} refused: {e}");
    let rule = match e {
        PublicUrlError::Scheme(_) => "scheme",
        PublicUrlError::MissingHost => "host",
        PublicUrlError::Port(_) => "port",
        PublicUrlError::UserInfo => "user_info",
        PublicUrlError::Unspecified(_) => "unspecified",
        PublicUrlError::Query => "query",
        PublicUrlError::Fragment => "fragment",
        PublicUrlError::Whitespace => "whitespace",
    };
    CommandError::new(Kind::InvalidUrl)
        .with("url", url)
        .with("rule", rule)
}

/// The editor's model as JSON, read here (not as a typed argument) so that a rule it
/// breaks becomes `invalid_pattern` instead of Tauri's bare English string.
///
/// # Errors
/// `invalid_pattern` (the serde detail goes to the log).
pub fn pattern_from(value: serde_json::Value) -> CommandResult<dglab_core::waveform::Pattern> {
    serde_json::from_value(value).map_err(|e| {
        log::info!("waveform refused: {e}");
        CommandError::new(Kind::InvalidPattern)
    })
}

/// What commands return.
pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn param(e: CommandError, name: &str) -> String {
        e.0.params[name].as_str().unwrap().to_owned()
    }

    #[test]
    fn worded_params_take_only_listed_values() {
        use dglab_core::Channel;
        let names: Vec<_> = worded_params().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, crate::notice::WORDED_PARAMS);
        let urls = [
            PublicUrlError::Scheme(String::new()),
            PublicUrlError::MissingHost,
            PublicUrlError::Port(String::new()),
            PublicUrlError::UserInfo,
            PublicUrlError::Unspecified(String::new()),
            PublicUrlError::Query,
            PublicUrlError::Fragment,
            PublicUrlError::Whitespace,
        ];
        let rules: Vec<_> = urls
            .iter()
            .map(|e| param(invalid_url("x", e), "rule"))
            .collect();
        assert_eq!(rules, URL_RULES);
        for setting in [
            param(
                ConfigError::Cap {
                    channel: Channel::A,
                    cap: 201,
                }
                .into(),
                "setting",
            ),
            param(
                ConfigError::Cap {
                    channel: Channel::B,
                    cap: 201,
                }
                .into(),
                "setting",
            ),
            param(ConfigError::Rate(0).into(), "setting"),
            param(
                ConfigError::Lease(std::time::Duration::ZERO).into(),
                "setting",
            ),
        ] {
            assert!(SETTING_NAMES.contains(&setting.as_str()), "{setting}");
        }
        for text in ["", "x", "Dungeonlab+pulse:", "Dungeonlab+pulse:0,1,8="] {
            if let Err(e) = dglab_core::waveform::share::parse(text) {
                let reason = param(e.into(), "reason");
                assert!(SHARE_REASONS.contains(&reason.as_str()), "{reason}");
            }
        }
    }

    #[test]
    fn errors_carry_values_not_sentences() {
        let e: CommandError = TerminalError::StrengthOutOfRange(300).into();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"kind": "out_of_range", "params": {"value": 300, "max": 200}})
        );
        let e: CommandError = SafetyError::Latched.into();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"kind": "stopped", "params": {}})
        );
    }
}
