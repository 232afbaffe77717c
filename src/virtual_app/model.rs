//! The App's side of the protocol as plain state: what a frame from the relay does, what
//! the App answers, what a tick plays. No sockets, no clock, so every rule is unit-tested.

use super::event::{
    ChannelState, DisconnectReason, IgnoredReason, Played, VirtualAppEvent, VirtualAppState,
};
use super::queue::FrameQueue;
use crate::protocol::codec::{self, Inbound};
use crate::protocol::command::{AppCommand, Channel, StrengthMode, StrengthReport, MAX_STRENGTH};
use crate::protocol::{wire_len, Code, Envelope, MessageType, MAX_FRAME_CHARS};

/// How far `strength-N+0+V` / `strength-N+1+V` move a channel: the App steps by one
/// whatever V is (src/protocol/command.rs, [`StrengthMode`]), which is why our terminal only
/// sends absolute values when it needs precision.
const RELATIVE_STEP: u8 = 1;

/// What one frame from the relay caused.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reaction {
    /// For the watchers, in order.
    pub(crate) events: Vec<VirtualAppEvent>,
    /// Whole frames (JSON text) to send back to the relay, in order.
    pub(crate) replies: Vec<String>,
    /// The connection must end (the terminal left).
    pub(crate) end: Option<(DisconnectReason, Option<u16>)>,
}

#[derive(Debug, Default, Clone)]
struct ChannelModel {
    strength: u8,
    soft_limit: u8,
    queue: FrameQueue,
    played: u64,
}

/// The simulated App once it has its id and knows its terminal.
#[derive(Debug, Clone)]
pub(crate) struct AppModel {
    app_id: String,
    terminal_id: String,
    connected: bool,
    bound: bool,
    channels: [ChannelModel; 2],
    ignored_too_long: u64,
    ignored_other: u64,
}

fn idx(ch: Channel) -> usize {
    match ch {
        Channel::A => 0,
        Channel::B => 1,
    }
}

impl AppModel {
    pub(crate) fn new(app_id: String, terminal_id: String, soft: [u8; 2]) -> Self {
        let mut m = AppModel {
            app_id,
            terminal_id,
            connected: true,
            bound: false,
            channels: Default::default(),
            ignored_too_long: 0,
            ignored_other: 0,
        };
        for (c, s) in m.channels.iter_mut().zip(soft) {
            c.soft_limit = s.min(MAX_STRENGTH);
        }
        m
    }

    pub(crate) fn set_bound(&mut self, bound: bool) {
        self.bound = bound;
    }

    pub(crate) fn set_disconnected(&mut self) {
        self.connected = false;
        self.bound = false;
    }

    pub(crate) fn connected(&self) -> bool {
        self.connected
    }

    /// The bind request the App sends after scanning.
    pub(crate) fn bind_request(&self) -> String {
        self.frame(MessageType::Bind, crate::protocol::BIND_MESSAGE.to_owned())
    }

    /// An envelope from this App to its terminal, as JSON text. Reports are short, so the
    /// length check cannot fail; the unchecked encoder avoids a `Result` nobody could act on.
    fn frame(&self, kind: MessageType, message: String) -> String {
        codec::encode_unchecked(&Envelope::new(
            kind,
            self.terminal_id.clone(),
            self.app_id.clone(),
            message,
        ))
    }

    pub(crate) fn report(&self) -> StrengthReport {
        let [a, b] = &self.channels;
        StrengthReport {
            a: a.strength,
            b: b.strength,
            limit_a: a.soft_limit,
            limit_b: b.soft_limit,
        }
    }

    /// `strength-a+b+softA+softB` to the terminal, and the matching event.
    pub(crate) fn report_frame(&self) -> (String, VirtualAppEvent) {
        let r = self.report();
        let msg = crate::protocol::command::AppReport::Strength(r).format();
        (
            self.frame(MessageType::Msg, msg),
            VirtualAppEvent::Strength(r),
        )
    }

    /// The user picked new soft limits: strengths above them come down to them, as on the
    /// App's screen. Returns the report to send (the App reports every change of limit).
    pub(crate) fn set_soft_limits(&mut self, soft: [u8; 2]) -> (String, VirtualAppEvent) {
        for (c, s) in self.channels.iter_mut().zip(soft) {
            c.soft_limit = s.min(MAX_STRENGTH);
            c.strength = c.strength.min(c.soft_limit);
        }
        self.report_frame()
    }

    /// `feedback-N` to the terminal.
    pub(crate) fn feedback_frame(&self, button: u8) -> String {
        self.frame(MessageType::Msg, format!("feedback-{button}"))
    }

    /// One tick of the App's clock: each channel plays its next frame, or nothing.
    pub(crate) fn tick(&mut self, at_ms: u64) -> [Played; 2] {
        Channel::BOTH.map(|channel| {
            let c = &mut self.channels[idx(channel)];
            let frame = c.queue.pop();
            if frame.is_some() {
                c.played += 1;
            }
            Played {
                at_ms,
                channel,
                strength: c.strength,
                frame,
            }
        })
    }

