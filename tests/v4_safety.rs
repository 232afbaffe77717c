//! The hub's caps, rise rate and STOP bind every DG-LAB App 4.x on the V4 relay, whoever
//! drives it (`SafetyHub::guard_v4`): a controller on a socket speaks raw JSON to the
//! simulated 4.x App (tests/support/sim_app_v4.rs). Real sockets on 127.0.0.1.

#[path = "support/sim_app_v4.rs"]
mod sim_app_v4;

use dglab_core::relay::v4::{self, V4Config, V4Handle};
use dglab_core::safety::{SafetyConfig, SafetyHub};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sim_app_v4::{Device, Options, SimApp};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

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

fn hub(cap_a: u8, cap_b: u8, rate: u16) -> SafetyHub {
    SafetyHub::new(SafetyConfig {
        cap_a,
        cap_b,
        max_rise_per_sec: rate,
        watchdog: None,
    })
    .unwrap()
}

fn base(relay: &V4Handle) -> String {
    format!("ws://{}/v4", relay.local_addr())
}

/// A controller on a socket (a script, the vendor's SDK, a game mod): raw JSON.
struct Controller {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    id: String,
    next: u64,
}

impl Controller {
    async fn connect(relay: &V4Handle) -> Controller {
        let (ws, _) = tokio_tungstenite::connect_async(base(relay)).await.unwrap();
        let mut c = Controller {
            ws,
            id: String::new(),
            next: 0,
        };
        let hello = c.recv().await;
        c.id = hello["clientId"].as_str().unwrap().to_owned();
        c
    }

    async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .unwrap()
                .unwrap();
            if let Message::Text(t) = m {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    /// Sends a request to `app`; returns its reqId.
    async fn req(&mut self, app: &str, m: &str, data: Option<Value>) -> String {
        self.next += 1;
        let id = format!("c{}", self.next);
        let mut d = json!({"t":"req","reqId":id,"m":m});
        if let Some(data) = data {
            d["data"] = data;
        }
        let frame = json!({"type":"message","clientId":app,"data":d});
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
        id
    }

    async fn op(&mut self, app: &str, t: i64, c: u8, v: Value, d: Option<u64>) -> String {
        let mut data = json!({"s":SLOT,"t":t,"c":c,"p":1,"v":v});
        if let Some(d) = d {
            data["d"] = json!(d);
        }
        self.req(app, "device.op", Some(data)).await
    }

    /// The response to `req_id` (other frames skipped).
    async fn resp(&mut self, req_id: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] == "message" && f["data"]["t"] == "resp" && f["data"]["reqId"] == req_id {
                return f["data"].clone();
            }
        }
    }

    /// Waits for `client_attached`.
    async fn attached(&mut self) {
        loop {
            if self.recv().await["type"] == "client_attached" {
                return;
            }
        }
    }
}

/// The strength actions (t 3, 4, 7) the App received on channel `c`, as (t, v).
fn strength_ops(st: &sim_app_v4::State, c: u64) -> Vec<(i64, i64)> {
    st.requests
        .iter()
        .filter(|r| r["m"] == "device.op" && r["data"]["c"] == c)
        .filter_map(|r| {
            let t = r["data"]["t"].as_i64()?;
            [3, 4, 7]
                .contains(&t)
                .then(|| (t, r["data"]["v"].as_i64().unwrap_or(-1)))
        })
        .collect()
}

/// The level of the App's slot [`SLOT`] on channel `c`, inside `SimApp::until`.
fn level(st: &sim_app_v4::State, c: usize) -> i64 {
    st.devices
        .iter()
        .find(|d| d.slot_id == SLOT)
        .unwrap()
        .intensity[c]
}

async fn pair(relay: &V4Handle, devices: Vec<Device>, opts: Options) -> (Controller, SimApp) {
    let mut c = Controller::connect(relay).await;
    let app = SimApp::join(&base(relay), &c.id, devices, opts).await;
    c.attached().await;
    (c, app)
}

fn at(level: i64) -> Device {
    Device {
        intensity: [level, level],
        ..Device::coyote3(SLOT)
    }
}

