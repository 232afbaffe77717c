//! A V4 controller (DG-LAB App 4.x): the typed handle for one controller, its Apps, their
//! device slots and channels (docs/v4-protocol.md §5, §6), like [`super::Terminal`] is for
//! SOCKET v2. In-process on our own V4 relay ([`V4Controller::local`], through
//! [`V4Handle::join_local`]) or over `ws://`/`wss://` to any V4 relay, such as the
//! vendor's ([`V4Controller::connect`]).
//!
//! It keeps each App's devices from `devices.snapshot`, `devices.patch` and deep-merged
//! `slots.patch` deltas, so [`V4Device::level`] is the App's current strength (with the
//! controller's own changes applied optimistically until the next report). Requests do
//! not wait for their responses (a `device.op` answers only when its task ends, §5.1):
//! each returns its `reqId`, and the answer arrives as [`V4ControllerEvent::Response`].
//!
//! This handle is unguarded: put it behind the safety hub with
//! `SafetyHub::guard_v4_controller` before it drives a person.

use super::remote::ConnectError;
use crate::relay::v4::{V4Handle, V4Id, V4Inbox, V4Incoming, V4LocalLink, V4SendError};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Events buffered before the oldest are dropped (the controller never waits on a reader).
const EVENT_QUEUE: usize = 1024;
/// Frames buffered towards a remote relay.
const SEND_QUEUE: usize = 256;
/// How long a remote relay has to say `hello` (the SDK's connect timeout, §5.1).
const HELLO_TIMEOUT: Duration = Duration::from_secs(8);
/// One pulse frame per App tick (§5.2).
pub const FRAME: Duration = Duration::from_millis(100);

/// One device slot of an App: the `DeviceInfo` with every patch merged in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V4Device {
    /// The App's id for the slot (`s` in `device.op`).
    pub slot_id: String,
    /// The whole `DeviceInfo` as merged so far (`name`, `type`, `props`, `slotState`).
    pub info: Value,
}

impl V4Device {
    /// Its name as the App shows it.
    pub fn name(&self) -> &str {
        self.info["name"].as_str().unwrap_or_default()
    }

    /// Its type (`COYOTE_030`, `COYOTE_020`, `OVC_1`, `BMTR_1`).
    pub fn kind(&self) -> &str {
        self.info["type"].as_str().unwrap_or_default()
    }

    /// The current strength of channel `c` (0 = A, 1 = B), if known.
    pub fn level(&self, c: u8) -> Option<i64> {
        self.info["props"][level_key(c)].as_i64()
    }

    /// The App's own effective limit of channel `c` (`intensityMax`), if reported.
    pub fn intensity_max(&self, c: u8) -> Option<i64> {
        self.info["slotState"][channel_key(c)]["intensityMax"].as_i64()
    }
}

fn level_key(c: u8) -> &'static str {
    if c == 0 {
        "intensityA"
    } else {
        "intensityB"
    }
}

fn channel_key(c: u8) -> &'static str {
    if c == 0 {
        "channelA"
    } else {
        "channelB"
    }
}

/// What a V4 controller hears.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum V4ControllerEvent {
    /// An App joined (it scanned this controller's link).
    AppAttached { app: V4Id },
    /// An App left; its devices are forgotten.
    AppDetached { app: V4Id },
    /// An App's device list changed (snapshot, or devices added/removed).
    Devices { app: V4Id, devices: Vec<V4Device> },
    /// Slots of an App changed (levels, limits, battery…): their merged state, and the
    /// `slots` deltas of the App's `slots.patch` as it sent them.
    Slots {
        app: V4Id,
        devices: Vec<V4Device>,
        patch: Value,
    },
    /// The user tapped a custom action in the App (0–9, shown A–J).
    CustomAction { app: V4Id, action: u8 },
    /// The answer to a request: its `result`, or its `error` code.
    Response {
        app: V4Id,
        req_id: String,
        result: Result<Value, String>,
    },
    /// The controller is off the relay (it left, the relay closed, the socket dropped).
    Closed,
}

