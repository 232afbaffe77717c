//! The safety gate end to end: a guarded local terminal, a live relay on 127.0.0.1, and a
//! simulated App that reports its levels and limits like the real one. Every check is on
//! the messages the App receives, one by one.

mod common;

use common::{start_relay, Client};
use dglab_core::relay::RelayHandle;
use dglab_core::safety::{GuardedEvents, GuardedTerminal, SafetyConfig, SafetyError, SafetyHub};
use dglab_core::terminal::Direction;
use dglab_core::{Channel, Frame, Terminal, TerminalEvent};
use serde_json::json;
use std::time::{Duration, Instant};

/// The phone: applies every `strength-<ch>+2+<v>` (clamped to its soft limit) and reports
/// back, as the App does whenever a level changes.
struct SimApp {
    client: Client,
    terminal: String,
    level: [u8; 2],
    limit: [u8; 2],
}

impl SimApp {
    async fn pair(relay: &RelayHandle, term: &GuardedTerminal, ev: &mut GuardedEvents) -> SimApp {
        let terminal = term.id().to_string();
        let mut client = Client::connect(relay, &terminal).await;
        let me = client.id.clone();
        client
            .send(json!({"type":"bind","clientId":terminal,"targetId":me,"message":"DGLAB"}))
            .await;
        assert_eq!(client.recv().await["message"], "200");
        loop {
            if let TerminalEvent::Paired { .. } = next(ev).await {
                break;
            }
        }
        SimApp {
            client,
            terminal,
            level: [0, 0],
            limit: [200, 200],
        }
    }

    async fn report(&mut self) {
        let m = format!(
            "strength-{}+{}+{}+{}",
            self.level[0], self.level[1], self.limit[0], self.limit[1]
        );
        let (t, a) = (self.terminal.clone(), self.client.id.clone());
        self.client.msg(&t, &a, &m).await;
    }

    /// The next message from the terminal; strength commands are applied and reported.
    async fn next(&mut self) -> String {
        let v = self.client.recv().await;
        assert_eq!(v["type"], "msg", "{v}");
        let m = v["message"].as_str().unwrap().to_owned();
        if let Some(rest) = m.strip_prefix("strength-") {
            let parts: Vec<u8> = rest.split('+').map(|p| p.parse().unwrap()).collect();
            assert_eq!(
                parts[1], 2,
                "the gate only ever sends absolute strengths: {m}"
            );
            let i = usize::from(parts[0] - 1);
            let new = parts[2].min(self.limit[i]);
            if new != self.level[i] {
                self.level[i] = new;
                self.report().await;
            }
        }
        m
    }

    /// Reads strength commands on one channel until it reaches `until`.
    async fn ramp(&mut self, ch: u8, until: u8) -> Vec<u8> {
        let mut seen = vec![];
        loop {
            let m = self.next().await;
            let prefix = format!("strength-{ch}+2+");
            let v: u8 = m
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{m}"))
                .parse()
                .unwrap();
            seen.push(v);
            if v == until {
                return seen;
            }
        }
    }
}

async fn next(ev: &mut GuardedEvents) -> TerminalEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
            .await
            .expect("no terminal event")
            .expect("event stream ended");
        if e != TerminalEvent::Heartbeat {
            return e;
        }
    }
}

fn frame() -> Frame {
    Frame::uniform(10, 50).unwrap()
}

