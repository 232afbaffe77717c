//! Terminals: the controlling side of a pair, as a typed handle.
//!
//! A [`Terminal`] sends strength changes and pulses to the App it is paired with; its
//! [`TerminalEvents`] stream says when an App pairs, what it reports and when it leaves.
//! The same handle works in-process ([`local`], like PyDGLab-WS's `new_local_client`) and
//! over a WebSocket to another relay ([`remote`]).
//!
//! Commands never silently drop: each returns `Err` when it could not be queued (not
//! paired, too long for the App, strength out of range, link closed).

pub mod local;
pub mod remote;
pub mod v4;

use crate::protocol::codec;
use crate::protocol::command::{
    AppCommand, AppReport, Channel, FeedbackButton, StrengthMode, StrengthReport, MAX_PULSE_FRAMES,
    MAX_STRENGTH,
};
use crate::protocol::Frame;
use crate::protocol::{Code, Envelope, MessageType};
use crate::relay::{Delivered, LocalEndpoint, LocalLink, SendError};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What a terminal hears from the relay and its App.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TerminalEvent {
    /// An App scanned the QR code and is now paired.
    Paired {
        /// The App's id.
        app: Uuid,
    },
    /// The App's strengths and soft limits.
    Strength(StrengthReport),
    /// One of the App's feedback buttons was pressed.
    Feedback(FeedbackButton),
    /// The relay's periodic heartbeat.
    Heartbeat,
    /// The App left (`break` 209); the same pairing URL can be scanned again.
    AppLeft {
        /// The App's id.
        app: Uuid,
    },
    /// The relay refused something this terminal sent (402, 403, 404, 405, …).
    Refused {
        /// The code, as a number.
        code: u16,
    },
    /// A `msg` from the App that is neither a strength report nor feedback.
    Other {
        /// The message as received.
        message: String,
    },
    /// The link to the relay is gone (remote terminals only); no more events follow.
    Closed,
}

/// Why a terminal command was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminalError {
    /// No App is paired with this terminal.
    #[error("no App is paired with this terminal")]
    NotPaired,
    /// Strength values are 0..=200.
    #[error("strength {0} is out of range 0..=200")]
    StrengthOutOfRange(u16),
    /// A pulse message carries 1..=100 frames.
    #[error("a pulse message carries 1..=100 frames, got {0}")]
    FrameCount(usize),
    /// The frame the App would receive exceeds its 1950-character limit.
    #[error("{frames} frames make a {len}-character message; the App drops anything over 1950 (at most {max} frames fit)")]
    TooLong {
        /// Frames asked for.
        frames: usize,
        /// Resulting frame length.
        len: usize,
        /// Most frames that fit with these ids.
        max: usize,
    },
    /// The relay refused the command.
    #[error("relay refused the command with {0}")]
    Refused(u16),
    /// The terminal was closed or its link to the relay is gone.
    #[error("terminal link is closed")]
    Closed,
    /// The link's send queue is full (the remote relay is not reading), or, in process,
    /// the App's queue on the relay is (it is not keeping up): nothing was sent.
    #[error("terminal link is congested")]
    Busy,
}

/// Which way [`Terminal::step`] moves a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// One step up.
    Up,
    /// One step down.
    Down,
}

/// What the terminal knows of its pairing; updated as frames arrive.
#[derive(Debug, Default)]
pub(crate) struct TermState {
    app: Option<Uuid>,
    report: Option<StrengthReport>,
}

/// Receives frames addressed to a terminal, keeps its state and turns them into events.
/// Used inline by the relay (local, as its [`LocalEndpoint`]) and by the socket task
/// (remote), so no extra task.
#[derive(Debug, Clone)]
pub(crate) struct EventSink {
    state: Arc<Mutex<TermState>>,
    events: mpsc::Sender<TerminalEvent>,
}

impl EventSink {
    /// Translates and queues one frame; `false` once nobody listens any more or the
    /// queue is full.
    pub(crate) fn push(&self, env: Envelope) -> bool {
        self.offer(env) == Delivered::Taken
    }

    /// Translates and queues one frame, saying whether the bounded queue took it.
    fn offer(&self, env: Envelope) -> Delivered {
        let ev = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            translate(&mut st, env)
        };
        match ev {
            Some(ev) => match self.events.try_send(ev) {
                Ok(()) => Delivered::Taken,
                Err(mpsc::error::TrySendError::Full(_)) => Delivered::Full,
                Err(mpsc::error::TrySendError::Closed(_)) => Delivered::Gone,
            },
            None if self.events.is_closed() => Delivered::Gone,
            None => Delivered::Taken,
        }
    }

    pub(crate) fn closed(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).app = None;
        let _ = self.events.try_send(TerminalEvent::Closed);
    }
}

