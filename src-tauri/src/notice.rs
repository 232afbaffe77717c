//! What the window is told, as data: `{kind, params}`. The window words every kind in the
//! user's language (`ui/js/lib/i18n.js`, table `msg.<kind>`); nothing here is a sentence.
//!
//! One shape serves command errors ([`crate::error::CommandError`]), the safety gate's
//! decisions (the `safety:event` payload), share-string repairs, a player's failure and the
//! start-up notices, so one wording table covers them all. [`Kind::ALL`] is the list the
//! contract test holds the UI's table against.

use dglab_core::safety::{Block, FollowChange, Limit, ResetReason, SafetyEvent};
use dglab_core::waveform::share::{Warning, WarningKind};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// Declares [`Kind`] with its wire names and the complete list of them, so a kind cannot
/// be added without the contract test (and the UI's wording table) seeing it.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every kind the window may receive, errors and notices alike.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[$doc])* $variant,)*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The stable machine word the UI switches on and looks up.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }
        }
    };
}

kinds! {
    // Errors of the terminal and the gate.
    /// No App is paired with our terminal.
    NotPaired = "not_paired",
    /// The link to the phone is gone.
    PhoneGone = "phone_gone",
    /// `{value, max}`: a strength outside 0..=200.
    OutOfRange = "out_of_range",
    /// `{frames?, max?}`: more frames than one App message holds.
    TooLong = "too_long",
    /// `{code}`: the relay refused a command.
    Refused = "refused",
    /// The link's send queue is full.
    Busy = "busy",
    /// `{channel?}`: the emergency stop is latched (an error, or the gate's refusal).
    Stopped = "stopped",
    /// `{channel?}`: the watchdog lease lapsed (an error, or the gate's refusal).
    Watchdog = "watchdog",
    // Errors of settings, presets, waveforms and pairing.
    /// `{setting, min, max}`: a setting outside its range; `setting` is worded too.
    InvalidSetting = "invalid_setting",
    /// The language is neither `en` nor `zh`.
    InvalidLanguage = "invalid_language",
    /// The theme is not `system`, `light` or `dark`.
    InvalidTheme = "invalid_theme",
    /// `{path}`: the desktop could not open a folder (no file manager, no such folder).
    OpenFailed = "open_failed",
    /// `{what}`: a file could not be read or written (`settings` or `presets`).
    Io = "io",
    /// `{moved_to}`: the presets file was unreadable and moved aside.
    PresetsCorrupt = "presets_corrupt",
    /// `{name}`: a built-in preset cannot change.
    ReadOnly = "read_only",
    /// `{name}`: no preset has this name.
    NotFound = "not_found",
    /// `{name}`: the name is taken (the UI then asks whether to replace it).
    Exists = "exists",
    /// `{name}`: the name cannot be used.
    InvalidName = "invalid_name",
    /// `{name}`: a plain frame list has no pattern to edit.
    NotEditable = "not_editable",
    /// The waveform breaks a rule of the App's model (the detail goes to the log).
    InvalidPattern = "invalid_pattern",
    /// `{reason, at}`: not a share string; `reason` is worded too.
    InvalidShare = "invalid_share",
    /// The waveform player failed (the detail goes to the log).
    Player = "player",
    /// `{url, rule}`: a typed relay address breaks a rule; `rule` is worded too.
    InvalidUrl = "invalid_url",
    /// The pairing URL does not fit in a QR code.
    Qr = "qr",
    /// `{command, arg}` (for the console; the wording names neither): Tauri could not read
    /// a command's arguments. Built by `ui/js/backend.js` from Tauri's own rejection.
    InvalidArgs = "invalid_args",
    // The virtual App ("try without a phone", issue 14).
    /// Our terminal already has an App (a phone): the virtual one cannot pair too.
    VirtualAppBusy = "virtual_app_busy",
    /// `{code}`: the virtual App could not connect or pair (`code` may be null; the detail
    /// goes to the log).
    VirtualAppFailed = "virtual_app_failed",
    /// The virtual App is not running.
    VirtualAppOff = "virtual_app_off",
    // DG-LAB App 4.x (issue 13).
    /// That DG-LAB App 4.x, or its device slot, is no longer there.
    DeviceGone = "device_gone",
    // What the safety gate did (the `safety:event` payload).
    /// `{channel, asked, to}`: lowered to the user's cap.
    ClampedCap = "clamped_cap",
    /// `{channel, asked, to}`: lowered to the App's soft limit.
    ClampedSoftLimit = "clamped_soft_limit",
    /// `{channel, from, to}`: a raise became a gentle ramp.
    Ramping = "ramping",
    /// `{channel, to}`: a lowered cap pulled the channel down.
    LoweredCap = "lowered_cap",
    /// `{channel, to}`: a lowered soft limit pulled the channel down.
    LoweredSoftLimit = "lowered_soft_limit",
    /// `{channel, to}`: turned down on the phone; the target follows.
    AppLowered = "app_lowered",
    /// `{channel, reported, to, allowed}`: the App reported more than allowed (another
    /// controller, the phone's dial, or anything while stopped) and was sent back down.
    AppAboveLimit = "app_above_limit",
    /// `{channel}`: the channel now follows the App's soft limit.
    FollowOn = "follow_on",
    /// `{channel}`: following the soft limit was switched off by the user.
    FollowOff = "follow_off",
    /// `{channel}`: a stop switched following off; it stays off after re-arming.
    FollowOffStopped = "follow_off_stopped",
    /// `{channel}`: a new pairing switched following off.
    FollowOffPaired = "follow_off_paired",
    /// `{channel}`: the App left, so following is off.
    FollowOffAppLeft = "follow_off_app_left",
    /// `{app}`: the App reported 0 on both channels after the stop.
    StopConfirmed = "stop_confirmed",
    /// A phone paired: both targets start at 0.
    ResetPaired = "reset_paired",
    /// The phone left: both targets are back at 0.
    ResetAppLeft = "reset_app_left",
    /// `{cap_a, cap_b}`: the user changed the caps.
    CapsChanged = "caps_changed",
    /// `{apps, …}`: the emergency stop fired and latched.
    EmergencyStop = "emergency_stop",
    /// The latch was released; every target is still 0.
    Rearmed = "rearmed",
    /// The window stopped renewing its lease: output went to 0.
    WatchdogTripped = "watchdog_tripped",
    /// The lease was renewed after a lapse; targets are still 0.
    LeaseRenewed = "lease_renewed",
    // Repairs the share-string reader made (`{at}` plus the fields named).
    /// The prefix is spelled in another letter case.
    SharePrefixCase = "share_prefix_case",
    /// No header: defaults were used.
    ShareMissingHeader = "share_missing_header",
    /// `{found}`: the header does not have 3 fields.
    ShareHeaderFieldCount = "share_header_field_count",
    /// `{found}`: a section does not have 5 parameters.
    ShareSectionFieldCount = "share_section_field_count",
    /// `{field, text, used}`: not a number; default used.
    ShareNotANumber = "share_not_a_number",
    /// `{field, text, used}`: not a whole number; floored.
    ShareNotAnInteger = "share_not_an_integer",
    /// `{field, text, used}`: out of range; clamped.
    ShareOutOfRange = "share_out_of_range",
    /// `{text}`: play rate not 1, 2 or 4.
    SharePlayRate = "share_play_rate",
    /// `{text}`: mode not 1..=4.
    ShareMode = "share_mode",
    /// `{text}`: switch not 0 or 1.
    ShareSwitch = "share_switch",
    /// An empty section was ignored.
    ShareEmptySection = "share_empty_section",
    /// A section without `/` was dropped.
    ShareSectionWithoutSlash = "share_section_without_slash",
    /// A section without a usable point was dropped.
    ShareSectionWithoutPoints = "share_section_without_points",
    /// A section has a single point; kept.
    ShareSinglePoint = "share_single_point",
    /// An empty point was ignored.
    ShareEmptyPoint = "share_empty_point",
    /// `{text}`: a point value is not a number; dropped.
    SharePointNotANumber = "share_point_not_a_number",
    /// `{text}`: a point value above 100; clamped.
    SharePointOutOfRange = "share_point_out_of_range",
    /// `{text}`: a point value with more than 2 decimals; cut.
    SharePointDecimals = "share_point_decimals",
    /// `{text}`: a point flag not 0 or 1; treated as 0.
    ShareFlag = "share_flag",
    // Start-up notices.
    /// `{moved_to}`: the settings file was unreadable; defaults are in use.
    SettingsRecovered = "settings_recovered",
    /// `{moved_to}`: the presets file was unreadable and moved aside.
    PresetsRecovered = "presets_recovered",
    /// `{names, moved_to}`: some presets were wrong on their own and set aside, the rest
    /// stayed; `names` lists them, comma-separated.
    PresetsSetAside = "presets_set_aside",
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Values of the `field` param (share-string repairs): the core's field names as codes.
pub const SHARE_FIELDS: &[&str] = &[
    "rest",
    "play_rate",
    "balance",
    "freq_a",
    "freq_b",
    "duration",
    "mode",
    "other",
];

/// The code of a share-string field the core names in words ("play rate" → `play_rate`).
fn share_field(name: &str) -> &'static str {
    let code = name.replace([' ', '-'], "_");
    SHARE_FIELDS
        .iter()
        .find(|f| **f == code)
        .copied()
        .unwrap_or("other")
}

