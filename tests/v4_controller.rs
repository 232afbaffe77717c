//! The V4 controller (`terminal::v4`) with the simulated 4.x App over real sockets on
//! 127.0.0.1: in-process on our V4 relay, remote over `ws://` and `wss://` (a TLS proxy
//! with a CA made here), and behind the safety gate (`SafetyHub::guard_v4_controller`).

#[path = "support/sim_app_v4.rs"]
mod sim_app_v4;

use dglab_core::relay::v4::{self, V4Config, V4Handle, V4Id};
use dglab_core::safety::{SafetyConfig, SafetyHub};
use dglab_core::terminal::remote::{rustls, TlsRoots};
use dglab_core::terminal::v4::{
    V4Controller, V4ControllerError, V4ControllerEvent, V4ControllerEvents,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use sim_app_v4::{Device, Options, SimApp};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(5);
const SLOT: &str = "A1B2C3D4E5F6";

async fn start() -> V4Handle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    v4::start(
        listener,
        V4Config {
            heartbeat_interval: None,
            ping_interval: None,
            idle_timeout: None,
            ..V4Config::default()
        },
    )
    .unwrap()
}

fn base(relay: &V4Handle) -> String {
    format!("ws://{}/v4", relay.local_addr())
}

fn hub(cap: u8, rate: u16) -> SafetyHub {
    SafetyHub::new(SafetyConfig {
        cap_a: cap,
        cap_b: cap,
        max_rise_per_sec: rate,
        watchdog: None,
    })
    .unwrap()
}

