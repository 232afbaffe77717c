//! The App's clock and what it played lately, bounded, so a window that opens its drawing
//! late can start from the last minute instead of an empty canvas.

use super::event::Played;
use std::collections::VecDeque;
use std::time::Duration;

/// How long the App plays one frame (docs/protocol.md: each frame is 100 ms of output).
pub const FRAME_TIME: Duration = Duration::from_millis(100);

/// Ticks kept per channel: one minute at 100 ms.
pub const HISTORY_TICKS: usize = 600;

/// The last [`HISTORY_TICKS`] ticks of both channels, oldest first.
#[derive(Debug, Default, Clone)]
pub(crate) struct History {
    ticks: VecDeque<[Played; 2]>,
}

impl History {
    pub(crate) fn push(&mut self, tick: [Played; 2]) {
        if self.ticks.len() == HISTORY_TICKS {
            self.ticks.pop_front();
        }
        self.ticks.push_back(tick);
    }

    /// Every kept tick, both channels, in time order (A before B within a tick).
    pub(crate) fn recent(&self) -> Vec<Played> {
        self.ticks.iter().flatten().copied().collect()
    }
}

/// The time of tick `n` (the first tick is 1) on the App's clock, in milliseconds. The
/// clock is ideal (n × tick): the App's clock keeps its own pace whatever the phone's
/// scheduler does, and a drawing over it has evenly spaced frames.
pub(crate) fn tick_ms(n: u64, tick: Duration) -> u64 {
    n.saturating_mul(u64::try_from(tick.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::command::Channel;

    #[test]
    fn keeps_the_last_minute() {
        let mut h = History::default();
        for n in 1..=(HISTORY_TICKS as u64 + 5) {
            let at_ms = tick_ms(n, FRAME_TIME);
            h.push(Channel::BOTH.map(|channel| Played {
                at_ms,
                channel,
                strength: 0,
                frame: None,
            }));
        }
        let r = h.recent();
        assert_eq!(r.len(), 2 * HISTORY_TICKS);
        assert_eq!(r[0].at_ms, 600);
        assert_eq!(r[1].channel, Channel::B);
        assert_eq!(r.last().unwrap().at_ms, 60_500);
    }
}
