//! Emergency-stop latency: from `SafetyHub::emergency_stop()` to the moment each of 10
//! simulated Apps (real WebSocket clients on 127.0.0.1) has *received* all four of
//! `strength-1+2+0`, `strength-2+2+0`, `clear-1`, `clear-2`. The budget is 50 ms.
//!
//! Run with `cargo bench --bench estop`. Each run re-arms, starts a ramp on every
//! terminal (so the stop interrupts live work), waits, then stops.

use dglab_core::relay::{self, RelayConfig};
use dglab_core::safety::{SafetyConfig, SafetyHub};
use dglab_core::{Channel, Terminal};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const APPS: usize = 10;
const RUNS: usize = 50;
const WARMUP: usize = 5;
const EXPECTED: [&str; 4] = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];

/// One phone: binds to `terminal`, then reports the instant it has seen all four stop
/// messages, once per round.
async fn app(addr: std::net::SocketAddr, terminal: String, done: mpsc::UnboundedSender<Instant>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/{terminal}"))
        .await
        .expect("connect");
    let hello = ws.next().await.unwrap().unwrap();
    let hello: serde_json::Value = serde_json::from_str(hello.to_text().unwrap()).unwrap();
    let me = hello["clientId"].as_str().unwrap().to_owned();
    let bind =
        serde_json::json!({"type":"bind","clientId":terminal,"targetId":me,"message":"DGLAB"});
    ws.send(Message::text(bind.to_string())).await.unwrap();
    let mut seen = [false; 4];
    while let Some(Ok(m)) = ws.next().await {
        let Message::Text(t) = m else { continue };
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        let Some(msg) = v["message"].as_str() else {
            continue;
        };
        if let Some(i) = EXPECTED.iter().position(|e| *e == msg) {
            seen[i] = true;
            if seen.iter().all(|s| *s) {
                let _ = done.send(Instant::now());
                seen = [false; 4];
            }
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = relay::start(
        listener,
        RelayConfig {
            heartbeat_interval: None,
            ping_interval: None,
            ..RelayConfig::default()
        },
    )
    .unwrap();
    let hub = SafetyHub::new(SafetyConfig {
        watchdog: None,
        ..SafetyConfig::default()
    })
    .unwrap();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut terms = vec![];
    for _ in 0..APPS {
        let (t, e) = Terminal::local(&relay);
        let (t, mut e) = hub.guard(t, e);
        tokio::spawn(app(relay.local_addr(), t.id().to_string(), done_tx.clone()));
        // Wait for the pairing, then keep draining events so nothing backs up.
        loop {
            if let Some(dglab_core::TerminalEvent::Paired { .. }) = e.recv().await {
                break;
            }
        }
        tokio::spawn(async move { while e.recv().await.is_some() {} });
        terms.push(t);
    }

    let mut to_all = vec![];
    let mut call = vec![];
    for run in 0..WARMUP + RUNS {
        hub.rearm();
        for t in &terms {
            t.set_strength(Channel::A, 20).unwrap();
            t.set_strength(Channel::B, 20).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        let t0 = Instant::now();
        let report = hub.emergency_stop();
        let returned = t0.elapsed();
        assert_eq!(report.apps, APPS, "{report:?}");
        let mut last = t0;
        for _ in 0..APPS {
            let at = tokio::time::timeout(Duration::from_secs(5), done_rx.recv())
                .await
                .expect("an App never saw the stop")
                .unwrap();
            last = last.max(at);
        }
        if run >= WARMUP {
            to_all.push(last - t0);
            call.push(returned);
        }
    }
    to_all.sort();
    call.sort();
    println!("emergency_stop with {APPS} paired Apps, {RUNS} runs (after {WARMUP} warm-up), budget 50 ms");
    println!("| measure                                  | p50        | p99        | max        |");
    println!("|------------------------------------------|------------|------------|------------|");
    for (name, v) in [
        ("emergency_stop() returns (all queued)", &call),
        ("all 10 Apps received 0/0/clear/clear", &to_all),
    ] {
        println!(
            "| {name:<40} | {:>10} | {:>10} | {:>10} |",
            ms(pct(v, 0.5)),
            ms(pct(v, 0.99)),
            ms(*v.last().unwrap())
        );
    }
    let worst = *to_all.last().unwrap();
    println!(
        "{}",
        if worst <= Duration::from_millis(50) {
            "within budget"
        } else {
            "OVER BUDGET"
        }
    );
    relay.shutdown().await;
}