    /// What the App does with one text frame from the relay.
    pub(crate) fn on_text(&mut self, text: &str) -> Reaction {
        let mut r = Reaction::default();
        let chars = wire_len(text);
        // The App's first check, before it even parses: docs/protocol.md, "Envelope".
        if chars > MAX_FRAME_CHARS {
            self.ignored_too_long += 1;
            r.events.push(VirtualAppEvent::Ignored {
                reason: IgnoredReason::TooLong,
                chars,
            });
            return r;
        }
        let env = match codec::decode(text) {
            Ok(Inbound::Envelope(env)) => env,
            _ => return self.ignore(r, IgnoredReason::Malformed, chars),
        };
        let code = Code::from_message(&env.message);
        match env.kind {
            MessageType::Heartbeat => {
                r.events.push(VirtualAppEvent::Heartbeat);
                r.replies.push(self.frame(
                    MessageType::Heartbeat,
                    Code::Success.as_message().to_owned(),
                ));
            }
            MessageType::Break => {
                self.set_disconnected();
                let code = code
                    .map(Code::as_u16)
                    .or(Some(Code::PeerDisconnected.as_u16()));
                r.end = Some((DisconnectReason::TerminalLeft, code));
            }
            MessageType::Error => {
                r.events.push(VirtualAppEvent::RelayCode {
                    code: code.map_or(Code::Internal.as_u16(), Code::as_u16),
                });
            }
            MessageType::Bind => match code {
                // A late bind result after the handshake (the relay repeating itself): the
                // pairing is what the handshake said.
                Some(Code::Success) => self.bound = true,
                Some(c) => r
                    .events
                    .push(VirtualAppEvent::RelayCode { code: c.as_u16() }),
                None => return self.ignore(r, IgnoredReason::Malformed, chars),
            },
            MessageType::Msg => {
                if let Some(c) = code {
                    r.events
                        .push(VirtualAppEvent::RelayCode { code: c.as_u16() });
                    return r;
                }
                if env.client_id != self.terminal_id || env.target_id != self.app_id {
                    return self.ignore(r, IgnoredReason::NotOurs, chars);
                }
                match AppCommand::parse(&env.message) {
                    Some(cmd) => self.obey(cmd, &mut r),
                    None => return self.ignore(r, IgnoredReason::Malformed, chars),
                }
            }
        }
        r
    }

    fn ignore(&mut self, mut r: Reaction, reason: IgnoredReason, chars: usize) -> Reaction {
        self.ignored_other += 1;
        r.events.push(VirtualAppEvent::Ignored { reason, chars });
        r
    }

    fn obey(&mut self, cmd: AppCommand, r: &mut Reaction) {
        match cmd {
            AppCommand::Strength {
                channel,
                mode,
                value,
            } => {
                let c = &mut self.channels[idx(channel)];
                let wanted = match mode {
                    StrengthMode::Set => value,
                    StrengthMode::Increase => c.strength.saturating_add(RELATIVE_STEP),
                    StrengthMode::Decrease => c.strength.saturating_sub(RELATIVE_STEP),
                };
                c.strength = wanted.min(c.soft_limit);
                // Reported after every strength command, changed or not: the terminal's
                // gate waits for this confirmation while it ramps (tests/e2e FakeApp).
                let (frame, ev) = self.report_frame();
                r.replies.push(frame);
                r.events.push(ev);
            }
            AppCommand::Pulse { channel, frames } => {
                let q = &mut self.channels[idx(channel)].queue;
                let dropped = q.push(&frames);
                r.events.push(VirtualAppEvent::Queued {
                    channel,
                    added: frames.len() - dropped,
                    dropped,
                    queued: q.len(),
                });
            }
            AppCommand::Clear(channel) => {
                let discarded = self.channels[idx(channel)].queue.clear();
                r.events
                    .push(VirtualAppEvent::Cleared { channel, discarded });
            }
        }
    }

