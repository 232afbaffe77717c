//! Plain HTTP on the relay's port, as a phone's browser, a scanner or a confused proxy
//! sends it: the phone reachability page for `GET /` and `GET /check`, proper status lines
//! for everything else, and an event for each (the window's "last phone attempts").

mod common;

use dglab_core::relay::{RelayEvent, RelayHandle};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

/// Sends `request` as is and reads the whole answer (the relay closes after it).
async fn ask(relay: &RelayHandle, request: &[u8]) -> (String, SocketAddr) {
    let mut tcp = TcpStream::connect(relay.local_addr()).await.unwrap();
    let me = tcp.local_addr().unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(common::WAIT, tcp.read_to_end(&mut answer))
        .await
        .expect("the relay did not finish its answer")
        .unwrap();
    (String::from_utf8(answer).unwrap(), me)
}

/// The next event that is about plain HTTP.
async fn next_http_event(rx: &mut broadcast::Receiver<RelayEvent>) -> RelayEvent {
    loop {
        let ev = tokio::time::timeout(common::WAIT, rx.recv())
            .await
            .expect("no event")
            .unwrap();
        if matches!(
            ev,
            RelayEvent::Reached { .. } | RelayEvent::HttpRefused { .. }
        ) {
            return ev;
        }
    }
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap();
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn a_phone_browser_gets_the_page_in_its_language_and_the_window_hears_of_it() {
    let relay = common::start_relay().await;
    let mut rx = relay.subscribe();

    let (answer, me) = ask(
        &relay,
        b"GET /check?from=qr HTTP/1.1\r\nHost: 192.168.1.5:9999\r\n\
          Accept-Language: zh-CN,zh;q=0.9,en;q=0.8\r\nUser-Agent: Phone/1.0\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(header(&answer, "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(header(&answer, "x-dglab-hub"), Some("phone-check"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(
        header(&answer, "content-length").unwrap(),
        body.len().to_string()
    );
    assert!(body.contains("你的手机可以连接到 DG-LAB Hub"), "{body}");
    match next_http_event(&mut rx).await {
        RelayEvent::Reached { from, user_agent } => {
            assert_eq!(from, me);
            assert_eq!(user_agent.as_deref(), Some("Phone/1.0"));
        }
        other => panic!("{other:?}"),
    }

    // `/` too, in English without a Chinese preference; peer text in the user agent (a
    // quote, a right-to-left override) reaches the event escaped.
    let (answer, _) = ask(
        &relay,
        b"GET / HTTP/1.1\r\nHost: h\r\nAccept-Language: en-GB\r\nUser-Agent: x\"\xe2\x80\xaey\r\n\r\n",
    )
    .await;
    assert!(
        answer.contains("Your phone can reach DG-LAB Hub"),
        "{answer}"
    );
    assert!(answer.contains("scan the pairing code in the DG-LAB App"));
    match next_http_event(&mut rx).await {
        RelayEvent::Reached { user_agent, .. } => {
            assert_eq!(user_agent.as_deref(), Some("x\\\"\\u{202e}y"))
        }
        other => panic!("{other:?}"),
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn other_requests_get_status_lines_and_each_is_reported_with_its_path() {
    let relay = common::start_relay().await;
    let mut rx = relay.subscribe();
    let cases: [(&[u8], u16, &str); 4] = [
        // The App's WebSocket path opened in a browser.
        (
            b"GET /0b6e1c3a-2f5d-4c1e-9a7b-3d2e1f0a9b8c HTTP/1.1\r\nHost: h\r\n\r\n",
            426,
            "/0b6e1c3a-2f5d-4c1e-9a7b-3d2e1f0a9b8c",
        ),
        (b"POST /check HTTP/1.1\r\nHost: h\r\n\r\n", 405, "/check"),
        // A TLS hello: someone used wss:// (or https://) on the plain port.
        (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", 400, ""),
        // An upgrade that is not a WebSocket one.
        (
            b"GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: close\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a2V5\r\n\r\n",
            400,
            "/x",
        ),
    ];
    for (request, status, path) in cases {
        let (answer, me) = ask(&relay, request).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status}: {answer}"
        );
        assert_eq!(header(&answer, "x-dglab-hub"), None);
        match next_http_event(&mut rx).await {
            RelayEvent::HttpRefused {
                from,
                status: s,
                path: p,
            } => {
                assert_eq!((from, s, p.as_str()), (me, status, path));
            }
            other => panic!("{other:?}"),
        }
    }
    // And WebSockets still work on every path, `/` included.
    let (mut term, mut app) = common::pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, "clear-1").await;
    assert_eq!(app.recv().await["message"], "clear-1");
    let root = common::Client::connect(&relay, "").await;
    assert!(!root.id.is_empty());
    relay.shutdown().await;
}

#[test]
fn the_check_url_names_the_relay_port() {
    assert_eq!(
        dglab_core::pairing::phone_check_url("192.168.1.23".parse().unwrap(), 9999),
        "http://192.168.1.23:9999/check"
    );
}
