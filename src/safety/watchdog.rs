//! The controller's lease: if the UI (or an API client) stops renewing it, everything
//! goes to 0 and players stop.
//!
//! Choice: on lapse every channel drops to 0 *immediately* (like the emergency stop:
//! 0/0 and both clears to every App, hooks called) rather than ramping down — lowering is
//! never delayed anywhere in the gate, and a controller that vanished cannot be trusted to
//! have meant the current strength. Unlike the emergency stop it does not need a re-arm:
//! [`super::SafetyHub::renew_lease`] lifts it, with every target still 0. While lapsed,
//! requests above 0 and pulses are refused with `SafetyError::LeaseLapsed`.

use super::hub::HubInner;
use std::sync::{Arc, Weak};
use tokio::sync::Notify;
use tokio::time::{sleep_until, Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Spawns the watchdog task; it holds the hub weakly and ends with it.
pub(crate) fn spawn(hub: Weak<HubInner>, changed: Arc<Notify>, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let deadline = {
                let Some(hub) = hub.upgrade() else { return };
                if hub.lapsed() {
                    None
                } else {
                    let d = hub.lease_deadline();
                    if Instant::now() >= d {
                        hub.trip_watchdog();
                        None
                    } else {
                        Some(d)
                    }
                }
            };
            let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = changed.notified() => {}
                _ = sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {}
            }
        }
    });
}