/// Params whose value is itself a word the UI translates (`<param>.<value>` in its table).
pub const WORDED_PARAMS: &[&str] = &["setting", "rule", "reason", "what", "field"];

/// One thing to tell the user: a kind and the values its wording needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// What happened.
    pub kind: Kind,
    /// Numbers, channel letters, names and paths the wording fills in (never sentences).
    pub params: Map<String, Value>,
}

impl Notice {
    /// A notice without params.
    pub fn new(kind: Kind) -> Self {
        Notice {
            kind,
            params: Map::new(),
        }
    }

    /// Adds one param.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.params.insert(name.to_owned(), value);
        self
    }
}

/// What the safety gate did, as the window words it. The kind names the wording; the
/// params are the event's own fields.
pub fn safety(ev: &SafetyEvent) -> Notice {
    match ev {
        SafetyEvent::Clamped {
            channel,
            asked,
            to,
            by,
            ..
        } => Notice::new(match by {
            Limit::Cap => Kind::ClampedCap,
            Limit::SoftLimit => Kind::ClampedSoftLimit,
        })
        .with("channel", channel)
        .with("asked", asked)
        .with("to", to),
        SafetyEvent::Ramping {
            channel, from, to, ..
        } => Notice::new(Kind::Ramping)
            .with("channel", channel)
            .with("from", from)
            .with("to", to),
        SafetyEvent::Refused { channel, why, .. } => Notice::new(match why {
            Block::Latched => Kind::Stopped,
            Block::LeaseLapsed => Kind::Watchdog,
        })
        .with("channel", channel),
        SafetyEvent::Lowered {
            channel, to, by, ..
        } => Notice::new(match by {
            Limit::Cap => Kind::LoweredCap,
            Limit::SoftLimit => Kind::LoweredSoftLimit,
        })
        .with("channel", channel)
        .with("to", to),
        SafetyEvent::AppLowered { channel, to, .. } => Notice::new(Kind::AppLowered)
            .with("channel", channel)
            .with("to", to),
        SafetyEvent::AppAboveLimit {
            channel,
            reported,
            to,
            allowed,
            ..
        } => Notice::new(Kind::AppAboveLimit)
            .with("channel", channel)
            .with("reported", reported)
            .with("to", to)
            .with("allowed", allowed),
        SafetyEvent::FollowSoftLimit {
            channel, on, why, ..
        } => Notice::new(match (on, why) {
            (true, _) => Kind::FollowOn,
            (false, FollowChange::User) => Kind::FollowOff,
            (false, FollowChange::Stopped) => Kind::FollowOffStopped,
            (false, FollowChange::Paired) => Kind::FollowOffPaired,
            (false, FollowChange::AppLeft) => Kind::FollowOffAppLeft,
        })
        .with("channel", channel),
        SafetyEvent::StopConfirmed { app, .. } => Notice::new(Kind::StopConfirmed).with("app", app),
        SafetyEvent::Reset { why, app, .. } => Notice::new(match why {
            ResetReason::Paired => Kind::ResetPaired,
            ResetReason::AppLeft => Kind::ResetAppLeft,
        })
        .with("app", app),
        SafetyEvent::CapsChanged { cap_a, cap_b } => Notice::new(Kind::CapsChanged)
            .with("cap_a", cap_a)
            .with("cap_b", cap_b),
        SafetyEvent::EmergencyStop(r) => Notice::new(Kind::EmergencyStop)
            .with("apps", r.apps)
            .with("failures", r.failures.len())
            .with("unconfirmed", r.unconfirmed.len()),
        SafetyEvent::Rearmed => Notice::new(Kind::Rearmed),
        SafetyEvent::WatchdogTripped(r) => Notice::new(Kind::WatchdogTripped)
            .with("apps", r.apps)
            .with("failures", r.failures.len()),
        SafetyEvent::LeaseRenewed => Notice::new(Kind::LeaseRenewed),
    }
}

