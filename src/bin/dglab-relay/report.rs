//! What the log says about each relay and terminal event: one line each, in the wire's
//! words (bind, break, msg). Pure, so the wording is tested without a relay.

use dglab_core::protocol::command::FeedbackButton;
use dglab_core::protocol::Code;
use dglab_core::relay::{RelayEvent, Role};
use dglab_core::TerminalEvent;
use log::Level;

/// The App draws each channel's five feedback buttons as these shapes, left to right.
const SHAPES: [&str; 5] = ["○", "△", "□", "☆", "⬡"];

/// The log line for a relay event. Relayed messages and heartbeat rounds are `Debug`:
/// a strength slider dragged on the phone makes dozens a second.
pub fn relay_event(ev: &RelayEvent) -> (Level, String) {
    match ev {
        RelayEvent::Connected { id, role, .. } if *role == Role::Local => {
            (Level::Info, format!("local terminal {id} joined"))
        }
        RelayEvent::Connected { id, remote, .. } => match remote {
            Some(addr) => (Level::Info, format!("connected {id} from {addr}")),
            None => (Level::Info, format!("connected {id}")),
        },
        RelayEvent::Disconnected { id, reason } => {
            (Level::Info, format!("disconnected {id} ({reason})"))
        }
        RelayEvent::BindAttempt {
            client_id,
            target_id,
            code,
        } => (
            Level::Info,
            format!(
                "bind App {target_id} to terminal {client_id}: {code} {}",
                bind_meaning(*code)
            ),
        ),
        RelayEvent::Break {
            terminal,
            app,
            survivor,
        } => {
            let rest = match survivor {
                Some(s) if s == terminal => "; the terminal stays and may pair again",
                Some(_) => "; the App stays connected",
                None => "",
            };
            (
                Level::Info,
                format!("break: terminal {terminal} and App {app} unpaired (209){rest}"),
            )
        }
        RelayEvent::Relayed { from, to, message } => {
            (Level::Debug, format!("msg {from} -> {to}: {message}"))
        }
        RelayEvent::Rejected { id, code, reason } => (
            Level::Info,
            format!("rejected a frame from {id}: {code} ({reason})"),
        ),
        RelayEvent::Heartbeat { sent } => (
            Level::Debug,
            format!("heartbeat sent to {sent} connection(s)"),
        ),
    }
}

fn bind_meaning(code: Code) -> &'static str {
    match code {
        Code::Success => "paired",
        Code::AlreadyPaired => "refused: already paired",
        Code::TargetNotConnected => "refused: terminal not connected",
        Code::NotFound => "refused: ids not owned by the sender",
        _ => "refused",
    }
}

/// The log line for an event of the local terminal; `None` for ones not worth a line
/// (the relay already logs each heartbeat round).
pub fn terminal_event(ev: &TerminalEvent) -> Option<(Level, String)> {
    Some(match ev {
        TerminalEvent::Paired { app } => (
            Level::Info,
            format!("App {app} paired with the local terminal"),
        ),
        TerminalEvent::Strength(r) => (
            Level::Info,
            format!(
                "App strength: A {} (limit {}), B {} (limit {})",
                r.a, r.limit_a, r.b, r.limit_b
            ),
        ),
        TerminalEvent::Feedback(b) => (Level::Info, format!("App feedback: {}", button(*b))),
        TerminalEvent::AppLeft { app } => (
            Level::Info,
            format!("App {app} left; the same QR code can be scanned again"),
        ),
        TerminalEvent::Refused { code } => (
            Level::Warn,
            format!("the relay refused a local terminal frame: {code}"),
        ),
        TerminalEvent::Other { message } => (Level::Debug, format!("App sent {message:?}")),
        TerminalEvent::Closed => (Level::Info, "local terminal closed".to_owned()),
        TerminalEvent::Heartbeat => return None,
    })
}

/// `channel A ○ (button 0)`: the channel and shape as the App shows them, plus the wire
/// index for people reading protocol traces.
fn button(b: FeedbackButton) -> String {
    format!(
        "channel {} {} (button {})",
        b.channel().letter(),
        SHAPES[usize::from(b.position())],
        b.index()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use dglab_core::protocol::command::StrengthReport;
    use uuid::Uuid;

    #[test]
    fn feedback_shows_channel_and_shape() {
        let line = |i| terminal_event(&TerminalEvent::Feedback(FeedbackButton::new(i).unwrap()));
        assert_eq!(line(0).unwrap().1, "App feedback: channel A ○ (button 0)");
        assert_eq!(line(8).unwrap().1, "App feedback: channel B ☆ (button 8)");
        assert_eq!(line(9).unwrap().1, "App feedback: channel B ⬡ (button 9)");
    }

    #[test]
    fn strength_report() {
        let r = StrengthReport {
            a: 5,
            b: 0,
            limit_a: 100,
            limit_b: 80,
        };
        assert_eq!(
            terminal_event(&TerminalEvent::Strength(r)),
            Some((
                Level::Info,
                "App strength: A 5 (limit 100), B 0 (limit 80)".into()
            ))
        );
        assert_eq!(terminal_event(&TerminalEvent::Heartbeat), None);
    }

    #[test]
    fn relay_lines() {
        let id = Uuid::nil();
        let (level, line) = relay_event(&RelayEvent::BindAttempt {
            client_id: "t".into(),
            target_id: "a".into(),
            code: Code::TargetNotConnected,
        });
        assert_eq!(level, Level::Info);
        assert_eq!(
            line,
            "bind App a to terminal t: 401 refused: terminal not connected"
        );
        let (level, line) = relay_event(&RelayEvent::Rejected {
            id,
            code: Code::NotJson,
            reason: "not JSON".into(),
        });
        assert_eq!(level, Level::Info);
        assert!(line.contains(": 403 (not JSON)"), "{line}");
        let relayed = RelayEvent::Relayed {
            from: id,
            to: id,
            message: "strength-1+2+35".into(),
        };
        assert_eq!(relay_event(&relayed).0, Level::Debug);
        assert_eq!(
            relay_event(&RelayEvent::Heartbeat { sent: 3 }).0,
            Level::Debug
        );
        let (t, a) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (_, line) = relay_event(&RelayEvent::Break {
            terminal: t,
            app: a,
            survivor: Some(t),
        });
        assert_eq!(
            line,
            format!("break: terminal {t} and App {a} unpaired (209); the terminal stays and may pair again")
        );
    }
}