#[tokio::test]
async fn a_new_app_starts_at_zero_and_a_raise_is_capped_and_ramped() {
    let relay = start().await;
    let hub = hub(5, 40, 200);
    hub.guard_v4(&relay);
    // The App comes in at 30/30 (left over from another session): it is zeroed at once.
    let (mut c, app) = pair(&relay, vec![at(30)], Options::default()).await;
    app.until(|st| (level(st, 0) == 0 && level(st, 1) == 0).then_some(()))
        .await;
    let cleared = app
        .until(|st| {
            st.requests
                .iter()
                .any(|r| r["m"] == "device.op.clear" && r["data"]["s"] == SLOT)
                .then_some(true)
        })
        .await;
    assert!(cleared);
    // +100 again and again: +1 per request up to the cap of 5, then refused in the App's name.
    let mut answers = vec![];
    for _ in 0..8 {
        let id = c.op(&app.id, 3, 0, json!(100), None).await;
        let r = c.resp(&id).await;
        answers.push(
            r.get("error")
                .cloned()
                .unwrap_or(r["result"]["reason"].clone()),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        answers,
        [
            "completed",
            "completed",
            "completed",
            "completed",
            "completed",
            "refused",
            "refused",
            "refused"
        ]
    );
    assert_eq!(app.intensity(SLOT, 0), 5);
    let raises: Vec<_> = strength_ops(&app.state.lock().unwrap(), 0)
        .into_iter()
        .filter(|(t, _)| *t == 3)
        .collect();
    assert_eq!(raises, vec![(3, 1); 5], "every raise the App saw was +1");
    // Lowering passes as asked.
    let id = c.op(&app.id, 3, 0, json!(-4), None).await;
    assert_eq!(c.resp(&id).await["result"]["reason"], "completed");
    assert_eq!(app.intensity(SLOT, 0), 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_raise_too_soon_after_the_last_is_refused_and_a_temporary_strength_is_bounded() {
    let relay = start().await;
    // One raise per second: the second +1 right after the first is refused.
    let hub = hub(10, 40, 1);
    hub.guard_v4(&relay);
    let (mut c, app) = pair(&relay, vec![at(0)], Options::default()).await;
    let id = c.op(&app.id, 3, 0, json!(1), None).await;
    assert_eq!(c.resp(&id).await["result"]["reason"], "completed");
    let id = c.op(&app.id, 3, 0, json!(1), None).await;
    let r = c.resp(&id).await;
    assert_eq!(r["error"], "refused", "{r}");
    assert_eq!(app.intensity(SLOT, 0), 1);
    // On channel B (never raised) a temporary 50 for 10 s becomes 1: the rate's one step.
    let _ = c.op(&app.id, 4, 1, json!(50), Some(10_000)).await;
    let temps = app
        .until(|st| {
            let t: Vec<_> = strength_ops(st, 1)
                .into_iter()
                .filter(|(t, _)| *t == 4)
                .collect();
            (!t.is_empty()).then_some(t)
        })
        .await;
    assert_eq!(temps, [(4, 1)]);
    relay.shutdown().await;
}

#[tokio::test]
async fn stop_reaches_every_v4_app_first_and_refuses_raises_and_pulses_until_rearmed() {
    let relay = start().await;
    let hub = hub(40, 40, 200);
    hub.guard_v4(&relay);
    let (mut c1, app1) = pair(&relay, vec![at(0)], Options::default()).await;
    let (mut c2, app2) = pair(&relay, vec![at(0)], Options::default()).await;
    for (c, app) in [(&mut c1, &app1), (&mut c2, &app2)] {
        for _ in 0..3 {
            let id = c.op(&app.id, 3, 0, json!(1), None).await;
            assert_eq!(c.resp(&id).await["result"]["reason"], "completed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A long waveform, still playing when the stop comes.
        let frames = vec!["0A0A0A0A64646464"; 10];
        let _ = c.op(&app.id, 0, 0, json!(frames), Some(60_000)).await;
        app.until(|st| (!sim_app_v4::running(st).is_empty()).then_some(()))
            .await;
        assert_eq!(app.intensity(SLOT, 0), 3);
    }
    let report = hub.emergency_stop();
    assert_eq!(report.apps, 2);
    for app in [&app1, &app2] {
        app.until(|st| sim_app_v4::running(st).is_empty().then_some(()))
            .await;
        app.until(|st| (level(st, 0) == 0).then_some(())).await;
    }
    // While stopped: a raise and a pulse are answered `refused` and reach no App.
    let before = app1.state.lock().unwrap().requests.len();
    let id = c1.op(&app1.id, 3, 0, json!(1), None).await;
    assert_eq!(c1.resp(&id).await["error"], "refused");
    let id = c1
        .op(&app1.id, 0, 0, json!(["0A0A0A0A64646464"]), Some(100))
        .await;
    assert_eq!(c1.resp(&id).await["error"], "refused");
    // Lowering and clears still pass.
    let id = c1.req(&app1.id, "device.op.clear", None).await;
    assert_eq!(c1.resp(&id).await["result"], json!({}));
    assert_eq!(app1.state.lock().unwrap().requests.len(), before + 1);
    assert_eq!(app1.intensity(SLOT, 0), 0);
    // Re-armed, nothing comes back by itself; a new raise goes through.
    hub.rearm();
    let id = c1.op(&app1.id, 3, 0, json!(1), None).await;
    assert_eq!(c1.resp(&id).await["result"]["reason"], "completed");
    assert_eq!(app1.intensity(SLOT, 0), 1);
    assert_eq!(app2.intensity(SLOT, 0), 0);
    relay.shutdown().await;
}

#[tokio::test]
async fn an_app_that_raises_itself_past_the_cap_is_sent_back_down() {
    let relay = start().await;
    let hub = hub(3, 3, 200);
    hub.guard_v4(&relay);
    // §9: the App's adaptive auto-increase raises the strength itself, every 50 ms here.
    let opts = Options {
        adaptive_every: Some(Duration::from_millis(50)),
        ..Options::default()
    };
    let (_c, app) = pair(&relay, vec![at(0)], opts).await;
    // Each time it reports 4 it is answered with -1: it never settles above the cap.
    let corrections = app
        .until(|st| {
            let n = strength_ops(st, 0)
                .into_iter()
                .filter(|op| *op == (3, -1))
                .count();
            (n >= 3).then_some(n)
        })
        .await;
    assert!(corrections >= 3);
    for _ in 0..20 {
        assert!(app.intensity(SLOT, 0) <= 4, "the App ran away");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stopped, it is held at 0 however it climbs.
    hub.emergency_stop();
    let zeros = app
        .until(|st| {
            let n = strength_ops(st, 0)
                .into_iter()
                .filter(|op| *op == (7, 0))
                .count();
            (n >= 4).then_some(n)
        })
        .await;
    assert!(zeros >= 4);
    for _ in 0..20 {
        assert!(
            app.intensity(SLOT, 0) <= 1,
            "the App ran away while stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn lowering_a_cap_brings_a_v4_app_down_at_once() {
    let relay = start().await;
    let hub = hub(40, 40, 200);
    hub.guard_v4(&relay);
    let (mut c, app) = pair(&relay, vec![at(0)], Options::default()).await;
    for _ in 0..6 {
        let id = c.op(&app.id, 3, 1, json!(1), None).await;
        assert_eq!(c.resp(&id).await["result"]["reason"], "completed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.intensity(SLOT, 1), 6);
    hub.set_caps(40, 2).unwrap();
    app.until(|st| (level(st, 1) == 2).then_some(())).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn a_device_op_the_policy_cannot_read_is_refused_and_other_methods_pass() {
    let relay = start().await;
    let hub = hub(40, 40, 200);
    hub.guard_v4(&relay);
    let (mut c, app) = pair(&relay, vec![at(0)], Options::default()).await;
    // A strength as a string, an unknown slot, an unknown type: each could raise.
    for data in [
        json!({"s":SLOT,"t":3,"c":0,"v":"30"}),
        json!({"s":"nope","t":3,"c":0,"v":5}),
        json!({"s":SLOT,"t":9,"c":0,"v":5}),
        json!({"s":SLOT,"t":3,"c":2,"v":5}),
    ] {
        let id = c.req(&app.id, "device.op", Some(data.clone())).await;
        assert_eq!(c.resp(&id).await["error"], "refused", "{data}");
    }
    // devices.get and ping pass.
    let id = c.req(&app.id, "devices.get", None).await;
    assert_eq!(
        c.resp(&id).await["result"]["devices"][0]["slotId"],
        json!(SLOT)
    );
    let id = c.req(&app.id, "ping", None).await;
    assert!(c.resp(&id).await["result"].is_number());
    assert_eq!(app.intensity(SLOT, 0), 0);
    relay.shutdown().await;
}