/// The stream of a controller's events. Bounded: a reader that falls behind loses the
/// newest, the controller never waits.
#[derive(Debug)]
pub struct V4ControllerEvents(mpsc::Receiver<V4ControllerEvent>);

impl V4ControllerEvents {
    /// A stream fed by `rx` (a wrapper re-emitting a controller's events).
    pub fn from_receiver(rx: mpsc::Receiver<V4ControllerEvent>) -> Self {
        V4ControllerEvents(rx)
    }

    /// The next event; `None` after [`V4ControllerEvent::Closed`] once the controller is gone.
    pub async fn recv(&mut self) -> Option<V4ControllerEvent> {
        self.0.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<V4ControllerEvent> {
        self.0.try_recv().ok()
    }
}

/// Why a request did not leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V4ControllerError {
    /// No such App attached to this controller.
    NoSuchApp,
    /// No such slot on that App, as far as its reports tell.
    NoSuchSlot,
    /// "Set to N" needs the current level, which the App has not reported (§6.4).
    UnknownLevel,
    /// Refused by a safety policy, with its reason.
    Refused(String),
    /// The controller is off the relay.
    Gone,
}

impl std::fmt::Display for V4ControllerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            V4ControllerError::NoSuchApp => f.write_str("no such App attached"),
            V4ControllerError::NoSuchSlot => f.write_str("no such device slot on that App"),
            V4ControllerError::UnknownLevel => {
                f.write_str("the App has not reported that channel's strength yet")
            }
            V4ControllerError::Refused(why) => write!(f, "refused: {why}"),
            V4ControllerError::Gone => f.write_str("the controller is off the relay"),
        }
    }
}

impl std::error::Error for V4ControllerError {}

enum Link {
    Local(V4LocalLink),
    Remote {
        tx: mpsc::Sender<Message>,
        stop: CancellationToken,
    },
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Link::Local(_) => "Local",
            Link::Remote { .. } => "Remote",
        })
    }
}

/// Apps and their devices, kept from what they send.
#[derive(Debug, Default)]
struct Shared {
    apps: BTreeMap<V4Id, Vec<V4Device>>,
}

