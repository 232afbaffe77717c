//! The per-channel rules, pure: no I/O and no clock of its own (the caller passes `now`),
//! so every rule is a plain function of state and limits and is unit-tested here.
//!
//! A channel has a `target` (where the user wants it, already clamped) and a `level` (the
//! last absolute value this gate sent to the current App). [`ChannelGate::settle`] is the
//! only place that picks the next value to send:
//! - the target is first clamped to the ceiling: `min(cap, App soft limit)`, or 0 while
//!   the hub is latched or the lease lapsed;
//! - a target below `level` is sent at once (lowering is never delayed);
//! - a target above the App's *current* level — `min(level, App's last reported level)`,
//!   so a stale or phone-lowered report can only slow a rise — is approached by single +1
//!   steps, each at least `interval` after the channel's previous raise;
//! - once the App has reported, a step waits until the App confirms the previous one (a
//!   report at `level`): over a slow link the ramp goes at the link's pace, never faster.

use super::event::Limit;
use std::collections::VecDeque;
use tokio::time::{Duration, Instant};

/// How long a value this gate sent may still be echoed by the App's reports. A lower
/// report that is such an echo is lag, not the phone user turning the dial down.
pub(crate) const ECHO_WINDOW: Duration = Duration::from_secs(2);

/// What bounds one channel right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The user's cap.
    pub(crate) cap: u8,
    /// The App's soft limit, once it has reported one since pairing.
    pub(crate) soft: Option<u8>,
    /// The App's last reported level for this channel since pairing.
    pub(crate) reported: Option<u8>,
    /// Latched or lease lapsed: nothing above 0.
    pub(crate) blocked: bool,
}

impl Limits {
    /// The highest value allowed right now: the ceiling, or 0 while blocked.
    pub(crate) fn allowed(&self) -> u8 {
        if self.blocked {
            0
        } else {
            self.ceiling().0
        }
    }

    /// The highest value allowed and which limit sets it (ignoring `blocked`).
    pub(crate) fn ceiling(&self) -> (u8, Limit) {
        match self.soft {
            Some(s) if s < self.cap => (s, Limit::SoftLimit),
            _ => (self.cap, Limit::Cap),
        }
    }
}

/// One channel's bookkeeping for the App currently paired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChannelGate {
    /// Where the user wants the channel, never above the ceiling when last settled.
    pub(crate) target: u8,
    /// The last absolute value sent to this App (0 when it paired).
    pub(crate) level: u8,
    /// When the last raise went out; the next may not come before `+ interval`. Kept
    /// across re-pairs and re-arms so no reset can make two raises come too close.
    pub(crate) last_rise: Option<Instant>,
    /// When the ramp wants to run again; `None` when the channel is at rest.
    pub(crate) next_due: Option<Instant>,
    /// Values the App may still echo in a report (sent within [`ECHO_WINDOW`]).
    recent: VecDeque<(Instant, u8)>,
}

impl ChannelGate {
    /// The App's level as far as the gate can tell: never above what it sent, and never
    /// above what the App last said, so a raise is always +1 from the lower of the two.
    pub(crate) fn current(&self, lim: &Limits) -> u8 {
        lim.reported.map_or(self.level, |r| r.min(self.level))
    }

    /// Sets the target to `asked` clamped to the ceiling; returns the clamp if one applied.
    pub(crate) fn aim(&mut self, asked: u8, lim: &Limits) -> Option<(u8, Limit)> {
        let (ceiling, by) = lim.ceiling();
        self.target = asked.min(ceiling);
        (self.target < asked).then_some((self.target, by))
    }

    /// Decides the next value to send now, if any, and records it as sent; schedules
    /// `next_due` when a ramp must continue later.
    pub(crate) fn settle(&mut self, lim: &Limits, now: Instant, interval: Duration) -> Option<u8> {
        let ceiling = lim.allowed();
        self.target = self.target.min(ceiling);
        let cur = self.current(lim);
        if self.target < self.level {
            // Never "lower" to above where the App says it is: if the phone took it lower
            // meanwhile, sending the target would be a raise that skipped the rise rate.
            let v = self.target.min(cur);
            self.next_due = None;
            self.record(v, now);
            return Some(v);
        }
        if self.target <= cur {
            self.next_due = None;
            return None;
        }
        if cur < self.level {
            // The App has not confirmed the last value yet (a slow link), or went lower
            // than it by itself: wait for its next report rather than re-send, so a ramp
            // never outruns the App and never climbs against the phone's dial.
            self.next_due = None;
            return None;
        }
        let due = self.last_rise.map_or(now, |t| t + interval);
        if due > now {
            self.next_due = Some(due);
            return None;
        }
        let v = cur + 1;
        self.last_rise = Some(now);
        self.next_due = (self.target > v).then_some(now + interval);
        self.record(v, now);
        Some(v)
    }

