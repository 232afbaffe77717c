//! Streams a waveform to one channel of the App, 100 ms at a time, without gaps.
//!
//! The App keeps a queue of at most 500 frames per channel and plays one every 100 ms;
//! one `pulse-` message carries at most ~86 frames. A [`Player`] owns one channel: a
//! small task wakes at every frame boundary and keeps a short, bounded lead queued at
//! the App (by default at least 0.5 s and at most 0.7 s), so a stop or a switch never
//! has much to throw away and a vanished terminal leaves the App at most that lead to
//! play. Make one player per channel; the two are fully independent and may share the
//! same output (one [`crate::Terminal`]).
//!
//! Guarantees, and why they hold:
//! - **No gaps**: the player refills whenever its estimate of the App's queue drops below
//!   `lead` frames. The estimate assumes the App started playing when the first chunk was
//!   sent, which is never later than it really did, so the real queue is at least the
//!   estimate minus one frame of App-clock phase minus the frames that play while a
//!   chunk is in flight. With the default 5 frames, a link delay up to ~300 ms cannot
//!   starve the App. A loop wraps inside a chunk, so the end of a pass (its rest frames
//!   included) is followed directly by its start.
//! - **Bounded, no overflow**: the estimated lead never exceeds `lead + top_up` (capped at
//!   100 frames, a fifth of the App's queue); the real queue exceeds the estimate by at
//!   most the first chunk's delay plus one frame.
//! - **Stop is final**: [`Player::stop`] takes the player's lock, bumps a generation
//!   counter, drops the job and sends `clear-N`. The only code that sends pulses runs
//!   under that same lock and checks the generation right before each send, so once
//!   `stop` returns no pulse of the stopped waveform can be sent. Pulses already in
//!   flight reach the App before the clear (one ordered link) and are wiped by it.
//! - **Clean switch**: [`Player::play`] while playing sends `clear-N` at once, then waits
//!   `switch_gap` (default 100 ms) before the new pass, because docs/protocol.md warns that
//!   pulses sent in the same instant as a clear may be wiped by it. Switch latency is
//!   `switch_gap` + link delay + up to one App frame.
//!
//! - **Safety**: on a [`crate::GuardedTerminal`] every pulse passes the gate, which
//!   refuses them while the emergency stop is latched (or the lease lapsed): `play()`
//!   then fails with [`PlayerError::Output`]`(`[`SafetyError::Latched`]`)` and a pass in
//!   progress ends as [`PlayState::Failed`]. Register [`Player::stop_hook`] with the hub
//!   so the emergency stop also stops the player ([`PlayState::Stopped`]).
//!
//! Known limit: the App's clock is not observable. A phone clock running fast by ε eats
//! the lead at ε × elapsed (50 ppm: 0.18 s per hour of continuous looping); the default
//! margin absorbs a few hours of that. Output errors are never retried: they stop
//! playback and show as [`PlayState::Failed`].

mod output;
mod schedule;

pub use output::PulseOutput;

use crate::protocol::command::Channel;
use crate::protocol::Frame;
use crate::safety::{SafetyError, Stoppable};
use schedule::{Limits, Slot};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the App plays one frame.
pub const FRAME_TIME: Duration = Duration::from_millis(100);

/// Most lead a player may be configured to keep: 100 frames, a fifth of the App's queue.
pub const MAX_LEAD: Duration = Duration::from_secs(10);

/// Play a pass once or loop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Repeat {
    /// One pass, then [`PlayState::Finished`].
    Once,
    /// Pass after pass (each including its rest frames) until stopped or replaced.
    #[default]
    Loop,
}

/// Tuning for a [`Player`]. The defaults suit a LAN or a phone on Wi-Fi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerConfig {
    /// Refill when the estimated queue at the App drops below this (rounded up to whole
    /// frames). Must exceed the worst link delay plus one frame. Default 500 ms.
    pub lead: Duration,
    /// How much to add on top of `lead` per refill; larger means fewer, bigger messages.
    /// Default 200 ms.
    pub top_up: Duration,
    /// Pause after a `clear-N` before the next pulses, so the clear is not overtaken.
    /// 50..=150 ms is the useful range; default 100 ms.
    pub switch_gap: Duration,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        PlayerConfig {
            lead: Duration::from_millis(500),
            top_up: Duration::from_millis(200),
            switch_gap: Duration::from_millis(100),
        }
    }
}

impl PlayerConfig {
    /// Checks the bounds documented on each field.
    ///
    /// # Errors
    /// [`PlayerError::Config`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), PlayerError> {
        if self.lead < FRAME_TIME {
            return Err(PlayerError::Config(
                "lead must be at least one frame (100 ms)",
            ));
        }
        if self.lead + self.top_up > MAX_LEAD {
            return Err(PlayerError::Config("lead + top_up must not exceed 10 s"));
        }
        if self.switch_gap > Duration::from_secs(1) {
            return Err(PlayerError::Config("switch_gap must not exceed 1 s"));
        }
        Ok(())
    }
}

