//! The bounded outbound queue of one socket.
//!
//! A tokio `mpsc` channel allocates its first block (32 slots, about 1.8 kB here) when it
//! is created, whether or not anything is ever sent — most of an idle socket's cost. This
//! queue allocates nothing until a frame is queued and gives its memory back when a burst
//! has drained, so 10,000 idle sockets stay cheap.
//!
//! By hand on purpose: no channel crate offers both zero idle cost and a bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
// tokio's clock, so ping timeouts follow a paused clock in tests.
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Capacity kept after a burst drains; larger buffers are given back.
const KEEP: usize = 16;

#[derive(Debug)]
struct Shared {
    /// Frames waiting for the writer. A `std` mutex: held for a push or a pop, never
    /// across an `.await`.
    items: Mutex<Items>,
    /// Wakes the writer; a notification sent while it is busy is kept as a permit.
    ready: Notify,
    /// Wakes senders paused by [`Space::wait`] when the queue drops below its high-water
    /// mark or closes.
    space: Notify,
    /// Liveness of the socket, told by its task to the registry's ping round without a
    /// lock: when a frame was last read from it (milliseconds after `created`), and
    /// whether the relay itself has stopped reading it (backpressure), in which case its
    /// pongs wait behind frames the relay has not read yet and silence proves nothing.
    created: Instant,
    heard: AtomicU64,
    paused: AtomicBool,
}

#[derive(Debug)]
struct Items {
    queue: VecDeque<Message>,
    limit: usize,
    /// Above this many frames the queue is crowded: whoever fills it stops reading its own
    /// socket until the writer catches up (backpressure), so a healthy reader is never
    /// dropped for a burst and `limit` is never reached by one sender.
    high: usize,
    /// The sending side is gone: the writer drains what is left, then stops.
    closed: bool,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The writer is `limit` frames behind: the peer is stuck.
    Full,
    /// The writer has stopped.
    Closed,
}

/// The registry's end: queues frames without waiting.
#[derive(Debug)]
pub(crate) struct Sender(Arc<Shared>);

/// The socket task's end.
#[derive(Debug)]
pub(crate) struct Receiver(Arc<Shared>);

/// A handle to wait on until a crowded queue has room again.
#[derive(Debug, Clone)]
pub(crate) struct Space(Arc<Shared>);

/// A queue holding at most `limit` frames, crowded from half of that.
pub(crate) fn bounded(limit: usize) -> (Sender, Receiver) {
    let limit = limit.max(2);
    let shared = Arc::new(Shared {
        items: Mutex::new(Items {
            queue: VecDeque::new(),
            limit,
            high: limit / 2,
            closed: false,
        }),
        ready: Notify::new(),
        space: Notify::new(),
        created: Instant::now(),
        heard: AtomicU64::new(0),
        paused: AtomicBool::new(false),
    });
    (Sender(shared.clone()), Receiver(shared))
}

fn lock(shared: &Shared) -> MutexGuard<'_, Items> {
    // Nothing can panic while the lock is held; a poisoned lock still holds a valid queue.
    shared.items.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sender {
    /// Whether the queue holds as many frames as it may: the next `try_send` would fail.
    pub(crate) fn is_full(&self) -> bool {
        let items = lock(&self.0);
        items.queue.len() >= items.limit
    }

    /// Queues `m` unless the queue is full or the writer has stopped; `Ok(true)` when the
    /// queue is now crowded (the caller should pause its source, see [`Space`]).
    pub(crate) fn try_send(&self, m: Message) -> Result<bool, PushError> {
        let crowded = {
            let mut items = lock(&self.0);
            if items.closed {
                return Err(PushError::Closed);
            }
            if items.queue.len() >= items.limit {
                return Err(PushError::Full);
            }
            items.queue.push_back(m);
            items.queue.len() >= items.high
        };
        self.0.ready.notify_one();
        Ok(crowded)
    }

    /// Queues a control frame (a ping) ahead of every waiting frame, so that its answer
    /// measures the peer and not this queue. Fails only when the writer has stopped.
    pub(crate) fn try_send_first(&self, m: Message) -> Result<(), PushError> {
        {
            let mut items = lock(&self.0);
            if items.closed {
                return Err(PushError::Closed);
            }
            items.queue.push_front(m);
        }
        self.0.ready.notify_one();
        Ok(())
    }

    /// The control lane: queues `frames`, in order, ahead of every waiting frame, and never
    /// refuses them for a full queue. With `purge`, the waiting frames are dropped first (a
    /// stop: pulses queued before it must not play after its clear). Fails only when the
    /// writer has stopped.
    pub(crate) fn push_urgent(&self, frames: Vec<Message>, purge: bool) -> Result<(), PushError> {
        {
            let mut items = lock(&self.0);
            if items.closed {
                return Err(PushError::Closed);
            }
            if purge {
                items.queue.clear();
            }
            for m in frames.into_iter().rev() {
                items.queue.push_front(m);
            }
        }
        self.0.ready.notify_one();
        Ok(())
    }

    /// A handle to wait for room on.
    pub(crate) fn space(&self) -> Space {
        Space(self.0.clone())
    }

    /// When a frame was last read from this socket (its creation if never).
    pub(crate) fn heard_at(&self) -> Instant {
        self.0.created + std::time::Duration::from_millis(self.0.heard.load(Ordering::Relaxed))
    }

    /// Whether the relay is not reading this socket right now (backpressure).
    pub(crate) fn is_paused(&self) -> bool {
        self.0.paused.load(Ordering::Relaxed)
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        lock(&self.0).closed = true;
        self.0.ready.notify_one();
        self.0.space.notify_waiters();
    }
}