    /// A new App (or none): it starts at 0 and so does the target; any ramp is dropped.
    pub(crate) fn reset(&mut self, now: Instant) {
        self.target = 0;
        self.level = 0;
        self.next_due = None;
        self.recent.clear();
        self.recent.push_back((now, 0));
    }

    /// Emergency stop / watchdog: 0 was sent, whatever the ramp was doing.
    pub(crate) fn halt(&mut self, now: Instant) {
        self.target = 0;
        self.next_due = None;
        self.record(0, now);
    }

    /// An App report for this channel. A level below what was sent that is not an echo
    /// of a recent send means the App went down on its own (the phone's dial, its soft
    /// limit): the gate adopts it as level and target so it never ramps back up against
    /// the person holding the phone. Returns the new target when that happens.
    pub(crate) fn on_report(&mut self, reported: u8, now: Instant) -> Option<u8> {
        self.prune(now);
        // The App reports in order: once it reports a value this gate sent, nothing sent
        // before that can still be echoed, so a later lower report is the phone's doing.
        if let Some(pos) = self.recent.iter().rposition(|&(_, v)| v == reported) {
            self.recent.drain(..pos);
            return None;
        }
        if reported >= self.level {
            return None;
        }
        self.level = reported;
        self.target = reported;
        self.next_due = None;
        Some(reported)
    }

    /// An App report above what is allowed (another controller raised it, the phone's
    /// dial, any level while stopped) that is not an echo of a value this gate sent:
    /// returns the level to send at once — the target, never above the level last sent,
    /// so a correction can only lower. Call after [`ChannelGate::on_report`].
    pub(crate) fn correct(&mut self, reported: u8, lim: &Limits, now: Instant) -> Option<u8> {
        if reported <= lim.allowed() || self.recent.iter().any(|&(_, v)| v == reported) {
            return None;
        }
        let v = self.target.min(lim.allowed()).min(self.level);
        self.target = v;
        self.next_due = None;
        // The App may report its old level once more before it applies `v` (it reports
        // each change in order): that report is lag, not a reason to correct again.
        self.prune(now);
        self.recent.push_back((now, reported));
        self.recent.push_back((now, v));
        self.level = v;
        Some(v)
    }

    fn record(&mut self, v: u8, now: Instant) {
        self.prune(now);
        if self.recent.is_empty() {
            // The App may still report the level it had before this burst of sends.
            self.recent.push_back((now, self.level));
        }
        self.recent.push_back((now, v));
        self.level = v;
    }

