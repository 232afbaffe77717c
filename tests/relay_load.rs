//! The relay under abuse and load: garbage never kills it, 1,000 pairs never cross-talk,
//! a stuck peer never stalls anyone else.

mod common;

use common::{pair, start_relay, start_relay_with, Client};
use dglab_core::relay::RelayConfig;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn garbage_never_kills_the_relay_and_a_fresh_pair_binds_afterwards() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    // JSON null: what kills the vendor's relay.
    term.send_raw(Message::text("null")).await;
    assert_eq!(term.recv().await["message"], "403");
    // A 64 KiB text frame: answered, not delivered, connection kept.
    term.send_raw(Message::text("y".repeat(64 * 1024))).await;
    assert_eq!(term.recv().await["message"], "403");
    let huge_msg = json!({"type":"msg","clientId":t,"targetId":a,"message":"z".repeat(60_000)});
    term.send(huge_msg).await;
    assert_eq!(term.recv().await["message"], "405");
    // Binary.
    term.send_raw(Message::binary(vec![0u8; 1000])).await;
    assert_eq!(term.recv().await["message"], "403");
    // The pair still works.
    term.msg(&t, &a, "clear-2").await;
    assert_eq!(app.recv().await["message"], "clear-2");
    // Invalid UTF-8 in a text frame: RFC 6455 says close (1007); 403 first.
    let mut bad = Client::connect(&relay, "").await;
    let frame = Frame::message(vec![0xff, 0xfe, b'{'], OpCode::Data(Data::Text), true);
    bad.send_raw(Message::Frame(frame)).await;
    assert_eq!(bad.recv().await["message"], "403");
    assert_eq!(bad.closed().await, Some(1007));
    // Nothing else was hurt, and new pairs bind.
    term.msg(&t, &a, "clear-1").await;
    assert_eq!(app.recv().await["message"], "clear-1");
    let (mut t2, mut a2) = pair(&relay).await;
    let (t2id, a2id) = (t2.id.clone(), a2.id.clone());
    a2.msg(&t2id, &a2id, "feedback-3").await;
    assert_eq!(t2.recv().await["message"], "feedback-3");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pairs_relay_concurrently_without_loss_or_cross_talk() {
    const PAIRS: usize = 1000;
    const EACH: usize = 5;
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        max_connections: 2 * PAIRS + 10,
        // Every socket comes from 127.0.0.1: no slots held back for other addresses.
        reserved_connections: 0,
        ..RelayConfig::default()
    })
    .await;
    let mut tasks = Vec::new();
    for _ in 0..PAIRS {
        let relay = relay.clone();
        tasks.push(tokio::spawn(async move {
            let (mut term, mut app) = pair(&relay).await;
            let (t, a) = (term.id.clone(), app.id.clone());
            for i in 0..EACH {
                term.msg(&t, &a, &format!("strength-1+2+{i}")).await;
                app.msg(&t, &a, &format!("strength-{i}+0+100+100")).await;
            }
            for i in 0..EACH {
                let m = app.recv().await;
                assert_eq!(
                    (m["clientId"].as_str(), m["targetId"].as_str()),
                    (Some(&*t), Some(&*a))
                );
                assert_eq!(
                    m["message"],
                    format!("strength-1+2+{i}"),
                    "in order, nothing lost"
                );
                let m = term.recv().await;
                assert_eq!(
                    (m["clientId"].as_str(), m["targetId"].as_str()),
                    (Some(&*t), Some(&*a))
                );
                assert_eq!(m["message"], format!("strength-{i}+0+100+100"));
            }
            (term, app)
        }));
    }
    let mut keep = Vec::new();
    for t in tasks {
        keep.push(t.await.expect("a pair failed"));
    }
    assert_eq!(relay.connection_count(), 2 * PAIRS);
    // Nothing stray arrived anywhere.
    for (term, app) in keep.iter_mut().take(50) {
        term.silent_for(Duration::from_millis(5)).await;
        app.silent_for(Duration::from_millis(5)).await;
    }
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_peer_is_dropped_and_never_stalls_others() {
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        outbound_queue: 64,
        ..RelayConfig::default()
    })
    .await;
    let (term, stuck_app) = pair(&relay).await;
    let (mut t2, mut a2) = pair(&relay).await;
    let (t, a) = (term.id.clone(), stuck_app.id.clone());
    // The App stops reading; the terminal floods it with maximum-size frames.
    let big = format!("pulse-A:[{}]", vec!["\"0A0A0A0A64646464\""; 86].join(","));
    let (mut sink, mut stream) = term.ws.split();
    let flood = tokio::spawn(async move {
        for _ in 0..20_000 {
            let m = json!({"type":"msg","clientId":t,"targetId":a,"message":big}).to_string();
            if sink.send(Message::text(m)).await.is_err() {
                break;
            }
        }
        sink
    });
    // Meanwhile the other pair is served promptly.
    let (x, y) = (t2.id.clone(), a2.id.clone());
    for i in 0..20 {
        let sent = tokio::time::Instant::now();
        t2.msg(&x, &y, &format!("strength-2+2+{i}")).await;
        assert_eq!(a2.recv().await["message"], format!("strength-2+2+{i}"));
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "other pair stalled"
        );
    }
    // The flooding terminal learns its App was dropped.
    let got_break = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = stream.next().await {
            if let Message::Text(t) = m {
                if t.contains("\"break\"") {
                    return true;
                }
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(got_break, "stuck App was not disconnected");
    drop(stuck_app);
    let _ = flood.await;
    relay.shutdown().await;
}
