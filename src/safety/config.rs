//! What the user decides about safety (caps, rise rate, watchdog), validated once.

use crate::protocol::command::{Channel, MAX_STRENGTH};
use std::time::Duration;

/// The safety hub's settings. Start from [`SafetyConfig::default`] (the desktop app's
/// settings) and change the fields you need (the headless binary maps its flags onto
/// them, watchdog off), then hand it to [`super::SafetyHub::new`], which validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyConfig {
    /// Highest strength this program will ever send on channel A (0..=200).
    pub cap_a: u8,
    /// Highest strength this program will ever send on channel B (0..=200).
    pub cap_b: u8,
    /// Fastest rise, in strength units per second (1..=200): each raise is a single +1
    /// step at least `1 s / max_rise_per_sec` after the channel's previous raise.
    pub max_rise_per_sec: u16,
    /// How long a controller's lease lasts without [`super::SafetyHub::renew_lease`];
    /// `None` turns the watchdog off (the headless relay has no one to renew it).
    pub watchdog: Option<Duration>,
}

impl SafetyConfig {
    /// A cautious cap: well below the App's ceiling of 200, enough to feel.
    pub const DEFAULT_CAP: u8 = 40;
    /// Ten units per second: a slider jump 0 → 80 takes eight seconds.
    pub const DEFAULT_MAX_RISE_PER_SEC: u16 = 10;
    /// The desktop UI renews every second or so; two seconds tolerate one missed beat.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(2);
    /// Shorter leases would trip on ordinary scheduling hiccups.
    pub const MIN_LEASE: Duration = Duration::from_millis(100);
    /// Faster than this would be no ramp at all (5 ms per step).
    pub const MAX_RISE_PER_SEC: u16 = 200;

    /// Checks every field's range.
    ///
    /// # Errors
    /// [`ConfigError::Cap`] for a cap above 200, [`ConfigError::Rate`] for a rate outside
    /// 1..=200, [`ConfigError::Lease`] for a lease shorter than 100 ms.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (channel, cap) in [(Channel::A, self.cap_a), (Channel::B, self.cap_b)] {
            check_cap(channel, cap)?;
        }
        if !(1..=Self::MAX_RISE_PER_SEC).contains(&self.max_rise_per_sec) {
            return Err(ConfigError::Rate(self.max_rise_per_sec));
        }
        if let Some(lease) = self.watchdog {
            if lease < Self::MIN_LEASE {
                return Err(ConfigError::Lease(lease));
            }
        }
        Ok(())
    }

    /// The shortest time between two raises of one channel.
    pub fn rise_interval(&self) -> Duration {
        Duration::from_nanos(1_000_000_000 / u64::from(self.max_rise_per_sec.max(1)))
    }

    /// The cap of one channel.
    pub fn cap(&self, channel: Channel) -> u8 {
        match channel {
            Channel::A => self.cap_a,
            Channel::B => self.cap_b,
        }
    }
}

impl Default for SafetyConfig {
    /// Caps 40/40, 10 units per second, a 2 s lease (the desktop app's settings).
    fn default() -> Self {
        SafetyConfig {
            cap_a: Self::DEFAULT_CAP,
            cap_b: Self::DEFAULT_CAP,
            max_rise_per_sec: Self::DEFAULT_MAX_RISE_PER_SEC,
            watchdog: Some(Self::DEFAULT_LEASE),
        }
    }
}

pub(crate) fn check_cap(channel: Channel, cap: u8) -> Result<(), ConfigError> {
    if cap > MAX_STRENGTH {
        return Err(ConfigError::Cap { channel, cap });
    }
    Ok(())
}

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Caps are strengths, 0..=200.
    #[error("cap {cap} for channel {channel} is above the App's ceiling of 200")]
    Cap {
        /// Which channel.
        channel: Channel,
        /// The value asked for.
        cap: u8,
    },
    /// The rise rate must be 1..=200 units per second.
    #[error("max rise {0}/s is outside 1..=200")]
    Rate(u16),
    /// The lease must be at least 100 ms.
    #[error("watchdog lease {0:?} is shorter than 100 ms")]
    Lease(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validate() {
        let c = SafetyConfig::default();
        assert_eq!(
            (c.cap_a, c.cap_b, c.max_rise_per_sec, c.watchdog),
            (40, 40, 10, Some(Duration::from_secs(2)))
        );
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.rise_interval(), Duration::from_millis(100));
        let with = |f: fn(&mut SafetyConfig)| {
            let mut c = SafetyConfig::default();
            f(&mut c);
            c.validate()
        };
        assert_eq!(
            with(|c| c.cap_a = 201),
            Err(ConfigError::Cap {
                channel: Channel::A,
                cap: 201
            })
        );
        assert_eq!(with(|c| c.max_rise_per_sec = 0), Err(ConfigError::Rate(0)));
        assert_eq!(
            with(|c| c.max_rise_per_sec = 201),
            Err(ConfigError::Rate(201))
        );
        assert!(matches!(
            with(|c| c.watchdog = Some(Duration::from_millis(10))),
            Err(ConfigError::Lease(_))
        ));
        assert_eq!(with(|c| c.watchdog = None), Ok(()));
    }
}