    pub(crate) fn state(&self) -> VirtualAppState {
        let ch = |c: &ChannelModel| ChannelState {
            strength: c.strength,
            soft_limit: c.soft_limit,
            queued: c.queue.len(),
            dropped: c.queue.dropped(),
            played: c.played,
        };
        VirtualAppState {
            connected: self.connected,
            bound: self.bound,
            app_id: self.app_id.clone(),
            terminal_id: self.terminal_id.clone(),
            a: ch(&self.channels[0]),
            b: ch(&self.channels[1]),
            ignored_too_long: self.ignored_too_long,
            ignored_other: self.ignored_other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Frame;
    use serde_json::{json, Value};

    const T: &str = "11111111-1111-4111-8111-111111111111";
    const A: &str = "22222222-2222-4222-8222-222222222222";

    fn model(soft: [u8; 2]) -> AppModel {
        let mut m = AppModel::new(A.into(), T.into(), soft);
        m.set_bound(true);
        m
    }

    fn msg(message: &str) -> String {
        json!({"type":"msg","clientId":T,"targetId":A,"message":message}).to_string()
    }

    fn replies(r: &Reaction) -> Vec<String> {
        r.replies
            .iter()
            .map(|t| {
                let v: Value = serde_json::from_str(t).unwrap();
                assert_eq!(v["clientId"], T);
                assert_eq!(v["targetId"], A);
                v["message"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn strength_commands_are_clamped_by_soft_limits_and_always_reported() {
        let mut m = model([30, 200]);
        let r = m.on_text(&msg("strength-1+2+50"));
        assert_eq!(replies(&r), ["strength-30+0+30+200"]);
        // Unchanged (already at the limit), still confirmed.
        assert_eq!(
            replies(&m.on_text(&msg("strength-1+1+5"))),
            ["strength-30+0+30+200"]
        );
        // Relative steps move by one whatever the value.
        assert_eq!(
            replies(&m.on_text(&msg("strength-1+0+5"))),
            ["strength-29+0+30+200"]
        );
        assert_eq!(
            replies(&m.on_text(&msg("strength-2+1+9"))),
            ["strength-29+1+30+200"]
        );
        assert_eq!(
            replies(&m.on_text(&msg("strength-2+0+1"))),
            ["strength-29+0+30+200"]
        );
        assert_eq!(
            replies(&m.on_text(&msg("strength-2+0+1"))),
            ["strength-29+0+30+200"]
        );
        // Lowering a limit below the strength brings the strength down with it.
        let (frame, ev) = m.set_soft_limits([10, 150]);
        assert!(frame.contains("strength-10+0+10+150"));
        assert_eq!(
            ev,
            VirtualAppEvent::Strength(StrengthReport {
                a: 10,
                b: 0,
                limit_a: 10,
                limit_b: 150
            })
        );
    }

    #[test]
    fn pulses_queue_clear_and_play_in_order() {
        let mut m = model([100, 100]);
        let f1 = Frame::uniform(10, 1).unwrap();
        let f2 = Frame::uniform(20, 2).unwrap();
        let r = m.on_text(&msg(&format!(r#"pulse-B:["{f1}","{f2}"]"#)));
        assert!(r.replies.is_empty());
        assert_eq!(
            r.events,
            [VirtualAppEvent::Queued {
                channel: Channel::B,
                added: 2,
                dropped: 0,
                queued: 2
            }]
        );
        let [a, b] = m.tick(100);
        assert_eq!((a.channel, a.frame), (Channel::A, None));
        assert_eq!((b.channel, b.frame, b.at_ms), (Channel::B, Some(f1), 100));
        m.on_text(&msg("clear-2"));
        assert_eq!(m.tick(200)[1].frame, None);
        assert_eq!(m.state().b.played, 1);
    }

    #[test]
    fn the_app_ignores_long_malformed_and_foreign_frames() {
        let mut m = model([100, 100]);
        // 1950 characters exactly is taken; 1951 is not.
        let frames = vec![Frame::SILENT; 100];
        let long = msg(&crate::protocol::command::format_pulse(Channel::A, &frames));
        assert!(long.len() > 1950);
        let r = m.on_text(&long);
        assert_eq!(
            r.events,
            [VirtualAppEvent::Ignored {
                reason: IgnoredReason::TooLong,
                chars: long.len()
            }]
        );
        assert_eq!(m.state().a.queued, 0);
        for bad in ["strength-3+2+1", "pulse-A:[]", "hello"] {
            let r = m.on_text(&msg(bad));
            assert!(r.replies.is_empty(), "{bad}");
        }
        let foreign = json!({"type":"msg","clientId":A,"targetId":T,"message":"strength-1+2+5"});
        assert!(m.on_text(&foreign.to_string()).replies.is_empty());
        assert!(m.on_text("not json").replies.is_empty());
        let s = m.state();
        assert_eq!(
            (s.ignored_too_long, s.ignored_other, s.a.strength),
            (1, 5, 0)
        );
    }

    #[test]
    fn heartbeat_is_answered_codes_are_reported_break_ends() {
        let mut m = model([100, 100]);
        let hb = json!({"type":"heartbeat","clientId":A,"targetId":T,"message":"200"});
        let r = m.on_text(&hb.to_string());
        assert_eq!(r.events, [VirtualAppEvent::Heartbeat]);
        assert_eq!(replies(&r), ["200"]);
        let r = m.on_text(&msg("402"));
        assert_eq!(r.events, [VirtualAppEvent::RelayCode { code: 402 }]);
        let brk = json!({"type":"break","clientId":T,"targetId":A,"message":"209"});
        let r = m.on_text(&brk.to_string());
        assert_eq!(r.end, Some((DisconnectReason::TerminalLeft, Some(209))));
        assert!(!m.state().bound && !m.state().connected);
    }
}