/// Where a player is, as a UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PlayState {
    /// Nothing was played yet.
    #[default]
    Idle,
    /// A new pass waits for the switch gap after a clear.
    Waiting,
    /// Frames are being streamed.
    Playing,
    /// A [`Repeat::Once`] pass has played to its end.
    Finished,
    /// [`Player::stop`] was called.
    Stopped,
    /// The output refused a command (the safety gate's latch or lease, or the terminal);
    /// playback stopped and is not retried.
    Failed(SafetyError),
}

/// A snapshot of a player, published on every frame boundary and every command.
///
/// Positions are estimates: the App does not report what it plays.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Progress {
    /// Which `play()`/`stop()` this snapshot belongs to (see [`Player::play`]).
    pub generation: u64,
    /// What the player is doing.
    pub state: PlayState,
    /// Frames in one pass (0 when nothing plays).
    pub pass_frames: usize,
    /// Index in the pass of the frame the App is playing now.
    pub position: usize,
    /// Passes the App has completed.
    pub loops: u64,
    /// Frames queued at the App and not yet played.
    pub lead_frames: u64,
    /// Frames sent for this pass so far, over all loops.
    pub sent_frames: u64,
    /// Times the player woke too late and the App may have run dry (should stay 0).
    pub underruns: u64,
}

/// Why a player call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlayerError {
    /// A [`PlayerConfig`] field is out of range.
    #[error("invalid player config: {0}")]
    Config(&'static str),
    /// A pass must hold at least one frame.
    #[error("a waveform pass must hold at least one frame")]
    EmptyPass,
    /// Players run on tokio; none was running.
    #[error("a player must be spawned inside a tokio runtime")]
    NoRuntime,
    /// The output refused the clear that precedes a switch, or the gate refuses pulses
    /// (emergency stop latched, lease lapsed); playback stopped.
    #[error(transparent)]
    Output(#[from] SafetyError),
}

/// What the handles and the driver task share.
struct Shared {
    /// The channel this player owns.
    channel: Channel,
    /// The App (or a stand-in). Called only with `slot` locked.
    output: Box<dyn PulseOutput>,
    /// Frame counts from the config and the output's message limit.
    limits: Limits,
    /// The state; a `std` mutex because it is never held across `.await`, and every
    /// send happens while it is held (stop-finality depends on that).
    slot: Mutex<Slot>,
    /// Wakes the driver after `play`/`stop` so it re-plans at once.
    wake: Notify,
    /// Progress for UIs; written only with `slot` locked so snapshots stay in order.
    progress: watch::Sender<Progress>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // A panic while locked leaves a consistent Slot (each field is written whole),
        // and refusing to stop would be worse than going on.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, slot: &Slot, now: Instant) {
        self.progress.send_replace(slot.progress(now));
    }

    fn step(&self, now: Instant) -> Option<Instant> {
        let mut slot = self.lock();
        let next = slot.step(&*self.output, self.channel, &self.limits, now);
        self.publish(&slot, now);
        next
    }

    fn stop(&self) -> Result<(), SafetyError> {
        let now = Instant::now();
        let mut slot = self.lock();
        let result = slot.stop(&*self.output, self.channel, now);
        self.publish(&slot, now);
        drop(slot);
        self.wake.notify_one();
        result
    }
}

/// Owns the driver task; stopping and cancelling it when the last [`Player`] goes.
struct Owner {
    shared: Arc<Shared>,
    cancel: CancellationToken,
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Nobody can stop the waveform any more, so stop it now.
        let _ = self.shared.stop();
        self.cancel.cancel();
    }
}

/// A handle to one channel's player. Cheap to clone, `Send + Sync`; every method is
/// synchronous and returns promptly, so a safety gate may call [`Player::stop`] from
/// any thread. Dropping the last clone stops playback (and clears the App's queue).
#[derive(Clone)]
pub struct Player {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("channel", &self.owner.shared.channel)
            .field("progress", &*self.owner.shared.progress.borrow())
            .finish()
    }
}