#[tokio::test]
async fn the_gate_over_real_sockets() {
    let relay = start_relay().await;
    let hub = SafetyHub::new(SafetyConfig {
        cap_a: 10,
        cap_b: 5,
        watchdog: None,
        ..SafetyConfig::default()
    })
    .unwrap();
    let (raw, raw_events) = Terminal::local(&relay);
    let (term, mut ev) = hub.guard(raw, raw_events);
    let mut app = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut app).await, ZERO_CLEAR);

    // The App reports a soft limit of 8 on A, below the cap of 10.
    app.limit = [8, 200];
    app.report().await;
    assert!(matches!(next(&mut ev).await, TerminalEvent::Strength(r) if r.limit_a == 8));

    // A jump to 50 is clamped to the soft limit and climbed +1 at a time (~100 ms each).
    let t0 = Instant::now();
    let out = term.set_strength(Channel::A, 50).unwrap();
    assert_eq!((out.target, out.level), (8, 1));
    assert_eq!(app.ramp(1, 8).await, (1..=8).collect::<Vec<_>>());
    assert!(
        t0.elapsed() >= Duration::from_millis(650),
        "{:?}",
        t0.elapsed()
    );

    // B is clamped to its cap of 5, again as a monotone ramp.
    term.set_strength(Channel::B, 80).unwrap();
    assert_eq!(app.ramp(2, 5).await, (1..=5).collect::<Vec<_>>());

    // Lowering is immediate: the very next message.
    term.set_strength(Channel::A, 2).unwrap();
    assert_eq!(app.next().await, "strength-1+2+2");
    // A step is an absolute target.
    term.step(Channel::A, Direction::Up).unwrap();
    assert_eq!(app.next().await, "strength-1+2+3");

    // Start a ramp, then stop: 0/0/clear/clear and nothing more.
    term.set_strength(Channel::A, 8).unwrap();
    assert_eq!(app.next().await, "strength-1+2+4");
    let report = hub.emergency_stop();
    assert_eq!((report.terminals, report.apps), (1, 1));
    let mut after = vec![];
    for _ in 0..4 {
        after.push(app.next().await);
    }
    // At most one ramp step may have been in flight before the stop; none after it.
    after.retain(|m| m != "strength-1+2+5");
    while after.len() < 4 {
        after.push(app.next().await);
    }
    assert_eq!(
        after,
        ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]
    );
    assert_eq!(term.set_strength(Channel::A, 5), Err(SafetyError::Latched));
    assert_eq!(
        term.add_pulses(Channel::A, &[frame()]),
        Err(SafetyError::Latched)
    );
    app.client.silent_for(Duration::from_millis(400)).await;

    // Re-arm restores nothing; a new request climbs from 0.
    hub.rearm();
    app.client.silent_for(Duration::from_millis(200)).await;
    term.set_strength(Channel::A, 3).unwrap();
    assert_eq!(app.ramp(1, 3).await, [1, 2, 3]);
    term.add_pulses(Channel::A, &[frame()]).unwrap();
    assert!(app.next().await.starts_with("pulse-A:"));

    // Mid-ramp the phone drops and another pairs: the new App hears 0/0/clear/clear,
    // then nothing until asked, then starts from 1.
    term.set_strength(Channel::B, 5).unwrap();
    assert_eq!(app.next().await, "strength-2+2+1");
    drop(app);
    loop {
        if let TerminalEvent::AppLeft { .. } = next(&mut ev).await {
            break;
        }
    }
    let mut app2 = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut app2).await, ZERO_CLEAR);
    app2.client.silent_for(Duration::from_millis(500)).await;
    let st = term.state();
    assert_eq!((st.channels[0].target, st.channels[1].target), (0, 0));
    term.set_strength(Channel::B, 2).unwrap();
    assert_eq!(app2.ramp(2, 2).await, [1, 2]);

    relay.shutdown().await;
}

/// A hub with caps 10/5 and no watchdog, a guarded local terminal and its events.
async fn guarded(relay: &RelayHandle) -> (SafetyHub, GuardedTerminal, GuardedEvents) {
    let hub = SafetyHub::new(SafetyConfig {
        cap_a: 10,
        cap_b: 5,
        watchdog: None,
        ..Default::default()
    })
    .unwrap();
    let (raw, raw_events) = Terminal::local(relay);
    let (term, ev) = hub.guard(raw, raw_events);
    (hub, term, ev)
}

/// The four frames that leave an App silent: both channels 0, both queues empty.
const ZERO_CLEAR: [&str; 4] = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];

async fn next_four(app: &mut SimApp) -> Vec<String> {
    let mut v = vec![];
    for _ in 0..4 {
        v.push(app.next().await);
    }
    v
}

