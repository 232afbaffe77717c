//! One channel's frame queue at the App: at most 500 frames (50 s), extra frames dropped.

use crate::protocol::Frame;
use std::collections::VecDeque;

/// The App's per-channel queue limit (docs/protocol.md, "Commands").
pub const APP_QUEUE_FRAMES: usize = 500;

/// A channel's queue of frames waiting to play, bounded like the App's.
#[derive(Debug, Default, Clone)]
pub(crate) struct FrameQueue {
    frames: VecDeque<Frame>,
    /// Frames that did not fit since the App connected.
    dropped: u64,
}

impl FrameQueue {
    /// Appends as many frames as fit; returns how many were dropped. The App keeps the
    /// front of a message that overflows and loses its tail, so the order of what plays is
    /// always the order that was sent.
    pub(crate) fn push(&mut self, frames: &[Frame]) -> usize {
        let room = APP_QUEUE_FRAMES.saturating_sub(self.frames.len());
        let taken = frames.len().min(room);
        self.frames.extend(&frames[..taken]);
        let dropped = frames.len() - taken;
        self.dropped += dropped as u64;
        dropped
    }

    /// The next frame to play, if any.
    pub(crate) fn pop(&mut self) -> Option<Frame> {
        self.frames.pop_front()
    }

    /// `clear-N`: forgets every waiting frame.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.frames.len();
        self.frames.clear();
        n
    }

    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: u8) -> Frame {
        Frame::uniform(10, i % 101).unwrap()
    }

    #[test]
    fn holds_500_keeps_the_front_and_counts_the_rest() {
        let mut q = FrameQueue::default();
        let many: Vec<Frame> = (0..=255u8).map(frame).collect();
        assert_eq!(q.push(&many), 0);
        assert_eq!(q.push(&many), 12);
        assert_eq!(q.len(), APP_QUEUE_FRAMES);
        assert_eq!(q.dropped(), 12);
        // The first frame sent plays first.
        assert_eq!(q.pop(), Some(frame(0)));
        assert_eq!(q.push(&[frame(7), frame(8)]), 1);
        assert_eq!(q.dropped(), 13);
        assert_eq!(q.clear(), APP_QUEUE_FRAMES);
        assert_eq!(q.pop(), None);
    }
}
