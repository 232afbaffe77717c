//! The relay's rules, each over real sockets on 127.0.0.1, with a simulated App.

mod common;

use common::{pair, start_relay, start_relay_with, Client};
use dglab_core::relay::{RelayConfig, RelayEvent, Role};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const QUIET: Duration = Duration::from_millis(150);

#[tokio::test]
async fn greeting_hands_out_distinct_uuid_v4_ids_on_any_path() {
    let relay = start_relay().await;
    let a = Client::connect(&relay, "").await;
    let b = Client::connect(&relay, "some/path/x").await;
    for id in [&a.id, &b.id] {
        let u = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(u.get_version_num(), 4);
    }
    assert_ne!(a.id, b.id);
    relay.shutdown().await;
}

#[tokio::test]
async fn msg_goes_to_the_other_member_both_ways_and_never_echoes() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, "strength-1+2+35").await;
    assert_eq!(
        app.recv().await,
        json!({"type":"msg","clientId":t,"targetId":a,"message":"strength-1+2+35"})
    );
    app.msg(&t, &a, "strength-35+0+100+100").await;
    assert_eq!(
        term.recv().await,
        json!({"type":"msg","clientId":t,"targetId":a,"message":"strength-35+0+100+100"})
    );
    term.silent_for(QUIET).await;
    app.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn bind_to_unknown_terminal_is_401_to_requester_only() {
    let relay = start_relay().await;
    let mut bystander = Client::connect(&relay, "").await;
    let mut app = Client::connect(&relay, "").await;
    let ghost = uuid::Uuid::new_v4().to_string();
    app.send(json!({"type":"bind","clientId":ghost,"targetId":app.id,"message":"DGLAB"}))
        .await;
    let r = app.recv().await;
    assert_eq!(r["type"], "bind");
    assert_eq!(r["message"], "401");
    bystander.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn bind_when_either_side_is_paired_is_400() {
    let relay = start_relay().await;
    let (mut term, _app) = pair(&relay).await;
    let mut app2 = Client::connect(&relay, &term.id).await;
    app2.send(json!({"type":"bind","clientId":term.id,"targetId":app2.id,"message":"DGLAB"}))
        .await;
    let r = app2.recv().await;
    assert_eq!(
        (r["type"].as_str(), r["message"].as_str()),
        (Some("bind"), Some("400"))
    );
    term.silent_for(QUIET).await;
    // The paired App cannot bind to a second terminal either.
    let (mut _t2, mut a2) = pair(&relay).await;
    let term3 = Client::connect(&relay, "").await;
    a2.send(json!({"type":"bind","clientId":term3.id,"targetId":a2.id,"message":"DGLAB"}))
        .await;
    assert_eq!(a2.recv().await["message"], "400");
    relay.shutdown().await;
}

#[tokio::test]
async fn a_stranger_cannot_bind_someone_elses_app() {
    // PyDGLab-WS lets a terminal bind itself to any App id it learns; here the bind must
    // come from the App (the sender owns targetId).
    let relay = start_relay().await;
    let mut victim = Client::connect(&relay, "").await;
    let mut stranger = Client::connect(&relay, "").await;
    stranger
        .send(json!({"type":"bind","clientId":stranger.id,"targetId":victim.id,"message":"DGLAB"}))
        .await;
    let r = stranger.recv().await;
    assert_eq!(r["message"], "404");
    victim.silent_for(QUIET).await;
    stranger
        .msg(&stranger.id.clone(), &victim.id.clone(), "strength-1+2+200")
        .await;
    assert_eq!(stranger.recv().await["message"], "402");
    victim.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn frames_naming_ids_the_sender_does_not_own_are_404_and_go_nowhere() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let mut intruder = Client::connect(&relay, "").await;
    let (t, a) = (term.id.clone(), app.id.clone());
    intruder.msg(&t, &a, "strength-1+2+200").await;
    let r = intruder.recv().await;
    assert_eq!(r["type"], "msg");
    assert_eq!(r["message"], "404");
    // The reply carries the intruder's own id, never the pair's.
    assert_eq!(r["clientId"], intruder.id.as_str());
    term.silent_for(QUIET).await;
    app.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn unpaired_sender_gets_402_with_its_own_ids() {
    let relay = start_relay().await;
    let mut lone = Client::connect(&relay, "").await;
    let other = Client::connect(&relay, "").await;
    let id = lone.id.clone();
    lone.msg(&id, &other.id, "strength-1+2+5").await;
    let r = lone.recv().await;
    assert_eq!(r["message"], "402");
    assert_eq!(r["clientId"], id.as_str());
    relay.shutdown().await;
}

#[tokio::test]
async fn non_objects_get_403_and_the_connection_carries_on() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    for bad in ["null", "[]", "42", "\"x\"", "{not json"] {
        term.send_raw(Message::text(bad)).await;
        let r = term.recv().await;
        assert_eq!(r["type"], "msg", "{bad}");
        assert_eq!(r["message"], "403", "{bad}");
        assert_eq!(
            r["clientId"],
            t.as_str(),
            "error replies carry the sender's own ids"
        );
        assert_eq!(r["targetId"], a.as_str());
    }
    term.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(term.recv().await["message"], "403");
    // JSON objects are never 403 (issue 11): ids the sender does not own are 404.
    for obj in [
        r#"{"type":"msg","clientId":1,"targetId":"x","message":"m"}"#,
        r#"{"type":"msg","clientId":"a","targetId":"b"}"#,
    ] {
        term.send_raw(Message::text(obj)).await;
        assert_eq!(term.recv().await["message"], "404", "{obj}");
    }
    app.silent_for(QUIET).await;
    // Still paired and relaying.
    term.msg(&t, &a, "clear-1").await;
    assert_eq!(app.recv().await["message"], "clear-1");
    // Same from the App's side: replies carry its ids in their roles.
    app.send_raw(Message::text("null")).await;
    let r = app.recv().await;
    assert_eq!(
        (r["clientId"].as_str(), r["targetId"].as_str()),
        (Some(t.as_str()), Some(a.as_str()))
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn over_long_frames_are_405_and_not_delivered_in_either_direction() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    // The limit is on the frame the peer would receive: find the longest message that fits.
    let base = json!({"type":"msg","clientId":t,"targetId":a,"message":""})
        .to_string()
        .len();
    let fits = "x".repeat(1950 - base);
    term.msg(&t, &a, &fits).await;
    assert_eq!(
        app.recv().await["message"].as_str().unwrap().len(),
        fits.len()
    );
    let too_long = "x".repeat(1951 - base);
    term.msg(&t, &a, &too_long).await;
    let r = term.recv().await;
    assert_eq!(
        (r["type"].as_str(), r["message"].as_str()),
        (Some("msg"), Some("405"))
    );
    app.silent_for(QUIET).await;
    app.msg(&t, &a, &too_long).await;
    assert_eq!(app.recv().await["message"], "405");
    term.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn disconnect_sends_break_and_the_survivor_can_pair_again() {
    let relay = start_relay().await;
    let (mut term, app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    drop(app);
    assert_eq!(
        term.recv().await,
        json!({"type":"break","clientId":t,"targetId":a,"message":"209"})
    );
    // The same QR code (terminal id) works again.
    let mut app2 = Client::connect(&relay, &t).await;
    app2.send(json!({"type":"bind","clientId":t,"targetId":app2.id,"message":"DGLAB"}))
        .await;
    assert_eq!(app2.recv().await["message"], "200");
    assert_eq!(term.recv().await["targetId"], app2.id.as_str());
    term.msg(&t, &app2.id.clone(), "clear-2").await;
    assert_eq!(app2.recv().await["message"], "clear-2");
    relay.shutdown().await;
}

#[tokio::test]
async fn terminal_leaving_breaks_the_app_which_stays_connected() {
    let relay = start_relay().await;
    let (term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    drop(term);
    assert_eq!(
        app.recv().await,
        json!({"type":"break","clientId":t,"targetId":a,"message":"209"})
    );
    // Unpaired now: its messages are refused, and it is still connected.
    app.msg(&t, &a, "strength-1+1+1+1").await;
    assert_eq!(app.recv().await["message"], "402");
    relay.shutdown().await;
}

#[tokio::test]
async fn snapshot_shows_roles_addresses_and_pairs() {
    let relay = start_relay().await;
    let (term, app) = pair(&relay).await;
    let lone = Client::connect(&relay, "").await;
    let snap = relay.snapshot();
    let find = |id: &str| {
        snap.iter()
            .find(|c| c.id.to_string() == id)
            .unwrap()
            .clone()
    };
    let (t, a, l) = (find(&term.id), find(&app.id), find(&lone.id));
    assert_eq!(t.role, Role::Terminal);
    assert_eq!(a.role, Role::App);
    assert_eq!(l.role, Role::Unknown);
    assert_eq!(t.paired_with, Some(a.id));
    assert_eq!(a.paired_with, Some(t.id));
    assert!(t.remote.unwrap().ip().is_loopback());
    relay.shutdown().await;
}

#[tokio::test]
async fn events_report_connect_bind_relay_reject_break_disconnect() {
    let relay = start_relay().await;
    let mut ev = relay.subscribe();
    let (mut term, app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, "clear-1").await;
    term.send_raw(Message::text("null")).await;
    term.recv().await;
    drop(app);
    term.recv().await;
    let mut seen = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(300), ev.recv()).await {
        seen.push(e);
    }
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            RelayEvent::Connected { .. } => "connected",
            RelayEvent::BindAttempt { code, .. } if code.as_u16() == 200 => "bind200",
            RelayEvent::Relayed { message, .. } if &**message == "clear-1" => "relayed",
            RelayEvent::Rejected { code, .. } if code.as_u16() == 403 => "rejected403",
            RelayEvent::Break { .. } => "break",
            RelayEvent::Disconnected { .. } => "disconnected",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "connected",
            "connected",
            "bind200",
            "relayed",
            "rejected403",
            "break",
            "disconnected"
        ]
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn front_end_types_are_translated_for_the_app() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    let base = |ty: serde_json::Value| json!({"type":ty,"clientId":t,"targetId":a,"message":"set channel","channel":2,"strength":50});
    term.send(base(json!(1))).await;
    assert_eq!(app.recv().await["message"], "strength-2+0+1");
    term.send(base(json!(2))).await;
    assert_eq!(app.recv().await["message"], "strength-2+1+1");
    term.send(base(json!(3))).await;
    assert_eq!(app.recv().await["message"], "strength-2+2+50");
    term.send(json!({"type":4,"clientId":t,"targetId":a,"message":"clear-1"}))
        .await;
    assert_eq!(app.recv().await["message"], "clear-1");
    // Out-of-range values never reach the App.
    term.send(json!({"type":3,"clientId":t,"targetId":a,"message":"set channel","channel":1,"strength":999})).await;
    let r = term.recv().await;
    assert_eq!(
        (r["type"].as_str(), r["message"].as_str()),
        (Some("error"), Some("406-strength is invalid"))
    );
    app.silent_for(QUIET).await;
    // Unpaired front-end senders get 402, as with msg.
    let mut lone = Client::connect(&relay, "").await;
    let l = lone.id.clone();
    lone.send(json!({"type":3,"clientId":l,"targetId":a,"message":"set channel","channel":1,"strength":5})).await;
    assert_eq!(lone.recv().await["message"], "402");
    relay.shutdown().await;
}

#[tokio::test]
async fn client_msg_repeats_and_a_new_one_clears_first() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    let wave = |m: &str, time: u32| json!({"type":"clientMsg","channel":"A","time":time,"clientId":t,"targetId":a,"message":m});
    let one = r#"A:["0A0A0A0A64646464"]"#;
    term.send(wave(one, 2)).await;
    let start = tokio::time::Instant::now();
    assert_eq!(app.recv().await["message"], format!("pulse-{one}"));
    assert_eq!(app.recv().await["message"], format!("pulse-{one}"));
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "repeats are a second apart"
    );
    app.silent_for(Duration::from_millis(1300)).await;
    // A long repeat replaced by a new one: clear, then the new waveform.
    term.send(wave(one, 30)).await;
    assert_eq!(app.recv().await["message"], format!("pulse-{one}"));
    let two = r#"A:["0A0A0A0A32323232"]"#;
    term.send(wave(two, 1)).await;
    assert_eq!(app.recv().await["message"], "clear-1");
    let t0 = tokio::time::Instant::now();
    assert_eq!(app.recv().await["message"], format!("pulse-{two}"));
    assert!(
        t0.elapsed() >= Duration::from_millis(100),
        "the clear gets a head start"
    );
    app.silent_for(Duration::from_millis(1300)).await;
    // No channel: type error 406.
    term.send(json!({"type":"clientMsg","time":1,"clientId":t,"targetId":a,"message":one}))
        .await;
    let r = term.recv().await;
    assert_eq!(
        (r["type"].as_str(), r["message"].as_str()),
        (Some("error"), Some("406-channel is empty"))
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn client_msg_repeat_stops_when_the_pair_breaks() {
    let relay = start_relay().await;
    let (mut term, app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.send(json!({"type":"clientMsg","channel":"B","time":60,"clientId":t,"targetId":a,"message":"B:[\"0A0A0A0A64646464\"]"})).await;
    drop(app);
    assert_eq!(term.recv().await["type"], "break");
    // A new App on the same terminal must not receive the old repeat.
    let mut app2 = Client::connect(&relay, &t).await;
    app2.send(json!({"type":"bind","clientId":t,"targetId":app2.id,"message":"DGLAB"}))
        .await;
    assert_eq!(app2.recv().await["message"], "200");
    app2.silent_for(Duration::from_millis(1500)).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn oversized_websocket_message_closes_with_1009_and_relay_lives_on() {
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        max_message_size: 4096,
        ..RelayConfig::default()
    })
    .await;
    let mut big = Client::connect(&relay, "").await;
    big.send_raw(Message::text("x".repeat(10_000))).await;
    assert_eq!(big.closed().await, Some(1009));
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, "clear-1").await;
    assert_eq!(app.recv().await["message"], "clear-1");
    relay.shutdown().await;
}

#[tokio::test]
async fn connection_cap_refuses_extra_sockets() {
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        max_connections: 2,
        ..RelayConfig::default()
    })
    .await;
    let _a = Client::connect(&relay, "").await;
    let _b = Client::connect(&relay, "").await;
    let url = format!("ws://{}/", relay.local_addr());
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    relay.shutdown().await;
}