#[tokio::test]
async fn every_pairing_starts_with_zero_and_clear() {
    let relay = start_relay().await;
    let (_hub, term, mut ev) = guarded(&relay).await;
    let mut app = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut app).await, ZERO_CLEAR);
    // The same App drops and scans the same code again: the same four come first again.
    drop(app);
    while !matches!(next(&mut ev).await, TerminalEvent::AppLeft { .. }) {}
    let mut again = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut again).await, ZERO_CLEAR);
    relay.shutdown().await;
}

#[tokio::test]
async fn an_app_above_the_cap_is_brought_down_at_its_first_report() {
    let relay = start_relay().await;
    let (_hub, term, mut ev) = guarded(&relay).await;
    let mut app = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut app).await, ZERO_CLEAR);

    // The phone comes back from another controller at 80/60 (caps 10/5): the report's
    // answer is both channels down to what the user asked for here, 0.
    app.level = [80, 60];
    app.report().await;
    let mut got = vec![app.next().await, app.next().await];
    got.sort();
    assert_eq!(got, ["strength-1+2+0", "strength-2+2+0"]);
    assert_eq!(app.level, [0, 0]);

    // With a target of 3 on A, a phone dialled up to 150 goes back to 3, not to the cap.
    term.set_strength(Channel::A, 3).unwrap();
    assert_eq!(app.ramp(1, 3).await, [1, 2, 3]);
    app.level[0] = 150;
    app.report().await;
    assert_eq!(app.next().await, "strength-1+2+3");
    relay.shutdown().await;
}

#[tokio::test]
async fn while_stopped_any_level_the_app_reports_goes_back_to_zero() {
    let relay = start_relay().await;
    let (hub, term, mut ev) = guarded(&relay).await;
    let mut app = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut app).await, ZERO_CLEAR);
    hub.emergency_stop();
    assert_eq!(next_four(&mut app).await, ZERO_CLEAR);
    // Someone turns the dial on the phone to 4, under the cap: stopped means 0.
    app.level = [4, 0];
    app.report().await;
    assert_eq!(app.next().await, "strength-1+2+0");
    assert_eq!(app.level, [0, 0]);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_stop_is_resent_until_the_app_reports_zero_and_then_confirmed() {
    let relay = start_relay().await;
    let (hub, term, mut ev) = guarded(&relay).await;
    let mut audit = hub.subscribe();
    let mut app = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut app).await, ZERO_CLEAR);
    term.set_strength(Channel::A, 2).unwrap();
    assert_eq!(app.ramp(1, 2).await, [1, 2]);

    // This App reads but does not answer: its confirmation never comes.
    let report = hub.emergency_stop();
    assert_eq!(report.apps, 1);
    assert_eq!(
        report.unconfirmed,
        [app.client.id.parse::<uuid::Uuid>().unwrap()]
    );
    let mut raw = vec![];
    for _ in 0..8 {
        let v = app.client.recv().await;
        raw.push(v["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(raw[..4], ZERO_CLEAR);
    assert_eq!(raw[4..], ZERO_CLEAR, "the stop was not sent again");
    assert_eq!(hub.unconfirmed_stops().len(), 1);

    // Now it reports 0/0: confirmed, audited, and the retries end.
    app.level = [0, 0];
    app.report().await;
    let confirmed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(dglab_core::safety::SafetyEvent::StopConfirmed { app: a, .. }) =
                audit.recv().await
            {
                return a;
            }
        }
    })
    .await
    .expect("no StopConfirmed");
    assert_eq!(confirmed.to_string(), app.client.id);
    assert!(hub.unconfirmed_stops().is_empty());
    app.client.silent_for(Duration::from_millis(1500)).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn a_stop_with_no_app_paired_still_latches_and_says_so() {
    let relay = start_relay().await;
    let (hub, term, mut ev) = guarded(&relay).await;
    let report = hub.emergency_stop();
    assert_eq!((report.terminals, report.apps), (1, 0));
    assert!(report.unconfirmed.is_empty());
    assert!(hub.is_latched());
    // An App that pairs afterwards is held at 0 by the latch.
    let mut app = SimApp::pair(&relay, &term, &mut ev).await;
    assert_eq!(next_four(&mut app).await, ZERO_CLEAR);
    assert_eq!(term.set_strength(Channel::A, 1), Err(SafetyError::Latched));
    relay.shutdown().await;
}
