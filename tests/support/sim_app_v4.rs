//! A simulated DG-LAB App 4.x over a real WebSocket, per docs/v4-protocol.md: §5 (RPC,
//! `device.op` tasks, events) and §9 (what real devices showed). Included with `#[path]`.
//!
//! - Several devices ("slots"), each with channels A/B: current strength
//!   (`props.intensityA/B`) and the effective limit (`slotState.channelX.intensityMax`).
//! - Joins with `?tid=`, expects `hello` then `controller_attached`, then sends
//!   `devices.snapshot` (even with no devices).
//! - Answers `devices.get`, `ping` (its clock in ms), `device.op` and `device.op.clear`
//!   with the §5.1 results and error codes (`slot_not_found`, `invalid_operate`,
//!   `invalid_params`, `duplicate_request_id`, `method_not_found`).
//! - `device.op` tasks: `AddIntensity` (t 3, clamped to 0..=intensityMax) and
//!   `SetIntensity` (t 7, only `v:0`) run at once: a `slots.patch`, then the response;
//!   `AppendPulseData` (t 0) and `SetTempIntensity` (t 4) run for `d` ms (pulses:
//!   frames × 100 ms when `d` is 0), then answer `completed`; `im:true` replaces the
//!   same (slot, channel, type) tasks (`replaced`); a clear answers `{}` and then
//!   `cleared` for each task it ended. Types 1, 2, 5, 6 are `invalid_operate` (§9: the
//!   real App rejects SetMute).
//! - `custom.action` taps and application `{"type":"ping"}` on demand.
//! - §9's auto-increase, when switched on: `comfortLimit.autoIncr` raises `intensityMax`
//!   by 1 per `auto_incr_every`, and the "adaptive" mode raises the strength itself by 1
//!   per `adaptive_every`, each reported with `slots.patch` — the App fighting the
//!   controller that the safety layer has to beware of; and, with `decay_every`, a
//!   channel without a waveform playing loses 1 strength per interval (§9).
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);
/// The App plays one pulse frame per tick.
pub const TICK: Duration = Duration::from_millis(100);

/// One device slot as the App exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub slot_id: String,
    pub name: String,
    pub kind: String,
    pub power: u8,
    /// Current strength, A and B.
    pub intensity: [i64; 2],
    /// `intensityMax`, A and B.
    pub max: [i64; 2],
}

impl Device {
    pub fn coyote3(slot_id: &str) -> Device {
        Device {
            slot_id: slot_id.into(),
            name: "郊狼 3.0".into(),
            kind: "COYOTE_030".into(),
            power: 87,
            intensity: [0, 0],
            max: [40, 40],
        }
    }

    pub fn coyote2(slot_id: &str) -> Device {
        Device {
            name: "郊狼 2.0".into(),
            kind: "COYOTE_020".into(),
            ..Device::coyote3(slot_id)
        }
    }

    /// The full `DeviceInfo` of a snapshot.
    fn info(&self, index: usize) -> Value {
        let ch = |c: usize| json!({"isMuted":false,"warmUpScale":1,"intensityMax":self.max[c]});
        json!({
            "id": index,
            "slotId": self.slot_id,
            "name": self.name,
            "type": self.kind,
            "props": {
                "power": self.power,
                "intensityA": self.intensity[0],
                "intensityB": self.intensity[1],
                "connectState": "connected",
                "channelAStatus": 2,
                "channelBStatus": 1,
            },
            "slotState": {"markLight":"yellow","hasDevice":true,"channelA":ch(0),"channelB":ch(1)},
        })
    }
}

/// The App's own behaviour beyond answering (§9).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `comfortLimit.autoIncr`: `intensityMax` + 1 on every channel this often.
    pub auto_incr_every: Option<Duration>,
    /// Adaptive auto-increase: strength + 1 on every channel this often (up to the max).
    pub adaptive_every: Option<Duration>,
    /// §9: with no waveform playing on a channel, its strength decays by 1 this often.
    pub decay_every: Option<Duration>,
    /// Do not send `devices.snapshot` after `controller_attached`.
    pub no_snapshot: bool,
}

/// A running task on one (slot, channel).
#[derive(Debug, Clone)]
struct Task {
    req_id: String,
    slot: String,
    channel: u8,
    kind: i64,
    ends: Instant,
}