/// A repair the share-string reader made, with the character where it starts.
pub fn share_warning(w: &Warning) -> Notice {
    use WarningKind as W;
    let field = |kind, field: &str, text: &str, used: u64| {
        Notice::new(kind)
            .with("field", share_field(field))
            .with("text", text)
            .with("used", used)
    };
    let notice = match &w.kind {
        W::PrefixCase => Notice::new(Kind::SharePrefixCase),
        W::MissingHeader => Notice::new(Kind::ShareMissingHeader),
        W::HeaderFieldCount { found } => {
            Notice::new(Kind::ShareHeaderFieldCount).with("found", found)
        }
        W::SectionFieldCount { found } => {
            Notice::new(Kind::ShareSectionFieldCount).with("found", found)
        }
        W::NotANumber {
            field: f,
            text,
            used,
        } => field(Kind::ShareNotANumber, f, text, *used),
        W::NotAnInteger {
            field: f,
            text,
            used,
        } => field(Kind::ShareNotAnInteger, f, text, *used),
        W::OutOfRange {
            field: f,
            text,
            used,
        } => field(Kind::ShareOutOfRange, f, text, *used),
        W::PlayRate { text } => Notice::new(Kind::SharePlayRate).with("text", text),
        W::Mode { text } => Notice::new(Kind::ShareMode).with("text", text),
        W::Switch { text } => Notice::new(Kind::ShareSwitch).with("text", text),
        W::EmptySection => Notice::new(Kind::ShareEmptySection),
        W::SectionWithoutSlash => Notice::new(Kind::ShareSectionWithoutSlash),
        W::SectionWithoutPoints => Notice::new(Kind::ShareSectionWithoutPoints),
        W::SinglePoint => Notice::new(Kind::ShareSinglePoint),
        W::EmptyPoint => Notice::new(Kind::ShareEmptyPoint),
        W::PointNotANumber { text } => Notice::new(Kind::SharePointNotANumber).with("text", text),
        W::PointOutOfRange { text } => Notice::new(Kind::SharePointOutOfRange).with("text", text),
        W::PointDecimals { text } => Notice::new(Kind::SharePointDecimals).with("text", text),
        W::Flag { text } => Notice::new(Kind::ShareFlag).with("text", text),
    };
    // 1-based, as a person counts characters.
    notice.with("at", w.at.char + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn share_fields_become_codes() {
        assert_eq!(share_field("play rate"), "play_rate");
        assert_eq!(share_field("freq-a"), "freq_a");
        assert_eq!(share_field("rest"), "rest");
        assert_eq!(share_field("something new"), "other");
        let w =
            dglab_core::waveform::share::parse("Dungeonlab+pulse:0,x,8=0,20,0,1,1/0-1,50-0,100-1")
                .unwrap()
                .warnings;
        let n = share_warning(&w[0]);
        assert_eq!(n.params["field"], "play_rate", "{n:?}");
    }

    #[test]
    fn kinds_are_unique_snake_case_words() {
        let mut seen = HashSet::new();
        for k in Kind::ALL {
            let s = k.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
    }

    #[test]
    fn a_notice_serializes_as_kind_and_params() {
        let n = Notice::new(Kind::OutOfRange)
            .with("value", 300)
            .with("max", 200);
        assert_eq!(
            serde_json::to_value(&n).unwrap(),
            serde_json::json!({"kind": "out_of_range", "params": {"value": 300, "max": 200}})
        );
    }
}
