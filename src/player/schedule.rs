//! The player's clock arithmetic and sends, as plain synchronous code.
//!
//! [`Slot`] is everything one channel's player knows; every method runs with the
//! player's lock held and talks to the [`PulseOutput`] from inside that lock. That is
//! the whole stop-finality argument: `stop()` bumps `generation` and drops the job under
//! the lock, and the only code that sends a pulse re-checks, under the same lock and
//! immediately before the send, that the job it sends for belongs to the current
//! generation. Nothing here awaits, so the async driver in `player.rs` is just a timer.
//!
//! The App gives no feedback about its queue, so the lead is an estimate: the App is
//! assumed to start playing when the first chunk is sent (`anchor`) and to take one
//! frame every [`FRAME_TIME`]. Network delay only makes the App start later, so the
//! estimate over-counts what it has played (the real queue is a little longer than the
//! estimated lead, never shorter by more than one frame of App-clock phase).

use super::{PlayState, PlayerConfig, Progress, PulseOutput, Repeat, FRAME_TIME};
use crate::protocol::command::{Channel, MAX_PULSE_FRAMES};
use crate::protocol::Frame;
use crate::safety::SafetyError;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Frame counts derived once from a [`PlayerConfig`] and the output.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Refill when the estimated lead falls below this many frames.
    low: u64,
    /// Refill up to this many frames of lead.
    high: u64,
    /// Most frames per `add_pulses` call (fits 1950 characters).
    chunk: usize,
    /// Pause between a `clear-N` and the next pulses.
    switch_gap: Duration,
}

impl Limits {
    pub(super) fn new(config: &PlayerConfig, max_frames: usize) -> Self {
        let low = frames_in(config.lead);
        Limits {
            low,
            high: low + frames_in(config.top_up),
            chunk: max_frames.clamp(1, MAX_PULSE_FRAMES),
            switch_gap: config.switch_gap,
        }
    }
}

/// Whole frames needed to cover `d`, rounded up.
pub(super) fn frames_in(d: Duration) -> u64 {
    let tick = FRAME_TIME.as_nanos();
    d.as_nanos().div_ceil(tick) as u64
}

/// Whole frames the App has had time to play since `anchor`.
fn frames_elapsed(anchor: Instant, now: Instant) -> u64 {
    (now.saturating_duration_since(anchor).as_nanos() / FRAME_TIME.as_nanos()) as u64
}

fn frame_time(n: u64) -> Duration {
    Duration::from_nanos(FRAME_TIME.as_nanos() as u64 * n)
}

/// One `play()` call being streamed.
#[derive(Debug)]
struct Job {
    /// The generation this job was started under; sends require it to be current.
    generation: u64,
    /// One pass, rest frames included.
    frames: Arc<[Frame]>,
    /// Once or loop.
    repeat: Repeat,
    /// Earliest first send: the switch gap after the last clear.
    start_at: Instant,
    /// When the first chunk went out; the App's assumed clock origin.
    anchor: Option<Instant>,
    /// Frames handed to the output so far, over all passes.
    sent: u64,
    /// Times the estimate said the App had run dry (the driver woke too late).
    underruns: u64,
}

impl Job {
    fn len(&self) -> u64 {
        self.frames.len() as u64
    }

    /// The next `n` frames after `sent`, wrapping around the pass for loops.
    fn chunk(&self, n: usize) -> Vec<Frame> {
        let len = self.frames.len();
        let start = (self.sent % self.len()) as usize;
        (0..n).map(|i| self.frames[(start + i) % len]).collect()
    }
}

/// One channel's player state. Lives in the player's mutex.
#[derive(Debug)]
pub(super) struct Slot {
    /// Bumped by every `play()` and `stop()`; a job may only send while it matches.
    generation: u64,
    /// What is being streamed, if anything.
    job: Option<Job>,
    /// The last state reported that is not derived from a job (finished, stopped, failed).
    state: PlayState,
    /// When the last `clear-N` went out, so new pulses wait for the switch gap.
    last_clear: Option<Instant>,
}

impl Slot {
    pub(super) fn new() -> Self {
        Slot {
            generation: 0,
            job: None,
            state: PlayState::Idle,
            last_clear: None,
        }
    }

