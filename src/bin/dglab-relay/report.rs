//! What the log says about each relay, terminal and safety event: one line each, in the
//! wire's words (bind, break, msg). Pure, so the wording is tested without a relay.

use dglab_core::protocol::command::FeedbackButton;
use dglab_core::protocol::Code;
use dglab_core::relay::{RelayEvent, Role};
use dglab_core::safety::{Block, FollowChange, Limit, ResetReason, SafetyEvent, StopReport};
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
        RelayEvent::RoundTrip { id, rtt } => (
            Level::Debug,
            format!("ping {id}: {:.1} ms round trip", rtt.as_secs_f64() * 1000.0),
        ),
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
        RelayEvent::Reached { from, user_agent } => (
            Level::Info,
            format!(
                "phone check page served to {from} ({})",
                user_agent.as_deref().unwrap_or("no user agent")
            ),
        ),
        // Debug: anything scanning the port would fill the log at info.
        RelayEvent::HttpRefused { from, status, path } => (
            Level::Debug,
            format!("refused a plain HTTP request from {from} for {path:?}: {status}"),
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

/// The log line for a safety event of the local terminal's gate. All are `Info`: in the
/// headless relay they are the expected record of what the gate did (the emergency stop
/// is what every shutdown does).
pub fn safety_event(ev: &SafetyEvent) -> (Level, String) {
    let limit = |by: &Limit| match by {
        Limit::Cap => "the cap",
        Limit::SoftLimit => "the App's soft limit",
    };
    let block = |why: &Block| match why {
        Block::Latched => "the emergency stop is latched",
        Block::LeaseLapsed => "the controller's lease lapsed",
    };
    let line = match ev {
        SafetyEvent::Clamped {
            channel,
            asked,
            to,
            by,
            ..
        } => format!(
            "safety: channel {channel}: asked {asked}, limited to {to} by {}",
            limit(by)
        ),
        SafetyEvent::Ramping {
            channel, from, to, ..
        } => format!("safety: channel {channel}: ramping {from} -> {to}"),
        SafetyEvent::Refused { channel, why, .. } => match channel {
            Some(ch) => format!("safety: channel {ch}: refused, {}", block(why)),
            None => format!("safety: refused, {}", block(why)),
        },
        SafetyEvent::Lowered {
            channel, to, by, ..
        } => format!(
            "safety: channel {channel}: lowered to {to} by {}",
            limit(by)
        ),
        SafetyEvent::AppLowered { channel, to, .. } => format!(
            "safety: channel {channel}: the App is at {to}, below what was sent; the target follows"
        ),
        SafetyEvent::AppAboveLimit {
            channel,
            reported,
            to,
            allowed,
            ..
        } => format!(
            "safety: channel {channel}: the App reported {reported}, above the {allowed} allowed; sent {to}"
        ),
        SafetyEvent::Reset { why, app, .. } => match (why, app) {
            (ResetReason::Paired, Some(app)) => {
                format!("safety: App {app} paired; both channels set to 0 and both queues cleared")
            }
            _ => "safety: the App left; both channels reset to 0".to_owned(),
        },
        SafetyEvent::FollowSoftLimit {
            channel, on, why, ..
        } => format!(
            "safety: channel {channel}: following the App's soft limit {} ({})",
            if *on { "on" } else { "off" },
            match why {
                FollowChange::User => "asked",
                FollowChange::Stopped => "stopped",
                FollowChange::Paired => "a new pairing",
                FollowChange::AppLeft => "the App left",
            }
        ),
        SafetyEvent::StopConfirmed { app, .. } => {
            format!("safety: App {app} confirmed the stop: both channels at 0")
        }
        SafetyEvent::CapsChanged { cap_a, cap_b } => {
            format!("safety: caps now A {cap_a}, B {cap_b}")
        }
        SafetyEvent::EmergencyStop(r) => format!("safety: emergency stop: {}", stop_report(r)),
        SafetyEvent::Rearmed => "safety: re-armed; both channels stay at 0".to_owned(),
        SafetyEvent::WatchdogTripped(r) => {
            format!("safety: the controller's lease lapsed: {}", stop_report(r))
        }
        SafetyEvent::LeaseRenewed => "safety: lease renewed; both channels stay at 0".to_owned(),
    };
    (Level::Info, line)
}

/// `1 App set to 0 with both queues cleared, 0 players stopped, in 0.1 ms`, plus any
/// App that could not be reached.
fn stop_report(r: &StopReport) -> String {
    let mut line = match r.apps {
        0 => "no App was paired".to_owned(),
        1 => "1 App set to 0 with both queues cleared".to_owned(),
        n => format!("{n} Apps set to 0 with both queues cleared"),
    };
    line += &format!(
        ", {} player(s) stopped, in {:.1} ms",
        r.stopped_hooks,
        r.elapsed.as_secs_f64() * 1000.0
    );
    for (terminal, why) in &r.failures {
        line += &format!("; terminal {terminal} not reached: {why}");
    }
    if !r.unconfirmed.is_empty() {
        line += &format!(
            "; waiting for {} App(s) to confirm 0, resending every second",
            r.unconfirmed.len()
        );
    }
    line
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
    fn safety_lines() {
        let t = Uuid::nil();
        let (level, line) = safety_event(&SafetyEvent::Clamped {
            terminal: t,
            channel: dglab_core::Channel::A,
            asked: 50,
            to: 5,
            by: Limit::Cap,
        });
        assert_eq!(level, Level::Info);
        assert_eq!(line, "safety: channel A: asked 50, limited to 5 by the cap");
        let report = StopReport {
            terminals: 1,
            apps: 1,
            stopped_hooks: 0,
            failures: vec![],
            unconfirmed: vec![],
            elapsed: std::time::Duration::from_micros(250),
        };
        assert_eq!(
            safety_event(&SafetyEvent::EmergencyStop(report)).1,
            "safety: emergency stop: 1 App set to 0 with both queues cleared, 0 player(s) stopped, in 0.2 ms"
        );
        let none = StopReport {
            terminals: 1,
            apps: 0,
            stopped_hooks: 0,
            failures: vec![(t, "not paired".into())],
            unconfirmed: vec![],
            elapsed: std::time::Duration::ZERO,
        };
        assert_eq!(
            safety_event(&SafetyEvent::EmergencyStop(none)).1,
            format!("safety: emergency stop: no App was paired, 0 player(s) stopped, in 0.0 ms; terminal {t} not reached: not paired")
        );
        let (_, line) = safety_event(&SafetyEvent::Refused {
            terminal: t,
            channel: Some(dglab_core::Channel::B),
            why: Block::Latched,
        });
        assert_eq!(
            line,
            "safety: channel B: refused, the emergency stop is latched"
        );
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