impl LocalEndpoint for EventSink {
    fn deliver(&self, frame: Envelope) -> Delivered {
        self.offer(frame)
    }
}

fn translate(st: &mut TermState, env: Envelope) -> Option<TerminalEvent> {
    let code = Code::from_message(&env.message);
    match env.kind {
        MessageType::Bind => match code {
            Some(Code::Success) => {
                let app = Uuid::parse_str(&env.target_id).ok()?;
                st.app = Some(app);
                st.report = None;
                Some(TerminalEvent::Paired { app })
            }
            Some(c) => Some(TerminalEvent::Refused { code: c.as_u16() }),
            // The greeting: the handle already knows its id.
            None => None,
        },
        MessageType::Msg => {
            if let Some(c) = code {
                return Some(TerminalEvent::Refused { code: c.as_u16() });
            }
            match AppReport::parse(&env.message) {
                Some(AppReport::Strength(r)) => {
                    st.report = Some(r);
                    Some(TerminalEvent::Strength(r))
                }
                Some(AppReport::Feedback(b)) => Some(TerminalEvent::Feedback(b)),
                None => Some(TerminalEvent::Other {
                    message: env.message,
                }),
            }
        }
        MessageType::Heartbeat => Some(TerminalEvent::Heartbeat),
        MessageType::Break => {
            let app = st
                .app
                .take()
                .or_else(|| Uuid::parse_str(&env.target_id).ok())?;
            st.report = None;
            Some(TerminalEvent::AppLeft { app })
        }
        MessageType::Error => Some(TerminalEvent::Refused {
            code: code.map(Code::as_u16).unwrap_or(500),
        }),
    }
}

/// The stream of a terminal's events.
#[derive(Debug)]
pub struct TerminalEvents {
    rx: mpsc::Receiver<TerminalEvent>,
}

impl TerminalEvents {
    /// The next event; `None` once the terminal is gone and every event was read.
    pub async fn recv(&mut self) -> Option<TerminalEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<TerminalEvent> {
        self.rx.try_recv().ok()
    }
}

/// Events a terminal may have waiting before it counts as not keeping up: a local
/// terminal is then dropped by the relay like a socket that stops reading, so an App's
/// flood never grows the process.
pub const EVENT_QUEUE: usize = 1024;

pub(crate) fn channel() -> (EventSink, Arc<Mutex<TermState>>, TerminalEvents) {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    let state = Arc::new(Mutex::new(TermState::default()));
    (
        EventSink {
            state: state.clone(),
            events: tx,
        },
        state,
        TerminalEvents { rx },
    )
}

#[derive(Debug)]
enum Link {
    /// In-process: frames go straight into the relay; dropping the link leaves it.
    Local(LocalLink),
    /// Over a socket: serialized frames go to the socket task.
    Remote {
        tx: mpsc::Sender<Message>,
        /// Stops the socket task when the last handle goes.
        stop: CancellationToken,
    },
}

#[derive(Debug)]
struct Inner {
    id: Uuid,
    link: Link,
    state: Arc<Mutex<TermState>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A local link leaves the relay when it drops with `self`.
        if let Link::Remote { stop, .. } = &self.link {
            stop.cancel();
        }
    }
}

/// A terminal handle. Cheap to clone; the terminal goes away (and its App gets `break`
/// 209) when [`Terminal::close`] is called or the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Terminal {
    inner: Arc<Inner>,
}

impl Terminal {
    fn new(id: Uuid, link: Link, state: Arc<Mutex<TermState>>) -> Self {
        Terminal {
            inner: Arc::new(Inner { id, link, state }),
        }
    }

    /// The terminal's id (its `clientId`).
    pub fn id(&self) -> Uuid {
        self.inner.id
    }

    /// What the App scans: `https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#<base>/<id>`,
    /// with `base` a `ws://host:port` or `wss://…` URL reachable from the phone.
    pub fn pairing_url(&self, base: &str) -> String {
        crate::pairing::pairing_url(base, self.inner.id)
    }

    /// The paired App, if any.
    pub fn app(&self) -> Option<Uuid> {
        match &self.inner.link {
            // The registry is the truth for in-process terminals.
            Link::Local(link) => link.paired_with(),
            Link::Remote { .. } => self.lock().app,
        }
    }

