//! The bounded outbound queue of one socket.
//!
//! A tokio `mpsc` channel allocates its first block (32 slots, about 1.8 kB here) when it
//! is created, whether or not anything is ever sent — most of an idle socket's cost. This
//! queue allocates nothing until a frame is queued and gives its memory back when a burst
//! has drained, so 10,000 idle sockets stay cheap.
//!
//! By hand on purpose: no channel crate offers both zero idle cost and a bound.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
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
}

#[derive(Debug)]
struct Items {
    queue: VecDeque<Message>,
    limit: usize,
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

/// A queue holding at most `limit` frames.
pub(crate) fn bounded(limit: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        items: Mutex::new(Items {
            queue: VecDeque::new(),
            limit: limit.max(1),
            closed: false,
        }),
        ready: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

fn lock(shared: &Shared) -> MutexGuard<'_, Items> {
    // Nothing can panic while the lock is held; a poisoned lock still holds a valid queue.
    shared.items.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sender {
    /// Queues `m` unless the queue is full or the writer has stopped.
    pub(crate) fn try_send(&self, m: Message) -> Result<(), PushError> {
        {
            let mut items = lock(&self.0);
            if items.closed {
                return Err(PushError::Closed);
            }
            if items.queue.len() >= items.limit {
                return Err(PushError::Full);
            }
            items.queue.push_back(m);
        }
        self.0.ready.notify_one();
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        lock(&self.0).closed = true;
        self.0.ready.notify_one();
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
        if m.is_none() && items.queue.capacity() > KEEP {
            items.queue.shrink_to(KEEP);
        }
        m
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        lock(&self.0).closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_fifo_that_closes() {
        let (tx, rx) = bounded(2);
        tx.try_send(Message::text("a")).unwrap();
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