#[tokio::test]
async fn heartbeat_carries_recipient_and_peer_ids() {
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: Some(Duration::from_millis(200)),
        ping_interval: None,
        ..RelayConfig::default()
    })
    .await;
    let (mut term, mut app) = pair(&relay).await;
    let lone_relay_client = Client::connect(&relay, "").await;
    let mut lone = lone_relay_client;
    let (t, a) = (term.id.clone(), app.id.clone());
    assert_eq!(
        term.recv().await,
        json!({"type":"heartbeat","clientId":t,"targetId":a,"message":"200"})
    );
    assert_eq!(
        app.recv().await,
        json!({"type":"heartbeat","clientId":a,"targetId":t,"message":"200"})
    );
    let l = lone.id.clone();
    assert_eq!(
        lone.recv().await,
        json!({"type":"heartbeat","clientId":l,"targetId":"","message":"200"})
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_socket_and_returns() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    tokio::time::timeout(Duration::from_secs(5), relay.shutdown())
        .await
        .expect("shutdown hangs");
    assert_eq!(term.closed().await, Some(1001));
    assert_eq!(app.closed().await, Some(1001));
}

#[tokio::test]
async fn a_new_socket_is_pinged_at_once_so_its_round_trip_is_known() {
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: Some(Duration::from_secs(3600)),
        ..RelayConfig::default()
    })
    .await;
    let mut ev = relay.subscribe();
    let c = Client::connect(&relay, "").await;
    // Keep reading, as any client does: tungstenite answers the ping as it reads.
    let mut ws = c.ws;
    let reader =
        tokio::spawn(
            async move { while futures_util::StreamExt::next(&mut ws).await.is_some() {} },
        );
    let rtt = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(RelayEvent::RoundTrip { rtt, .. }) = ev.recv().await {
                return rtt;
            }
        }
    })
    .await
    .expect("no round trip measured");
    assert!(rtt < Duration::from_secs(1));
    let info = relay.snapshot();
    assert_eq!(info[0].last_rtt, Some(rtt));
    relay.shutdown().await;
    reader.abort();
}