    /// The App's last strength report since it paired.
    pub fn last_report(&self) -> Option<StrengthReport> {
        self.lock().report
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TermState> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a channel to an absolute strength (0..=200). Relative commands move the App
    /// only ±1 whatever their value, so absolute is the only precise way.
    ///
    /// # Errors
    /// [`TerminalError`] if the value is out of range or the command cannot be sent.
    pub fn set_strength(&self, channel: Channel, value: u8) -> Result<(), TerminalError> {
        if value > MAX_STRENGTH {
            return Err(TerminalError::StrengthOutOfRange(value.into()));
        }
        self.send(&AppCommand::Strength {
            channel,
            mode: StrengthMode::Set,
            value,
        })
    }

    /// Moves a channel one step up or down.
    ///
    /// # Errors
    /// [`TerminalError`] if the command cannot be sent.
    pub fn step(&self, channel: Channel, direction: Direction) -> Result<(), TerminalError> {
        let mode = match direction {
            Direction::Up => StrengthMode::Increase,
            Direction::Down => StrengthMode::Decrease,
        };
        self.send(&AppCommand::Strength {
            channel,
            mode,
            value: 1,
        })
    }

    /// Appends frames to a channel's queue at the App.
    ///
    /// # Errors
    /// [`TerminalError::FrameCount`] for 0 or over 100 frames, [`TerminalError::TooLong`]
    /// when the message would exceed 1950 characters (more than 86 frames with UUID ids).
    pub fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), TerminalError> {
        if frames.is_empty() || frames.len() > MAX_PULSE_FRAMES {
            return Err(TerminalError::FrameCount(frames.len()));
        }
        self.send(&AppCommand::Pulse {
            channel,
            frames: frames.to_vec(),
        })
    }

    /// Most frames one `add_pulses` call can carry with this terminal's ids.
    pub fn max_pulse_frames(&self) -> usize {
        max_frames_for(&self.inner.id.to_string(), &Uuid::nil().to_string())
    }

    /// Empties a channel's queue at the App.
    ///
    /// # Errors
    /// [`TerminalError`] if the command cannot be sent.
    pub fn clear(&self, channel: Channel) -> Result<(), TerminalError> {
        self.send(&AppCommand::Clear(channel))
    }

    /// Sends any typed command to the paired App.
    ///
    /// # Errors
    /// [`TerminalError`] if no App is paired, the frame is too long or the link is closed.
    pub fn send(&self, cmd: &AppCommand) -> Result<(), TerminalError> {
        let app = self.app().ok_or(TerminalError::NotPaired)?;
        let env = Envelope::new(
            MessageType::Msg,
            self.inner.id.to_string(),
            app.to_string(),
            cmd.format(),
        );
        let text = codec::encode(&env).map_err(|e| TerminalError::TooLong {
            frames: match cmd {
                AppCommand::Pulse { frames, .. } => frames.len(),
                _ => 0,
            },
            len: e.len,
            max: max_frames_for(&env.client_id, &env.target_id),
        })?;
        match &self.inner.link {
            Link::Local(link) => link.send(env).map_err(|e| match e {
                SendError::Refused(Code::NotPaired) => TerminalError::NotPaired,
                SendError::Refused(c) => TerminalError::Refused(c.as_u16()),
                SendError::Busy => TerminalError::Busy,
            }),
            Link::Remote { tx, .. } => tx.try_send(Message::text(text)).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => TerminalError::Busy,
                mpsc::error::TrySendError::Closed(_) => TerminalError::Closed,
            }),
        }
    }

    /// Removes the terminal now (rather than when the last clone drops): its App gets
    /// `break` 209.
    pub fn close(&self) {
        match &self.inner.link {
            Link::Local(link) => link.leave(),
            Link::Remote { stop, .. } => stop.cancel(),
        }
    }
}

/// Most pulse frames that fit in one message between these ids.
fn max_frames_for(client_id: &str, target_id: &str) -> usize {
    let empty = Envelope::new(MessageType::Msg, client_id, target_id, "pulse-A:[]");
    let base = codec::encode_unchecked(&empty).len();
    // Each frame adds `\"<16 hex>\",` to the serialized envelope: its quotes are escaped
    // inside the `message` string (the last frame has no comma, hence the +1 below).
    let per_frame = 21;
    ((crate::protocol::MAX_FRAME_CHARS - base + 1) / per_frame).min(MAX_PULSE_FRAMES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_fit_86_frames() {
        let a = Uuid::new_v4().to_string();
        let b = Uuid::new_v4().to_string();
        assert_eq!(max_frames_for(&a, &b), 86);
        let frames = vec![Frame::SILENT; 86];
        let env = Envelope::new(
            MessageType::Msg,
            &*a,
            &*b,
            crate::protocol::command::format_pulse(Channel::A, &frames),
        );
        assert!(codec::encode(&env).is_ok());
        let frames = vec![Frame::SILENT; 87];
        let env = Envelope::new(
            MessageType::Msg,
            &*a,
            &*b,
            crate::protocol::command::format_pulse(Channel::A, &frames),
        );
        assert!(codec::encode(&env).is_err());
    }
}
