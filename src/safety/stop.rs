//! Stop hooks: how players (and anything else that makes the box do something on its own)
//! are stopped by the emergency stop and the watchdog.
//!
//! A player registers once and keeps the registration while it runs:
//!
//! ```
//! # use dglab_core::safety::{SafetyHub, SafetyConfig};
//! # use tokio_util::sync::CancellationToken;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hub = SafetyHub::new(SafetyConfig::default()).unwrap();
//! let token = CancellationToken::new();
//! // Either a token (cancelled on stop) or any `Fn() + Send + Sync` closure.
//! let registration = hub.register_stop(token.clone());
//! hub.emergency_stop();
//! assert!(token.is_cancelled());
//! drop(registration); // unregisters
//! # }
//! ```
//!
//! A waveform player registers [`crate::player::Player::stop_hook`], which
//! holds the player weakly and leaves it [`crate::player::PlayState::Stopped`].
//!
//! The hook runs on the caller of `emergency_stop` (or the watchdog task), after the
//! latch is set and every App was sent 0 and clear, with no gate lock held (so a hook may
//! send a `clear-N` through a guarded terminal): it must not block. The latch already
//! refuses the player's next `add_pulses`, so stopping is about tidiness, not safety.

use super::hub::HubInner;
use std::sync::{Arc, Weak};
use tokio_util::sync::CancellationToken;

/// Something the hub stops on emergency stop or watchdog lapse.
pub trait Stoppable: Send + Sync {
    /// Stops now; must not block (it runs inside the emergency stop).
    fn stop(&self);
}

impl<F: Fn() + Send + Sync> Stoppable for F {
    fn stop(&self) {
        self()
    }
}

impl Stoppable for CancellationToken {
    fn stop(&self) {
        self.cancel();
    }
}

/// Keeps a hook registered; dropping it unregisters the hook.
#[must_use = "dropping the registration unregisters the hook at once"]
pub struct StopRegistration {
    /// Weak so a forgotten registration does not keep the hub alive.
    pub(crate) hub: Weak<HubInner>,
    /// The hook's key in the hub's table.
    pub(crate) id: u64,
}

impl std::fmt::Debug for StopRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopRegistration")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for StopRegistration {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.hooks().remove(&self.id);
        }
    }
}

/// The hook table entry.
pub(crate) type Hook = Arc<dyn Stoppable>;