impl Player {
    /// Starts an idle player for `channel` of `output` on the current tokio runtime.
    ///
    /// # Errors
    /// [`PlayerError::Config`] for a config out of range, [`PlayerError::NoRuntime`]
    /// outside a tokio runtime.
    pub fn spawn<O: PulseOutput>(
        output: O,
        channel: Channel,
        config: PlayerConfig,
    ) -> Result<Player, PlayerError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| PlayerError::NoRuntime)?;
        let limits = Limits::new(&config, output.max_frames());
        let shared = Arc::new(Shared {
            channel,
            output: Box::new(output),
            limits,
            slot: Mutex::new(Slot::new()),
            wake: Notify::new(),
            progress: watch::Sender::new(Progress::default()),
        });
        let cancel = CancellationToken::new();
        runtime.spawn(drive(shared.clone(), cancel.clone()));
        Ok(Player {
            owner: Arc::new(Owner { shared, cancel }),
        })
    }

    /// The channel this player streams to.
    pub fn channel(&self) -> Channel {
        self.owner.shared.channel
    }

    /// Plays `frames` (one pass, rest frames included) once or in a loop, replacing
    /// whatever plays now. If something was playing, the App's queue is cleared at once
    /// and the new pass starts after the switch gap. Returns the new generation, which
    /// [`Progress::generation`] repeats.
    ///
    /// # Errors
    /// [`PlayerError::EmptyPass`] for no frames (nothing changes);
    /// [`PlayerError::Output`] if the clear was refused: the old waveform is no longer
    /// sent, and the state is [`PlayState::Failed`].
    pub fn play(
        &self,
        frames: impl Into<Arc<[Frame]>>,
        repeat: Repeat,
    ) -> Result<u64, PlayerError> {
        let frames = frames.into();
        if frames.is_empty() {
            return Err(PlayerError::EmptyPass);
        }
        let shared = &self.owner.shared;
        let now = Instant::now();
        let mut slot = shared.lock();
        let result = slot.play(
            &*shared.output,
            shared.channel,
            &shared.limits,
            frames,
            repeat,
            now,
        );
        shared.publish(&slot, now);
        drop(slot);
        shared.wake.notify_one();
        Ok(result?)
    }

    /// Stops playback now and for good, and sends `clear-N`. Once this returns, no pulse
    /// of the stopped waveform is sent again. Safe to call at any time, from any thread,
    /// any number of times.
    ///
    /// # Errors
    /// The output's error if the clear could not be sent (e.g. not paired). Playback is
    /// stopped either way.
    pub fn stop(&self) -> Result<(), SafetyError> {
        self.owner.shared.stop()
    }

    /// A hook that stops this player, for [`crate::SafetyHub::register_stop`], so the
    /// emergency stop and the watchdog stop it (state [`PlayState::Stopped`]):
    ///
    /// ```no_run
    /// # use dglab_core::{Channel, SafetyConfig, SafetyHub, GuardedTerminal};
    /// # use dglab_core::player::{Player, PlayerConfig};
    /// # fn f(hub: &SafetyHub, terminal: GuardedTerminal) {
    /// let player = Player::spawn(terminal, Channel::A, PlayerConfig::default()).unwrap();
    /// let registration = hub.register_stop(player.stop_hook());
    /// // Keep `registration` as long as `player`; dropping it unregisters the hook.
    /// # }
    /// ```
    ///
    /// The hook holds the player weakly: registering it neither keeps the player alive
    /// (dropping the last [`Player`] still stops it) nor makes a reference cycle through
    /// the hub (a guarded terminal holds its hub strongly). A hook whose player is gone
    /// does nothing.
    ///
    /// Locking: the hub calls hooks after every gate lock is released, and the hook only
    /// takes the player's lock and then (for the `clear-N`) the gate's lock, the same
    /// order as every player send, so an emergency stop racing a send cannot deadlock.
    pub fn stop_hook(&self) -> PlayerStop {
        PlayerStop {
            shared: Arc::downgrade(&self.owner.shared),
        }
    }

    /// The latest progress snapshot.
    pub fn progress(&self) -> Progress {
        self.owner.shared.progress.borrow().clone()
    }

    /// A receiver that sees every progress update (at least once per 100 ms while
    /// playing).
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.owner.shared.progress.subscribe()
    }
}

/// Stops one [`Player`] when the safety hub says so; made by [`Player::stop_hook`].
#[derive(Clone)]
pub struct PlayerStop {
    /// Weak: the hook must not keep the player (and through it the hub) alive.
    shared: Weak<Shared>,
}

impl std::fmt::Debug for PlayerStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayerStop")
            .field("channel", &self.shared.upgrade().map(|s| s.channel))
            .finish()
    }
}

impl Stoppable for PlayerStop {
    fn stop(&self) {
        // Promptly: `Shared::stop` holds the player's lock only for one `clear-N`, and a
        // send in progress holds it only for one `add_pulses` (neither awaits).
        if let Some(shared) = self.shared.upgrade() {
            if let Err(e) = shared.stop() {
                log::debug!(
                    "player {}: stopped; its clear was not sent: {e}",
                    shared.channel
                );
            }
        }
    }
}

/// The clock: call `step` at the time it asks for, or sooner when a command arrives.
async fn drive(shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        // Created before `step` so a command arriving in between is not missed (and
        // `notify_one` keeps a permit anyway).
        let woken = shared.wake.notified();
        let next = shared.step(Instant::now());
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = woken => {}
            () = sleep => {}
        }
    }
}

#[cfg(test)]
mod tests;