    /// Starts `frames` under a new generation; clears the App first if the old job
    /// had sent anything. Fails (no job, state `Failed`) if the clear is refused or the
    /// output says pulses would be refused.
    pub(super) fn play(
        &mut self,
        out: &dyn PulseOutput,
        channel: Channel,
        limits: &Limits,
        frames: Arc<[Frame]>,
        repeat: Repeat,
        now: Instant,
    ) -> Result<u64, SafetyError> {
        self.generation += 1;
        let had_sent = self.job.take().is_some_and(|j| j.sent > 0);
        if had_sent {
            if let Err(e) = out.clear(channel) {
                self.state = PlayState::Failed(e.clone());
                return Err(e);
            }
            self.last_clear = Some(now);
        }
        // A latched gate would refuse every pulse of the new pass: say so now, from
        // `play()` itself, rather than a moment later on the driver's clock.
        if let Err(e) = out.ready(channel) {
            self.state = PlayState::Failed(e.clone());
            return Err(e);
        }
        // Pulses sent in the same instant as a clear may be wiped by it (docs/protocol.md),
        // so the new pass waits `switch_gap` after whichever clear came last.
        let start_at = self
            .last_clear
            .map_or(now, |t| (t + limits.switch_gap).max(now));
        self.job = Some(Job {
            generation: self.generation,
            frames,
            repeat,
            start_at,
            anchor: None,
            sent: 0,
            underruns: 0,
        });
        Ok(self.generation)
    }

    /// Ends the current job for good and clears the App's queue.
    pub(super) fn stop(
        &mut self,
        out: &dyn PulseOutput,
        channel: Channel,
        now: Instant,
    ) -> Result<(), SafetyError> {
        self.generation += 1;
        self.job = None;
        self.state = PlayState::Stopped;
        out.clear(channel)?;
        self.last_clear = Some(now);
        Ok(())
    }

    /// Tops the App's queue up if the estimated lead is below the low mark. Returns when
    /// to be called next, or `None` when there is nothing to do until the next command.
    pub(super) fn step(
        &mut self,
        out: &dyn PulseOutput,
        channel: Channel,
        limits: &Limits,
        now: Instant,
    ) -> Option<Instant> {
        let current = self.generation;
        let job = self.job.as_mut()?;
        let mut anchor = match job.anchor {
            Some(a) => a,
            None if now < job.start_at => return Some(job.start_at),
            None => *job.anchor.insert(now),
        };
        let len = job.len();
        let mut played = frames_elapsed(anchor, now);
        if job.repeat == Repeat::Once && job.sent == len && played >= len {
            self.job = None;
            self.state = PlayState::Finished;
            return None;
        }
        if played > job.sent {
            // We woke too late and, by the estimate, the App ran dry. Restart the
            // estimate from now rather than believing in frames it never had.
            job.underruns += 1;
            anchor = now - frame_time(job.sent);
            job.anchor = Some(anchor);
            played = job.sent;
        }
        let lead = job.sent - played;
        if lead < limits.low {
            let mut want = limits.high - lead;
            if job.repeat == Repeat::Once {
                want = want.min(len - job.sent);
            }
            while want > 0 {
                let n = want.min(limits.chunk as u64) as usize;
                let chunk = job.chunk(n);
                // The stop-finality check: same lock as the send, right before it.
                if job.generation != current {
                    self.job = None;
                    return None;
                }
                if let Err(e) = out.add_pulses(channel, &chunk) {
                    self.job = None;
                    // Best effort: do not leave half a waveform queued at the App. If
                    // the link is gone this fails too, and the error above is the one
                    // worth reporting.
                    if out.clear(channel).is_ok() {
                        self.last_clear = Some(now);
                    }
                    self.state = PlayState::Failed(e);
                    return None;
                }
                job.sent += n as u64;
                want -= n as u64;
            }
        }
        // Wake at each frame boundary: one refill check and one progress report per
        // frame the App plays.
        Some(anchor + frame_time(played + 1))
    }

    /// What a UI should show now.
    pub(super) fn progress(&self, now: Instant) -> Progress {
        let Some(job) = &self.job else {
            return Progress {
                generation: self.generation,
                state: self.state.clone(),
                ..Progress::default()
            };
        };
        let len = job.len();
        let (state, played) = match job.anchor {
            None => (PlayState::Waiting, 0),
            Some(a) => (PlayState::Playing, frames_elapsed(a, now).min(job.sent)),
        };
        Progress {
            generation: self.generation,
            state,
            pass_frames: job.frames.len(),
            position: (played % len) as usize,
            loops: played / len,
            lead_frames: job.sent - played,
            sent_frames: job.sent,
            underruns: job.underruns,
        }
    }
}