#[derive(Debug, Default)]
pub struct State {
    pub devices: Vec<Device>,
    tasks: Vec<Task>,
    /// Every relay frame that was not a `message` (hello, heartbeat, pong, notices…).
    pub relay_frames: Vec<Value>,
    /// Every `data` the controller sent, in order.
    pub requests: Vec<Value>,
    /// The close code the relay ended with, once closed (`Some(None)`: no close frame).
    pub closed: Option<Option<u16>>,
}

enum Cmd {
    Send(Value),
    Close,
}

/// A connected simulated App.
pub struct SimApp {
    pub id: String,
    pub controller: String,
    pub state: Arc<Mutex<State>>,
    cmd: mpsc::UnboundedSender<Cmd>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimApp {
    /// Joins the controller `tid` on the V4 relay at `base` (`ws://127.0.0.1:PORT/v4`),
    /// checks `hello` and `controller_attached`, sends the snapshot.
    pub async fn join(base: &str, tid: &str, devices: Vec<Device>, opts: Options) -> SimApp {
        let url = format!("{base}?tid={tid}");
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let hello = next_json(&mut ws).await.expect("hello");
        assert_eq!(hello["type"], "hello", "{hello}");
        let id = hello["clientId"].as_str().unwrap().to_owned();
        let attached = next_json(&mut ws).await.expect("controller_attached");
        assert_eq!(
            attached,
            json!({"type":"controller_attached","clientId":tid}),
            "{attached}"
        );
        let state = Arc::new(Mutex::new(State {
            devices,
            relay_frames: vec![hello, attached],
            ..State::default()
        }));
        if !opts.no_snapshot {
            let snap = snapshot(&state.lock().unwrap().devices);
            ws.send(Message::text(snap.to_string())).await.unwrap();
        }
        let (cmd, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(ws, state.clone(), rx, opts));
        SimApp {
            id,
            controller: tid.to_owned(),
            state,
            cmd,
            task: Some(task),
        }
    }

    /// The user taps a custom action (A–J = 0–9).
    pub fn tap(&self, action: u8) {
        self.send_data(json!({"t":"ev","ev":"custom.action","action":action}));
    }

    /// Sends `{"type":"message","data":data}`.
    pub fn send_data(&self, data: Value) {
        let _ = self
            .cmd
            .send(Cmd::Send(json!({"type":"message","data":data})));
    }

    /// Sends a whole relay frame (e.g. `{"type":"ping"}`).
    pub fn send_frame(&self, frame: Value) {
        let _ = self.cmd.send(Cmd::Send(frame));
    }

    /// Current strength of a slot's channel.
    pub fn intensity(&self, slot: &str, channel: usize) -> i64 {
        let st = self.state.lock().unwrap();
        st.devices
            .iter()
            .find(|d| d.slot_id == slot)
            .map(|d| d.intensity[channel])
            .unwrap()
    }

    /// Waits until a relay frame satisfying `pred` has arrived; returns it.
    pub async fn relay_frame(&self, pred: impl Fn(&Value) -> bool) -> Value {
        self.until(|st| st.relay_frames.iter().find(|f| pred(f)).cloned())
            .await
    }

    /// Waits until the relay has closed the socket; its close code (`None`: no close frame).
    pub async fn closed(&self) -> Option<u16> {
        self.until(|st| st.closed).await
    }

    /// Polls the state until `f` gives something (a hang guard, not a timing assertion).
    pub async fn until<T>(&self, f: impl Fn(&State) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = f(&self.state.lock().unwrap()) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "simulated App: timed out waiting"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Closes the socket (the user leaves socket mode).
    pub async fn close(mut self) {
        let _ = self.cmd.send(Cmd::Close);
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(WAIT, t).await;
        }
    }
}

impl Drop for SimApp {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next()).await.ok()??.ok()?;
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).ok();
        }
    }
}

fn snapshot(devices: &[Device]) -> Value {
    let list: Vec<Value> = devices.iter().enumerate().map(|(i, d)| d.info(i)).collect();
    json!({"type":"message","data":{"t":"ev","ev":"devices.snapshot","devices":list}})
}