/// The next event `pick` accepts (others skipped).
async fn until<T>(
    events: &mut V4ControllerEvents,
    pick: impl Fn(&V4ControllerEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = events.recv().await.expect("events ended");
            if let Some(t) = pick(&ev) {
                return t;
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

async fn response(events: &mut V4ControllerEvents, id: &str) -> Result<serde_json::Value, String> {
    until(events, |ev| match ev {
        V4ControllerEvent::Response { req_id, result, .. } if req_id == id => Some(result.clone()),
        _ => None,
    })
    .await
}

fn at(level: i64) -> Device {
    Device {
        intensity: [level, level],
        ..Device::coyote3(SLOT)
    }
}

/// Pairs a simulated App with `ctrl` and waits for its devices.
async fn pair(
    relay_url: &str,
    ctrl_id: V4Id,
    events: &mut V4ControllerEvents,
    device: Device,
) -> (SimApp, V4Id) {
    let app = SimApp::join(
        relay_url,
        &ctrl_id.to_string(),
        vec![device],
        Options::default(),
    )
    .await;
    let id = V4Id::parse(&app.id).unwrap();
    until(events, |ev| match ev {
        V4ControllerEvent::Devices { app: a, devices } if *a == id && devices.len() == 1 => {
            Some(())
        }
        _ => None,
    })
    .await;
    (app, id)
}

/// What every transport must do: devices, strength actions, pulses, clear, feedback.
async fn drive(ctrl: &V4Controller, events: &mut V4ControllerEvents, app: &SimApp, id: V4Id) {
    let devices = ctrl.devices(id);
    assert_eq!(devices[0].slot_id, SLOT);
    assert_eq!(devices[0].kind(), "COYOTE_030");
    assert_eq!(devices[0].level(0), Some(0));
    assert_eq!(devices[0].intensity_max(0), Some(40));
    // Relative, then absolute (as a delta from the reported level), then 0.
    let r = ctrl.add_strength(id, SLOT, 0, 7).unwrap();
    assert_eq!(response(events, &r).await.unwrap()["reason"], "completed");
    assert_eq!(app.intensity(SLOT, 0), 7);
    // The App's report (before its answer) is merged into the devices.
    assert_eq!(ctrl.devices(id)[0].level(0), Some(7));
    let r = ctrl.set_strength(id, SLOT, 0, 3).unwrap().unwrap();
    assert_eq!(response(events, &r).await.unwrap()["reason"], "completed");
    assert_eq!(app.intensity(SLOT, 0), 3);
    let r = ctrl.set_strength(id, SLOT, 0, 0).unwrap().unwrap();
    response(events, &r).await.unwrap();
    assert_eq!(app.intensity(SLOT, 0), 0);
    // A waveform for 300 ms answers when it ends; a long one is cleared.
    let frames = vec!["0A0A0A0A64646464".to_owned(); 3];
    let r = ctrl.pulses(id, SLOT, 1, &frames, None, false).unwrap();
    assert_eq!(response(events, &r).await.unwrap()["reason"], "completed");
    let r = ctrl
        .pulses(id, SLOT, 1, &frames, Some(Duration::from_secs(60)), false)
        .unwrap();
    app.until(|st| (!sim_app_v4::running(st).is_empty()).then_some(()))
        .await;
    let c = ctrl.clear(id, Some(SLOT), Some(1)).unwrap();
    assert_eq!(response(events, &c).await.unwrap(), json!({}));
    assert_eq!(response(events, &r).await.unwrap()["reason"], "cleared");
    // An error answer, a device list, and the user's button.
    assert_eq!(
        ctrl.add_strength(id, "nope", 0, 1),
        Err(V4ControllerError::NoSuchSlot)
    );
    let r = ctrl
        .temp_strength(id, SLOT, 0, 5, Duration::from_millis(200))
        .unwrap();
    assert_eq!(response(events, &r).await.unwrap()["type"], 4);
    let r = ctrl.refresh_devices(id).unwrap();
    assert_eq!(
        response(events, &r).await.unwrap()["devices"][0]["slotId"],
        SLOT
    );
    app.tap(2);
    let action = until(events, |ev| match ev {
        V4ControllerEvent::CustomAction { action, .. } => Some(*action),
        _ => None,
    })
    .await;
    assert_eq!(action, 2);
}

#[tokio::test]
async fn an_in_process_controller_drives_a_4x_app() {
    let relay = start().await;
    let (ctrl, mut events) = V4Controller::local(&relay);
    let (app, id) = pair(&base(&relay), ctrl.id(), &mut events, at(0)).await;
    assert_eq!(ctrl.apps(), vec![id]);
    drive(&ctrl, &mut events, &app, id).await;
    app.close().await;
    until(&mut events, |ev| {
        matches!(ev, V4ControllerEvent::AppDetached { app } if *app == id).then_some(())
    })
    .await;
    assert!(ctrl.apps().is_empty());
    relay.shutdown().await;
}

#[tokio::test]
async fn a_remote_controller_drives_a_4x_app_over_ws() {
    let relay = start().await;
    let (ctrl, mut events) = V4Controller::connect(&base(&relay)).await.unwrap();
    let (app, id) = pair(&base(&relay), ctrl.id(), &mut events, at(0)).await;
    drive(&ctrl, &mut events, &app, id).await;
    // Leaving: the App is told and closed with 4000.
    ctrl.leave();
    assert_eq!(app.closed().await, Some(4000));
    relay.shutdown().await;
}

#[tokio::test]
async fn a_remote_controller_drives_a_4x_app_over_wss() {
    let relay = start().await;
    let (addr, ca) = tls_proxy(relay.local_addr()).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let url = format!("wss://localhost:{}/v4", addr.port());
    let (ctrl, mut events) = V4Controller::connect_with(&url, TlsRoots::Custom(roots))
        .await
        .unwrap();
    // The App joins the relay directly (the proxy is the controller's way in).
    let (app, id) = pair(&base(&relay), ctrl.id(), &mut events, at(0)).await;
    drive(&ctrl, &mut events, &app, id).await;
    // A certificate from no CA we trust is refused.
    assert!(V4Controller::connect(&url).await.is_err());
    relay.shutdown().await;
}

#[tokio::test]
async fn a_guarded_in_process_controller_ramps_to_the_cap_and_stops() {
    let relay = start().await;
    let hub = hub(5, 200);
    hub.guard_v4(&relay);
    let (ctrl, events) = V4Controller::local(&relay);
    let (g, mut events) = hub.guard_v4_controller(ctrl, events);
    // The App comes in at 30: it is zeroed (re-pair at 0).
    let (app, id) = pair(&base(&relay), g.id(), &mut events, at(30)).await;
    app.until(|st| (st.devices[0].intensity == [0, 0]).then_some(()))
        .await;
    // Asking 30 ramps to the cap of 5, never past it.
    assert_eq!(g.set_strength(id, SLOT, 0, 30).unwrap(), 5);
    reach(&app, 0, 5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.intensity(SLOT, 0), 5, "{}", ops(&app));
    // Lowering is immediate.
    assert_eq!(g.set_strength(id, SLOT, 0, 2).unwrap(), 2);
    reach(&app, 0, 2).await;
    // STOP: 0 and cleared; raises and pulses refused until re-armed.
    let frames = vec!["0A0A0A0A64646464".to_owned(); 10];
    g.pulses(id, SLOT, 0, &frames, Some(Duration::from_secs(60)), false)
        .unwrap();
    app.until(|st| (!sim_app_v4::running(st).is_empty()).then_some(()))
        .await;
    hub.emergency_stop();
    app.until(|st| {
        (st.devices[0].intensity[0] == 0 && sim_app_v4::running(st).is_empty()).then_some(())
    })
    .await;
    assert!(matches!(
        g.set_strength(id, SLOT, 0, 3),
        Err(V4ControllerError::Refused(_))
    ));
    assert!(matches!(
        g.pulses(id, SLOT, 0, &frames, None, false),
        Err(V4ControllerError::Refused(_))
    ));
    hub.rearm();
    assert_eq!(g.set_strength(id, SLOT, 0, 1).unwrap(), 1);
    reach(&app, 0, 1).await;
    relay.shutdown().await;
}

/// On another relay (no policy of ours there), the gate alone keeps the caps and the stop.
#[tokio::test]
async fn a_guarded_remote_controller_keeps_the_caps_on_a_relay_without_our_policy() {
    let relay = start().await;
    let hub = hub(4, 200);
    let (ctrl, events) = V4Controller::connect(&base(&relay)).await.unwrap();
    let (g, mut events) = hub.guard_v4_controller(ctrl, events);
    let (app, id) = pair(&base(&relay), g.id(), &mut events, at(25)).await;
    app.until(|st| (st.devices[0].intensity == [0, 0]).then_some(()))
        .await;
    // A raw +50 becomes +1; a ramp stops at the cap.
    let r = g.add_strength(id, SLOT, 1, 50).unwrap();
    assert_eq!(
        response(&mut events, &r).await.unwrap()["reason"],
        "completed"
    );
    assert_eq!(
        app.intensity(SLOT, 1),
        1,
        "{:#?}",
        app.state.lock().unwrap().requests
    );
    assert_eq!(g.set_strength(id, SLOT, 1, 100).unwrap(), 4);
    reach(&app, 1, 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.intensity(SLOT, 1), 4);
    // Lowering the cap brings it down; STOP brings it to 0.
    hub.set_caps(4, 2).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.intensity(SLOT, 1), 2, "{}", ops(&app));
    reach(&app, 1, 2).await;
    let report = hub.emergency_stop();
    assert!(report.terminals >= 1);
    reach(&app, 1, 0).await;
    assert!(matches!(
        g.add_strength(id, SLOT, 1, 1),
        Err(V4ControllerError::Refused(_))
    ));
    relay.shutdown().await;
}

/// A TLS listener on 127.0.0.1 in front of `upstream`, with a certificate for
/// `localhost` signed by a CA made here; returns its address and the CA.
async fn tls_proxy(
    upstream: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    rustls::pki_types::CertificateDer<'static>,
) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "DG-LAB Hub V4 test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &*ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut relay) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut relay).await;
            });
        }
    });
    (addr, ca.der().clone())
}

/// The App's strength requests, for a failure message.
fn ops(app: &SimApp) -> String {
    let st = app.state.lock().unwrap();
    st.requests
        .iter()
        .map(|r| format!("{} {} {}", r["reqId"], r["m"], r["data"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until the App's channel `c` is at `level` (a hang guard), showing its requests
/// if it never gets there.
async fn reach(app: &SimApp, c: usize, level: i64) {
    for _ in 0..300 {
        if app.intensity(SLOT, c) == level {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "channel {c} at {} not {level}:\n{}",
        app.intensity(SLOT, c),
        ops(app)
    );
}