    fn prune(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > ECHO_WINDOW)
        {
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS100: Duration = Duration::from_millis(100);

    fn lim(cap: u8) -> Limits {
        Limits {
            cap,
            soft: None,
            reported: None,
            blocked: false,
        }
    }

    /// Runs settle every 10 ms for `ms` and returns what was sent with its time offset.
    fn run(g: &mut ChannelGate, l: &Limits, t0: Instant, ms: u64) -> Vec<(u64, u8)> {
        let mut out = vec![];
        for step in 0..=ms / 10 {
            let now = t0 + Duration::from_millis(step * 10);
            if let Some(v) = g.settle(l, now, MS100) {
                out.push((step * 10, v));
            }
        }
        out
    }

    #[test]
    fn absolute_request_is_clamped_to_cap_then_soft_limit() {
        let mut g = ChannelGate::default();
        assert_eq!(g.aim(80, &lim(40)), Some((40, Limit::Cap)));
        let soft = Limits {
            soft: Some(30),
            ..lim(40)
        };
        assert_eq!(g.aim(80, &soft), Some((30, Limit::SoftLimit)));
        assert_eq!(g.aim(20, &soft), None);
        assert_eq!(g.target, 20);
        // A soft limit above the cap does not raise the ceiling.
        let high = Limits {
            soft: Some(150),
            ..lim(40)
        };
        assert_eq!(g.aim(100, &high), Some((40, Limit::Cap)));
    }

    #[test]
    fn a_jump_becomes_a_ramp_of_plus_one_every_interval() {
        let t0 = Instant::now();
        let mut g = ChannelGate::default();
        g.aim(5, &lim(40));
        let sent = run(&mut g, &lim(40), t0, 1000);
        assert_eq!(sent, vec![(0, 1), (100, 2), (200, 3), (300, 4), (400, 5)]);
        assert_eq!(g.next_due, None);
    }

    #[test]
    fn lowering_is_immediate_and_cancels_the_ramp() {
        let t0 = Instant::now();
        let mut g = ChannelGate::default();
        g.aim(30, &lim(40));
        run(&mut g, &lim(40), t0, 250);
        assert_eq!(g.level, 3);
        g.aim(1, &lim(40));
        assert_eq!(
            g.settle(&lim(40), t0 + Duration::from_millis(251), MS100),
            Some(1)
        );
        assert_eq!(g.next_due, None);
    }

    #[test]
    fn a_raise_right_after_a_raise_waits_its_turn() {
        let t0 = Instant::now();
        let mut g = ChannelGate::default();
        g.aim(1, &lim(40));
        assert_eq!(g.settle(&lim(40), t0, MS100), Some(1));
        g.aim(2, &lim(40));
        let t1 = t0 + Duration::from_millis(30);
        assert_eq!(g.settle(&lim(40), t1, MS100), None);
        assert_eq!(g.next_due, Some(t0 + MS100));
        assert_eq!(g.settle(&lim(40), t0 + MS100, MS100), Some(2));
    }

    #[test]
    fn blocked_clamps_to_zero() {
        let t0 = Instant::now();
        let mut g = ChannelGate::default();
        g.aim(3, &lim(40));
        run(&mut g, &lim(40), t0, 300);
        let blocked = Limits {
            blocked: true,
            ..lim(40)
        };
        assert_eq!(
            g.settle(&blocked, t0 + Duration::from_secs(1), MS100),
            Some(0)
        );
        assert_eq!(g.target, 0);
    }

    #[test]
    fn a_stale_report_only_slows_the_ramp() {
        let t0 = Instant::now();
        let mut g = ChannelGate::default();
        g.aim(10, &lim(40));
        assert_eq!(g.settle(&lim(40), t0, MS100), Some(1));
        // The App has not confirmed 1 yet: the ramp waits for its report.
        let stale = Limits {
            reported: Some(0),
            ..lim(40)
        };
        assert_eq!(
            g.on_report(0, t0 + MS100),
            None,
            "0 is an echo, not the phone"
        );
        assert_eq!(g.settle(&stale, t0 + MS100, MS100), None);
        assert_eq!(g.next_due, None);
        let confirmed = Limits {
            reported: Some(1),
            ..lim(40)
        };
        assert_eq!(g.settle(&confirmed, t0 + MS100 * 2, MS100), Some(2));
    }

    #[test]
    fn the_phone_turning_down_is_adopted_not_fought() {
        let t0 = Instant::now();
        let mut g = ChannelGate::default();
        g.aim(5, &lim(40));
        run(&mut g, &lim(40), t0, 500);
        assert_eq!(g.level, 5);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(g.on_report(2, later), Some(2));
        assert_eq!((g.target, g.level), (2, 2));
        let l = Limits {
            reported: Some(2),
            ..lim(40)
        };
        assert_eq!(g.settle(&l, later, MS100), None);
    }

    #[test]
    fn reset_starts_at_zero_and_keeps_the_rise_clock() {
        let t0 = Instant::now();
        let mut g = ChannelGate::default();
        g.aim(20, &lim(40));
        g.settle(&lim(40), t0, MS100);
        g.reset(t0 + Duration::from_millis(10));
        assert_eq!((g.target, g.level, g.next_due), (0, 0, None));
        g.aim(20, &lim(40));
        assert_eq!(
            g.settle(&lim(40), t0 + Duration::from_millis(20), MS100),
            None
        );
        assert_eq!(g.settle(&lim(40), t0 + MS100, MS100), Some(1));
    }
}