fn message(data: Value) -> String {
    json!({"type":"message","data":data}).to_string()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The App's loop: frames from the relay, commands from the test, its tick.
async fn run(
    mut ws: Ws,
    state: Arc<Mutex<State>>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    opts: Options,
) {
    let mut tick = tokio::time::interval(TICK);
    let start = Instant::now();
    let (mut last_incr, mut last_adapt, mut last_decay) = (start, start, start);
    loop {
        let mut out: Vec<String> = vec![];
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let Ok(frame) = serde_json::from_str::<Value>(&t) else { continue };
                    if frame["type"] == "message" {
                        let data = frame["data"].clone();
                        let mut st = state.lock().unwrap();
                        st.requests.push(data.clone());
                        out = handle(&mut st, &data);
                    } else {
                        state.lock().unwrap().relay_frames.push(frame);
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    state.lock().unwrap().closed = Some(f.map(|f| u16::from(f.code)));
                    // Let tungstenite answer the close.
                    while let Some(Ok(_)) = ws.next().await {}
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    state.lock().unwrap().closed.get_or_insert(None);
                    return;
                }
            },
            c = cmds.recv() => match c {
                Some(Cmd::Send(v)) => out.push(v.to_string()),
                Some(Cmd::Close) | None => {
                    let _ = ws.close(None).await;
                    while let Some(Ok(_)) = ws.next().await {}
                    return;
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let mut st = state.lock().unwrap();
                out = finish_tasks(&mut st, now, |t| t.ends <= now, "completed");
                let mut patches = vec![];
                if let Some(every) = opts.auto_incr_every {
                    if now.duration_since(last_incr) >= every {
                        last_incr = now;
                        for d in &mut st.devices {
                            d.max = [d.max[0] + 1, d.max[1] + 1].map(|m| m.min(200));
                            patches.push(json!({"slotId":d.slot_id,"slotState":{
                                "channelA":{"intensityMax":d.max[0]},"channelB":{"intensityMax":d.max[1]}}}));
                        }
                    }
                }
                if let Some(every) = opts.adaptive_every {
                    if now.duration_since(last_adapt) >= every {
                        last_adapt = now;
                        for d in &mut st.devices {
                            d.intensity = [0, 1].map(|c| (d.intensity[c] + 1).min(d.max[c]));
                            patches.push(json!({"slotId":d.slot_id,"props":{
                                "intensityA":d.intensity[0],"intensityB":d.intensity[1]}}));
                        }
                    }
                }
                if let Some(every) = opts.decay_every {
                    if now.duration_since(last_decay) >= every {
                        last_decay = now;
                        let playing: Vec<(String, u8)> = st
                            .tasks
                            .iter()
                            .filter(|t| t.kind == 0)
                            .map(|t| (t.slot.clone(), t.channel))
                            .collect();
                        for d in &mut st.devices {
                            let mut props = serde_json::Map::new();
                            for (c, key) in [(0, "intensityA"), (1, "intensityB")] {
                                let silent = !playing.contains(&(d.slot_id.clone(), c as u8));
                                if silent && d.intensity[c] > 0 {
                                    d.intensity[c] -= 1;
                                    props.insert(key.into(), json!(d.intensity[c]));
                                }
                            }
                            if !props.is_empty() {
                                patches.push(json!({"slotId":d.slot_id,"props":props}));
                            }
                        }
                    }
                }
                if !patches.is_empty() {
                    out.push(message(json!({"t":"ev","ev":"slots.patch","slots":patches})));
                }
            }
        }
        for text in out {
            if ws.send(Message::text(text)).await.is_err() {
                state.lock().unwrap().closed.get_or_insert(None);
                return;
            }
        }
    }
}

fn resp_ok(req_id: &Value, result: Value) -> String {
    message(json!({"t":"resp","reqId":req_id,"result":result}))
}

fn resp_err(req_id: &Value, code: &str) -> String {
    message(json!({"t":"resp","reqId":req_id,"error":code}))
}

/// Ends the tasks `which` selects, answering each with `reason`; returns the frames.
fn finish_tasks(
    st: &mut State,
    _now: Instant,
    which: impl Fn(&Task) -> bool,
    reason: &str,
) -> Vec<String> {
    let (done, keep): (Vec<Task>, Vec<Task>) = st.tasks.drain(..).partition(|t| which(t));
    st.tasks = keep;
    done.into_iter()
        .map(|t| {
            resp_ok(
                &json!(t.req_id),
                json!({"type":t.kind,"reason":reason,"slotId":t.slot,"channel":t.channel}),
            )
        })
        .collect()
}