/// One V4 controller. Dropping it leaves the relay (its Apps get
/// `controller_disconnected`, close 4000).
#[derive(Debug)]
pub struct V4Controller {
    id: V4Id,
    link: Link,
    shared: Arc<Mutex<Shared>>,
    next_req: AtomicU64,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl V4Controller {
    /// Joins our own V4 relay in-process.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the task reading its inbox).
    pub fn local(relay: &V4Handle) -> (V4Controller, V4ControllerEvents) {
        let (link, inbox) = relay.join_local();
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let shared = Arc::new(Mutex::new(Shared::default()));
        tokio::spawn(read_inbox(inbox, shared.clone(), tx));
        (
            V4Controller {
                id: link.id(),
                link: Link::Local(link),
                shared,
                next_req: AtomicU64::new(1),
            },
            V4ControllerEvents(rx),
        )
    }

    /// Connects to the V4 relay at `url` (`ws://host:port/v4`, or `wss://…` trusting
    /// Mozilla's roots) and waits for its `hello`.
    ///
    /// # Errors
    /// Connection and handshake failures, or no `hello` within 8 s.
    pub async fn connect(url: &str) -> Result<(V4Controller, V4ControllerEvents), ConnectError> {
        #[cfg(feature = "tls")]
        {
            Self::connect_with(url, super::remote::TlsRoots::Webpki).await
        }
        #[cfg(not(feature = "tls"))]
        {
            let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
                .await
                .map_err(ConnectError::from_ws)?;
            join(ws).await
        }
    }

    /// [`V4Controller::connect`], trusting `roots` for a `wss://` relay.
    ///
    /// # Errors
    /// As [`V4Controller::connect`]; [`ConnectError::Tls`] if `roots` make no usable
    /// configuration.
    #[cfg(feature = "tls")]
    pub async fn connect_with(
        url: &str,
        roots: super::remote::TlsRoots,
    ) -> Result<(V4Controller, V4ControllerEvents), ConnectError> {
        let config = roots.client_config().map_err(ConnectError::Tls)?;
        let connector = tokio_tungstenite::Connector::Rustls(config);
        let (ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, true, Some(connector))
                .await
                .map_err(ConnectError::from_ws)?;
        join(ws).await
    }

    /// Its id: the `tid` of its pairing link.
    pub fn id(&self) -> V4Id {
        self.id
    }

    /// Its Apps, in id order.
    pub fn apps(&self) -> Vec<V4Id> {
        lock(&self.shared).apps.keys().copied().collect()
    }

    /// An App's devices as last reported (empty for an unknown App).
    pub fn devices(&self, app: V4Id) -> Vec<V4Device> {
        lock(&self.shared)
            .apps
            .get(&app)
            .cloned()
            .unwrap_or_default()
    }

    fn req_id(&self) -> String {
        self.next_req.fetch_add(1, Ordering::Relaxed).to_string()
    }

    /// Sends `data` (a whole application payload) to one App as it is.
    ///
    /// # Errors
    /// [`V4ControllerError::NoSuchApp`], [`V4ControllerError::Refused`] by our relay's
    /// policy, [`V4ControllerError::Gone`].
    pub fn send_raw(&self, app: V4Id, data: &Value) -> Result<(), V4ControllerError> {
        if !lock(&self.shared).apps.contains_key(&app) {
            return Err(V4ControllerError::NoSuchApp);
        }
        let text = data.to_string();
        match &self.link {
            Link::Local(link) => link.send(app, &text).map_err(|e| match e {
                V4SendError::ClientNotFound => V4ControllerError::NoSuchApp,
                V4SendError::Refused(answer) => V4ControllerError::Refused(refusal(answer)),
                V4SendError::InvalidJson | V4SendError::Gone => V4ControllerError::Gone,
            }),
            Link::Remote { tx, .. } => {
                let frame = json!({"type":"message","clientId":app.to_string(),"data":data});
                tx.try_send(Message::text(frame.to_string()))
                    .map_err(|_| V4ControllerError::Gone)
            }
        }
    }

    /// A request `m` with `data` and a fresh `reqId`, not sent: `(reqId, payload)`. For a
    /// wrapper that checks payloads before [`V4Controller::send_raw`] (the safety gate).
    pub fn new_request(&self, m: &str, data: Option<Value>) -> (String, Value) {
        let id = self.req_id();
        let mut req = json!({"t":"req","reqId":id,"m":m});
        if let Some(d) = data {
            req["data"] = d;
        }
        (id, req)
    }

    /// Sends a request `m` with `data`; returns its `reqId`.
    ///
    /// # Errors
    /// As [`V4Controller::send_raw`].
    pub fn request(
        &self,
        app: V4Id,
        m: &str,
        data: Option<Value>,
    ) -> Result<String, V4ControllerError> {
        let (id, req) = self.new_request(m, data);
        self.send_raw(app, &req)?;
        Ok(id)
    }

    fn slot_level(&self, app: V4Id, slot: &str, c: u8) -> Result<Option<i64>, V4ControllerError> {
        let st = lock(&self.shared);
        let devices = st.apps.get(&app).ok_or(V4ControllerError::NoSuchApp)?;
        let d = devices
            .iter()
            .find(|d| d.slot_id == slot)
            .ok_or(V4ControllerError::NoSuchSlot)?;
        Ok(d.level(c))
    }

    /// The level the controller now expects (until the App's next report says otherwise).
    fn expect_level(&self, app: V4Id, slot: &str, c: u8, level: i64) {
        let mut st = lock(&self.shared);
        if let Some(d) = st
            .apps
            .get_mut(&app)
            .and_then(|ds| ds.iter_mut().find(|d| d.slot_id == slot))
        {
            d.info["props"][level_key(c)] = json!(level.clamp(0, 200));
        }
    }

    fn op(&self, app: V4Id, op: Value) -> Result<String, V4ControllerError> {
        self.request(app, "device.op", Some(op))
    }

    /// `AddIntensity`: channel `c` (0 = A, 1 = B) of `slot` changes by `delta`.
    ///
    /// # Errors
    /// As [`V4Controller::send_raw`], and [`V4ControllerError::NoSuchSlot`].
    pub fn add_strength(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        delta: i64,
    ) -> Result<String, V4ControllerError> {
        let before = self.slot_level(app, slot, c)?;
        let id = self.op(app, json!({"s":slot,"t":3,"c":c,"p":1,"v":delta}))?;
        if let Some(l) = before {
            self.expect_level(app, slot, c, l + delta);
        }
        Ok(id)
    }

    /// "Set to `value`": `SetIntensity 0` for 0, otherwise `AddIntensity value − current`
    /// (§6.4). `None` when the channel is already there.
    ///
    /// # Errors
    /// [`V4ControllerError::UnknownLevel`] before the App reported the channel; as
    /// [`V4Controller::add_strength`].
    pub fn set_strength(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        value: i64,
    ) -> Result<Option<String>, V4ControllerError> {
        let current = self.slot_level(app, slot, c)?;
        if value <= 0 {
            let id = self.op(app, json!({"s":slot,"t":7,"c":c,"p":1,"v":0}))?;
            self.expect_level(app, slot, c, 0);
            return Ok(Some(id));
        }
        let current = current.ok_or(V4ControllerError::UnknownLevel)?;
        if current == value {
            return Ok(None);
        }
        self.add_strength(app, slot, c, value - current).map(Some)
    }

    /// `SetTempIntensity`: `value` on channel `c` for `duration`, then back (§5.2).
    ///
    /// # Errors
    /// As [`V4Controller::add_strength`].
    pub fn temp_strength(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        value: i64,
        duration: Duration,
    ) -> Result<String, V4ControllerError> {
        self.slot_level(app, slot, c)?;
        let d = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.op(app, json!({"s":slot,"t":4,"c":c,"p":1,"d":d,"v":value}))
    }

    /// `AppendPulseData`: `frames` (16 hex characters each, the SOCKET v2 pulse format,
    /// one per 100 ms) on channel `c`, for `duration` (default: the frames' own length).
    /// With `replace`, tasks of the same kind on that channel end first (`im:true`).
    ///
    /// # Errors
    /// As [`V4Controller::add_strength`].
    pub fn pulses(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        frames: &[String],
        duration: Option<Duration>,
        replace: bool,
    ) -> Result<String, V4ControllerError> {
        self.slot_level(app, slot, c)?;
        let d = duration.unwrap_or(FRAME * u32::try_from(frames.len()).unwrap_or(u32::MAX));
        let d = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut op = json!({"s":slot,"t":0,"c":c,"p":1,"d":d,"v":frames});
        if replace {
            op["im"] = json!(true);
        }
        self.op(app, op)
    }

    /// `device.op.clear`: every task of the App, of one slot, or of one slot's channel.
    ///
    /// # Errors
    /// As [`V4Controller::send_raw`].
    pub fn clear(
        &self,
        app: V4Id,
        slot: Option<&str>,
        c: Option<u8>,
    ) -> Result<String, V4ControllerError> {
        let data = match (slot, c) {
            (Some(s), Some(c)) => Some(json!({"s":s,"c":c})),
            (Some(s), None) => Some(json!({"s":s})),
            _ => None,
        };
        self.request(app, "device.op.clear", data)
    }

    /// `devices.get`: the App answers with its device list (merged on arrival).
    ///
    /// # Errors
    /// As [`V4Controller::send_raw`].
    pub fn refresh_devices(&self, app: V4Id) -> Result<String, V4ControllerError> {
        self.request(app, "devices.get", None)
    }

    /// Leaves the relay now (its Apps get `controller_disconnected`).
    pub fn leave(&self) {
        match &self.link {
            Link::Local(link) => link.leave(),
            Link::Remote { stop, .. } => stop.cancel(),
        }
    }
}

impl Drop for V4Controller {
    fn drop(&mut self) {
        self.leave();
    }
}

/// The reason in a refusal answered in the App's name.
fn refusal(answer: Option<String>) -> String {
    answer
        .and_then(|a| serde_json::from_str::<Value>(&a).ok())
        .and_then(|v| {
            v["message"]
                .as_str()
                .or(v["error"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "refused".to_owned())
}

/// Deep-merges `patch` into `into` (objects merge key by key; anything else replaces).
fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (into, patch) => *into = patch.clone(),
    }
}

fn device(info: &Value) -> Option<V4Device> {
    let slot_id = info.get("slotId")?.as_str()?.to_owned();
    Some(V4Device {
        slot_id,
        info: info.clone(),
    })
}

/// Reads one App payload into the shared state; the events it makes.
fn app_payload(shared: &Mutex<Shared>, app: V4Id, data: &str) -> Vec<V4ControllerEvent> {
    let Ok(msg) = serde_json::from_str::<Value>(data) else {
        return vec![];
    };
    let mut st = lock(shared);
    let Some(devices) = st.apps.get_mut(&app) else {
        return vec![];
    };
    match (msg["t"].as_str(), msg["ev"].as_str()) {
        (Some("ev"), Some("devices.snapshot")) => {
            *devices = msg["devices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(device)
                .collect();
            vec![V4ControllerEvent::Devices {
                app,
                devices: devices.clone(),
            }]
        }
        (Some("ev"), Some("devices.patch")) => {
            if let Some(removed) = msg["removed"].as_array() {
                devices.retain(|d| !removed.iter().any(|r| r.as_str() == Some(&d.slot_id)));
            }
            for d in msg["added"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(device)
            {
                match devices.iter_mut().find(|e| e.slot_id == d.slot_id) {
                    Some(e) => *e = d,
                    None => devices.push(d),
                }
            }
            vec![V4ControllerEvent::Devices {
                app,
                devices: devices.clone(),
            }]
        }
        (Some("ev"), Some("slots.patch")) => {
            let mut changed = vec![];
            for s in msg["slots"].as_array().into_iter().flatten() {
                let Some(id) = s["slotId"].as_str() else {
                    continue;
                };
                // An unknown slotId is ignored (§5.3).
                if let Some(d) = devices.iter_mut().find(|d| d.slot_id == id) {
                    let mut patch = Map::new();
                    for k in ["props", "slotState"] {
                        if let Some(v) = s.get(k) {
                            patch.insert(k.into(), v.clone());
                        }
                    }
                    merge(&mut d.info, &Value::Object(patch));
                    changed.push(d.clone());
                }
            }
            if changed.is_empty() {
                return vec![];
            }
            vec![V4ControllerEvent::Slots {
                app,
                devices: changed,
                patch: msg["slots"].clone(),
            }]
        }
        (Some("ev"), Some("custom.action")) => msg["action"]
            .as_u64()
            .filter(|a| *a <= 9)
            .map(|a| V4ControllerEvent::CustomAction {
                app,
                action: a as u8,
            })
            .into_iter()
            .collect(),
        (Some("resp"), _) => {
            let Some(req_id) = msg
                .get("reqId")
                .or_else(|| msg.get("requestId"))
                .and_then(|r| r.as_str().map(str::to_owned).or(Some(r.to_string())))
            else {
                return vec![];
            };
            // A `devices.get` answer: descriptors, merged into what is known.
            if let Some(list) = msg["result"]["devices"].as_array() {
                for d in list.iter().filter_map(device) {
                    match devices.iter_mut().find(|e| e.slot_id == d.slot_id) {
                        Some(e) => merge(&mut e.info, &d.info),
                        None => devices.push(d),
                    }
                }
            }
            let result = match msg.get("error") {
                Some(e) => Err(e.as_str().map_or_else(|| e.to_string(), str::to_owned)),
                None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
            };
            vec![V4ControllerEvent::Response {
                app,
                req_id,
                result,
            }]
        }
        _ => vec![],
    }
}

fn push(tx: &mpsc::Sender<V4ControllerEvent>, evs: Vec<V4ControllerEvent>) {
    for ev in evs {
        let _ = tx.try_send(ev);
    }
}

/// One frame from the relay, in either transport's form.
fn incoming(shared: &Mutex<Shared>, tx: &mpsc::Sender<V4ControllerEvent>, inc: V4Incoming) {
    let evs = match inc {
        V4Incoming::Attached(app) => {
            lock(shared).apps.entry(app).or_default();
            vec![V4ControllerEvent::AppAttached { app }]
        }
        V4Incoming::Detached(app) => {
            lock(shared).apps.remove(&app);
            vec![V4ControllerEvent::AppDetached { app }]
        }
        V4Incoming::Message { app, data } => app_payload(shared, app, &data),
    };
    push(tx, evs);
}

async fn read_inbox(
    mut inbox: V4Inbox,
    shared: Arc<Mutex<Shared>>,
    tx: mpsc::Sender<V4ControllerEvent>,
) {
    while let Some(inc) = inbox.recv().await {
        incoming(&shared, &tx, inc);
    }
    lock(&shared).apps.clear();
    let _ = tx.try_send(V4ControllerEvent::Closed);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Waits for `hello` and starts the socket's task.
async fn join(mut ws: Ws) -> Result<(V4Controller, V4ControllerEvents), ConnectError> {
    let id = tokio::time::timeout(HELLO_TIMEOUT, async {
        while let Some(frame) = ws.next().await {
            let frame = frame.map_err(ConnectError::from_ws)?;
            let Message::Text(text) = frame else { continue };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if v["type"] == "hello" {
                if let Some(id) = v["clientId"].as_str().and_then(V4Id::parse) {
                    return Ok(id);
                }
            }
        }
        Err(ConnectError::Timeout("relay closed before its hello"))
    })
    .await
    .map_err(|_| ConnectError::Timeout("relay hello"))??;
    let (tx, rx) = mpsc::channel(SEND_QUEUE);
    let (etx, erx) = mpsc::channel(EVENT_QUEUE);
    let shared = Arc::new(Mutex::new(Shared::default()));
    let stop = CancellationToken::new();
    tokio::spawn(run(ws, rx, shared.clone(), etx, stop.clone()));
    Ok((
        V4Controller {
            id,
            link: Link::Remote { tx, stop },
            shared,
            next_req: AtomicU64::new(1),
        },
        V4ControllerEvents(erx),
    ))
}

/// A remote controller's socket: frames out, relay frames in (§4.1), answering nothing
/// but the relay's own pings (tungstenite does).
async fn run(
    mut ws: Ws,
    mut rx: mpsc::Receiver<Message>,
    shared: Arc<Mutex<Shared>>,
    tx: mpsc::Sender<V4ControllerEvent>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = ws.close(None).await;
                break;
            }
            out = rx.recv() => {
                let Some(m) = out else { break };
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                    let app = v["clientId"].as_str().and_then(V4Id::parse);
                    let inc = match (v["type"].as_str(), app) {
                        (Some("client_attached"), Some(app)) => V4Incoming::Attached(app),
                        (Some("client_disconnected"), Some(app)) => V4Incoming::Detached(app),
                        (Some("message"), Some(app)) => V4Incoming::Message {
                            app,
                            data: v["data"].to_string(),
                        },
                        (Some("error"), _) => {
                            log::debug!("V4 relay error: {}", crate::relay::escape_for_log(&text, 200));
                            continue;
                        }
                        _ => continue,
                    };
                    incoming(&shared, &tx, inc);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    lock(&shared).apps.clear();
    let _ = tx.try_send(V4ControllerEvent::Closed);
}