impl Space {
    /// Returns once the queue is below its high-water mark or closed. Cancel-safe.
    pub(crate) async fn wait(&self) {
        loop {
            let woken = self.0.space.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            {
                let items = lock(&self.0);
                if items.closed || items.queue.len() < items.high {
                    return;
                }
            }
            woken.await;
        }
    }
}

impl Receiver {
    /// The next frame; `None` once the sender is gone and the queue is empty.
    /// Cancel-safe: a frame is only taken out when this returns it.
    pub(crate) async fn recv(&self) -> Option<Message> {
        loop {
            let woken = self.0.ready.notified();
            {
                let mut items = lock(&self.0);
                if let Some(m) = items.queue.pop_front() {
                    pop_notify(&self.0, items);
                    return Some(m);
                }
                if items.closed {
                    return None;
                }
            }
            woken.await;
        }
    }

    /// The next frame if one is queued; gives back a burst's memory once drained.
    pub(crate) fn try_recv(&self) -> Option<Message> {
        let mut items = lock(&self.0);
        let m = items.queue.pop_front();
        if m.is_none() {
            if items.queue.capacity() > KEEP {
                items.queue.shrink_to(KEEP);
            }
            return None;
        }
        pop_notify(&self.0, items);
        m
    }

    /// Records that a frame was just read from the socket.
    pub(crate) fn heard(&self) {
        let ms = self.0.created.elapsed().as_millis();
        self.0
            .heard
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Records whether the relay has stopped reading the socket; the clock of its
    /// outstanding ping restarts when reading resumes.
    pub(crate) fn set_paused(&self, paused: bool) {
        if !paused {
            self.heard();
        }
        self.0.paused.store(paused, Ordering::Relaxed);
    }

    /// Whether the queue is at or above its high-water mark.
    pub(crate) fn crowded(&self) -> bool {
        let items = lock(&self.0);
        items.queue.len() >= items.high
    }

    /// A handle to wait for room on.
    pub(crate) fn space(&self) -> Space {
        Space(self.0.clone())
    }
}

/// After a pop: wakes paused senders when the queue just dropped below the high-water mark.
fn pop_notify(shared: &Shared, items: MutexGuard<'_, Items>) {
    let crossed = items.queue.len() + 1 == items.high;
    drop(items);
    if crossed {
        shared.space.notify_waiters();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        lock(&self.0).closed = true;
        self.0.space.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_fifo_that_closes() {
        let (tx, rx) = bounded(2);
        assert_eq!(tx.try_send(Message::text("a")), Ok(true));
        tx.try_send(Message::text("b")).unwrap();
        assert_eq!(tx.try_send(Message::text("c")), Err(PushError::Full));
        assert_eq!(rx.recv().await, Some(Message::text("a")));
        assert_eq!(rx.try_recv(), Some(Message::text("b")));
        assert_eq!(rx.try_recv(), None);
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.try_send(Message::text("d")).unwrap();
        assert_eq!(waiter.await.unwrap(), Some(Message::text("d")));
    }

    #[tokio::test]
    async fn receiver_sees_the_end_after_draining() {
        let (tx, rx) = bounded(4);
        tx.try_send(Message::text("last")).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(Message::text("last")));
        assert_eq!(rx.recv().await, None);
    }

    #[test]
    fn sending_to_a_stopped_writer_fails() {
        let (tx, rx) = bounded(4);
        drop(rx);
        assert_eq!(tx.try_send(Message::text("x")), Err(PushError::Closed));
    }

    #[tokio::test]
    async fn a_crowded_queue_wakes_its_waiters_when_it_drains_or_closes() {
        let (tx, rx) = bounded(8);
        for _ in 0..3 {
            assert_eq!(tx.try_send(Message::text("x")), Ok(false));
        }
        assert_eq!(tx.try_send(Message::text("x")), Ok(true));
        assert!(rx.crowded());
        let space = tx.space();
        let waiter = tokio::spawn(async move { space.wait().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        rx.try_recv().unwrap();
        waiter.await.unwrap();
        for _ in 0..2 {
            tx.try_send(Message::text("x")).unwrap();
        }
        let space = tx.space();
        let waiter = tokio::spawn(async move { space.wait().await });
        tokio::task::yield_now().await;
        drop(rx);
        waiter.await.unwrap();
    }

    #[test]
    fn an_idle_queue_allocates_nothing_and_a_drained_burst_is_given_back() {
        let (tx, rx) = bounded(1000);
        assert_eq!(lock(&rx.0).queue.capacity(), 0);
        for _ in 0..500 {
            tx.try_send(Message::text("x")).unwrap();
        }
        while rx.try_recv().is_some() {}
        assert!(lock(&rx.0).queue.capacity() <= KEEP);
    }
}