/// One request from the controller; returns the frames to send.
fn handle(st: &mut State, data: &Value) -> Vec<String> {
    if data["t"] != "req" {
        return vec![];
    }
    let req_id = data.get("reqId").cloned().unwrap_or(Value::Null);
    match data["m"].as_str() {
        Some("devices.get") => {
            let list: Vec<Value> = st
                .devices
                .iter()
                .map(|d| json!({"slotId":d.slot_id,"name":d.name,"type":d.kind}))
                .collect();
            vec![resp_ok(&req_id, json!({"devices":list}))]
        }
        Some("ping") => vec![resp_ok(&req_id, json!(now_ms()))],
        Some("device.op.clear") => clear(st, &req_id, data.get("data")),
        Some("device.op") => device_op(st, &req_id, &data["data"]),
        _ => vec![resp_err(&req_id, "method_not_found")],
    }
}

fn clear(st: &mut State, req_id: &Value, args: Option<&Value>) -> Vec<String> {
    let slot = args
        .and_then(|a| a.get("s"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let channel = args.and_then(|a| a.get("c")).and_then(Value::as_u64);
    if args.is_some_and(|a| !a.is_object()) || (slot.is_none() && channel.is_some()) {
        return vec![resp_err(req_id, "invalid_params")];
    }
    if let Some(s) = &slot {
        if !st.devices.iter().any(|d| &d.slot_id == s) {
            return vec![resp_err(req_id, "slot_not_found")];
        }
    }
    let mut out = vec![resp_ok(req_id, json!({}))];
    out.extend(finish_tasks(
        st,
        Instant::now(),
        |t| {
            slot.as_ref().is_none_or(|s| &t.slot == s)
                && channel.is_none_or(|c| u64::from(t.channel) == c)
        },
        "cleared",
    ));
    out
}

fn device_op(st: &mut State, req_id: &Value, op: &Value) -> Vec<String> {
    if !op.is_object() {
        return vec![resp_err(req_id, "invalid_params")];
    }
    let rid = req_id.as_str().unwrap_or_default().to_owned();
    if st.tasks.iter().any(|t| t.req_id == rid) {
        return vec![resp_err(req_id, "duplicate_request_id")];
    }
    let Some(slot) = op["s"].as_str().map(str::to_owned) else {
        return vec![resp_err(req_id, "slot_not_found")];
    };
    let Some(dev) = st.devices.iter().position(|d| d.slot_id == slot) else {
        return vec![resp_err(req_id, "slot_not_found")];
    };
    let (Some(kind), Some(channel)) = (op["t"].as_i64(), op["c"].as_u64().filter(|c| *c <= 1))
    else {
        return vec![resp_err(req_id, "invalid_operate")];
    };
    let channel = channel as u8;
    let mut out = vec![];
    if op["im"] == true {
        out.extend(finish_tasks(
            st,
            Instant::now(),
            |t| t.slot == slot && t.channel == channel && t.kind == kind,
            "replaced",
        ));
    }
    let done = json!({"type":kind,"reason":"completed","slotId":slot,"channel":channel});
    let key = if channel == 0 {
        "intensityA"
    } else {
        "intensityB"
    };
    match kind {
        3 | 7 => {
            let Some(v) = op["v"].as_i64() else {
                return vec![resp_err(req_id, "invalid_operate")];
            };
            if kind == 7 && v != 0 {
                return vec![resp_err(req_id, "invalid_operate")];
            }
            let d = &mut st.devices[dev];
            let c = usize::from(channel);
            d.intensity[c] = if kind == 7 {
                0
            } else {
                (d.intensity[c] + v).clamp(0, d.max[c])
            };
            let patch = json!({"t":"ev","ev":"slots.patch","slots":[{"slotId":slot,"props":{key:d.intensity[c]}}]});
            out.push(message(patch));
            out.push(resp_ok(req_id, done));
        }
        0 | 4 => {
            let frames = match &op["v"] {
                Value::Array(f) if kind == 0 && !f.is_empty() => f.len() as u64,
                Value::Number(_) if kind == 4 => 0,
                _ => return vec![resp_err(req_id, "invalid_operate")],
            };
            let d = op["d"].as_u64().filter(|d| *d > 0).unwrap_or(frames * 100);
            st.tasks.push(Task {
                req_id: rid,
                slot,
                channel,
                kind,
                ends: Instant::now() + Duration::from_millis(d),
            });
        }
        _ => return vec![resp_err(req_id, "invalid_operate")],
    }
    out
}

/// Ids of the tasks still running (for assertions).
pub fn running(st: &State) -> HashSet<String> {
    st.tasks.iter().map(|t| t.req_id.clone()).collect()
}
