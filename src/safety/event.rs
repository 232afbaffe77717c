//! The audit trail: every gate decision that changed or refused a request.
//!
//! Published on the hub's broadcast channel ([`super::SafetyHub::subscribe`]) next to the
//! relay's own `RelayEvent` stream (the desktop app merges the two), and logged. A
//! subscriber that falls behind misses events (`RecvError::Lagged`); the gate never waits.

use crate::protocol::command::Channel;
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// Which limit cut a request down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The user's per-channel cap ([`super::SafetyHub::set_caps`]).
    Cap,
    /// The App's own soft limit, from its last strength report.
    SoftLimit,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    /// The emergency stop is latched until [`super::SafetyHub::rearm`].
    Latched,
    /// The controller's lease lapsed until [`super::SafetyHub::renew_lease`].
    LeaseLapsed,
}

/// Why a channel's target was reset to 0 without being asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetReason {
    /// An App paired (or another App replaced the previous one).
    Paired,
    /// The App left.
    AppLeft,
}

/// How often an unconfirmed stop is sent again.
pub const STOP_RETRY: Duration = Duration::from_secs(1);

/// Why "follow the App's soft limit" was switched on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowChange {
    /// The user asked.
    User,
    /// The emergency stop or the watchdog: nothing may rise by itself afterwards.
    Stopped,
    /// Another App paired (or the same one again): it starts at 0 and stays there.
    Paired,
    /// The App left.
    AppLeft,
}

/// What the emergency stop reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopReport {
    /// Guarded terminals registered with the hub.
    pub terminals: usize,
    /// Apps that were sent 0/0 and both clears.
    pub apps: usize,
    /// Stop hooks (players) called.
    pub stopped_hooks: usize,
    /// Terminals whose App could not be reached, with the reason (typically the App
    /// left at that moment). Their targets are 0 and the latch holds all the same.
    pub failures: Vec<(Uuid, String)>,
    /// Apps that were sent the stop but have not yet confirmed 0 on both channels (their
    /// last report was above 0, or they never reported). The gate re-sends the stop
    /// every [`STOP_RETRY`] until each reports 0/0 ([`SafetyEvent::StopConfirmed`]), leaves,
    /// or the stop is released.
    pub unconfirmed: Vec<Uuid>,
    /// From the call to the last message queued.
    pub elapsed: Duration,
}

/// One audited decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SafetyEvent {
    /// A request above a limit was lowered to it.
    Clamped {
        /// The guarded terminal.
        terminal: Uuid,
        /// Its channel.
        channel: Channel,
        /// The absolute value asked for (a step already turned into current target ± 1).
        asked: u8,
        /// What the target became.
        to: u8,
        /// Which limit applied.
        by: Limit,
    },
    /// A raise became a ramp of +1 steps (one event per request, not per step).
    Ramping {
        /// The guarded terminal.
        terminal: Uuid,
        /// Its channel.
        channel: Channel,
        /// The level the ramp starts from.
        from: u8,
        /// The target it climbs to.
        to: u8,
    },
    /// A request was refused and nothing was sent.
    Refused {
        /// The guarded terminal.
        terminal: Uuid,
        /// Its channel, if the request had one.
        channel: Option<Channel>,
        /// Why.
        why: Block,
    },
    /// A lowered cap or soft limit pulled a channel down at once.
    Lowered {
        /// The guarded terminal.
        terminal: Uuid,
        /// Its channel.
        channel: Channel,
        /// The new level.
        to: u8,
        /// Which limit.
        by: Limit,
    },
    /// The App reported a lower strength than this program sent (turned down on the
    /// phone, or clamped by the App); the target follows it so the gate never fights it.
    AppLowered {
        /// The guarded terminal.
        terminal: Uuid,
        /// Its channel.
        channel: Channel,
        /// The App's level, now the target.
        to: u8,
    },
    /// The App reported a level above what is allowed (another controller, the phone's
    /// dial, or any level while stopped) and was sent back down at once.
    AppAboveLimit {
        /// The guarded terminal.
        terminal: Uuid,
        /// Its channel.
        channel: Channel,
        /// The level the App reported.
        reported: u8,
        /// The level it was sent.
        to: u8,
        /// The most allowed at that moment: the cap or soft limit, or 0 while stopped.
        allowed: u8,
    },
    /// Targets went to 0 because the pairing changed; a newly paired App was also sent
    /// 0 on both channels and both queues were cleared before anything else.
    Reset {
        /// The guarded terminal.
        terminal: Uuid,
        /// The App now paired, if any.
        app: Option<Uuid>,
        /// Why.
        why: ResetReason,
    },
    /// "Follow the App's soft limit" was switched on or off for a channel.
    FollowSoftLimit {
        /// The guarded terminal.
        terminal: Uuid,
        /// Its channel.
        channel: Channel,
        /// On or off now.
        on: bool,
        /// Who or what switched it.
        why: FollowChange,
    },
    /// The user changed the caps.
    CapsChanged {
        /// Channel A's cap.
        cap_a: u8,
        /// Channel B's cap.
        cap_b: u8,
    },
    /// An App reported 0 on both channels after a stop (or watchdog trip) was sent to it.
    StopConfirmed {
        /// The guarded terminal.
        terminal: Uuid,
        /// The App.
        app: Uuid,
    },
    /// The emergency stop fired and latched.
    EmergencyStop(StopReport),
    /// The latch was released; every target is still 0.
    Rearmed,
    /// The controller's lease lapsed: every channel went to 0 and players stopped.
    WatchdogTripped(StopReport),
    /// The lease was renewed after a lapse; targets are still 0.
    LeaseRenewed,
}

impl SafetyEvent {
    /// Writes the event to the log: refusals and stops as warnings, the rest as info.
    pub(crate) fn log(&self) {
        match self {
            SafetyEvent::Refused { .. }
            | SafetyEvent::AppAboveLimit { .. }
            | SafetyEvent::EmergencyStop(_)
            | SafetyEvent::WatchdogTripped(_) => log::warn!("safety: {self:?}"),
            _ => log::info!("safety: {self:?}"),
        }
    }
}
