//! The relay-wide policy for the V4 relay (DG-LAB App 4.x): the user's caps and STOP bind
//! every 4.x App, whoever drives it (rule 1), as [`super::policy::RelayPolicy`] does for
//! SOCKET v2. [`V4Policy`] is the [`V4Guard`] that [`super::SafetyHub::guard_v4`] installs.
//!
//! It reads the application layer (docs/v4-protocol.md §5) per App device slot channel
//! (channel `c` 0 is capped by the hub's cap A, 1 by cap B):
//! - `device.op` `AddIntensity` (t 3) is bounded so the level it leads to stays under the
//!   cap, counting every temporary strength still running on that channel as added on
//!   top (how `SetTempIntensity` combines is undocumented, §10: the sum is the worst case);
//!   `SetTempIntensity` (t 4) is bounded the same way and tracked by its `reqId` until the
//!   App answers it (the task ended, was cleared or replaced); `SetIntensity` (t 7, the
//!   App only takes 0) is clamped to the cap should an App ever take more;
//! - for controllers that are not our own gates (which ramp by themselves), a raise is at
//!   most +1 per rise interval, as on SOCKET v2: `AddIntensity +30` becomes `+1`;
//! - while the stop is latched (or the watchdog lapsed), every raise and every pulse
//!   (`AppendPulseData`, t 0) is refused; lowering, 0 and clears pass;
//! - a refusal answers the controller in the App's name with
//!   `{"t":"resp","reqId":…,"error":"refused","message":…}`, so an SDK waiting on the
//!   request does not hang; a `device.op` the policy cannot read, on a slot it has not
//!   seen, or of an unknown type is refused too (it might raise); other methods pass.
//!
//! It reads every App payload: `devices.snapshot` (sent once on attach), `devices.patch`
//! `added` and a `devices.get` answer naming a new slot make the App's slots known, and
//! each new slot is zeroed at once (`device.op.clear` and strength 0: re-pair at 0);
//! `slots.patch` reports set the levels, and a level above what is allowed (the cap, 0
//! while stopped) is sent back down at once — the App's own auto-increase (§9) fights the
//! controller and is answered every time.
//!
//! The stop reaches every V4 App on the control lane (ahead of what is queued, which is
//! dropped): `device.op.clear` for everything, then `SetIntensity 0` (`p:0`, `im:true`)
//! on both channels of every slot (§6.7). An App that had a level above 0 owes a report
//! of 0 everywhere; until then the stop is sent again every [`STOP_RETRY`].

use super::event::STOP_RETRY;
use super::hub::HubInner;
use crate::protocol::command::Channel;
use crate::relay::v4::{V4Guard, V4Handle, V4Id, V4Verdict};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Channel `c` of a slot: 0 is A, 1 is B.
const CHANNELS: [Channel; 2] = [Channel::A, Channel::B];
/// The `props` keys of the two levels.
const LEVEL_KEYS: [&str; 2] = ["intensityA", "intensityB"];
/// The App's ceiling, whatever it reports.
const MAX_LEVEL: i64 = 200;
/// Log lines buffered for the policy's task before more are dropped.
const NOTE_QUEUE: usize = 256;

/// What the policy knows of one device slot.
#[derive(Debug, Default, Clone)]
struct SlotSeen {
    /// The level per channel as far as the policy can tell: the last report, or what was
    /// let through since (never below what the App may really be at).
    level: [i64; 2],
    /// The last level the App reported.
    reported: [i64; 2],
    /// When a raise last went through on each channel (controllers that are not ours).
    last_rise: [Option<Instant>; 2],
}

/// A `SetTempIntensity` still running: its slot, channel and value.
#[derive(Debug, Clone)]
struct Temp {
    slot: String,
    channel: usize,
    value: i64,
    /// (Raises in flight only) the App has reported this channel since the raise went.
    reported_after: bool,
}

/// What the policy knows of one App.
#[derive(Debug, Default)]
struct AppSeen {
    slots: HashMap<String, SlotSeen>,
    /// Running temporary strengths by the `reqId` (as JSON text) of their `device.op`.
    temps: HashMap<String, Temp>,
    /// Raises let through that the App has not answered yet: a report sent before it
    /// took them does not count them, so they are added to every report until answered.
    inflight: HashMap<String, Temp>,
    /// A stop was sent and the App has not reported 0 on every channel since.
    stop_pending: bool,
}

impl AppSeen {
    fn inflight_sum(&self, slot: &str, channel: usize) -> i64 {
        self.inflight
            .values()
            .filter(|t| t.slot == slot && t.channel == channel)
            .map(|t| t.value)
            .sum()
    }

    fn temp_sum(&self, slot: &str, channel: usize) -> i64 {
        self.temps
            .values()
            .filter(|t| t.slot == slot && t.channel == channel)
            .map(|t| t.value)
            .sum()
    }
}

/// One `device.op` as the policy reads it.
struct Op {
    slot: String,
    kind: i64,
    channel: usize,
}

/// The hub's policy on one V4 relay. See the module docs.
#[derive(Debug)]
pub(crate) struct V4Policy {
    hub: Weak<HubInner>,
    apps: Mutex<HashMap<V4Id, AppSeen>>,
    /// Controllers that ramp by themselves (our own gates): not rate-limited twice.
    exempt: Mutex<HashSet<V4Id>>,
    /// The counter of the policy's own `reqId`s.
    next_req: AtomicU64,
    /// Log lines made under the relay's lock, written by the policy's task.
    notes: mpsc::Sender<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The refusal, in the App's name: a `resp` error when the request has a `reqId`.
fn refuse(req_id: &Value, why: &str) -> V4Verdict {
    if req_id.is_null() {
        return V4Verdict::Refuse(None);
    }
    V4Verdict::Refuse(Some(
        json!({"t":"resp","reqId":req_id,"error":"refused","message":why}).to_string(),
    ))
}

fn parse_op(data: &Value) -> Option<Op> {
    let slot = data.get("s")?.as_str()?.to_owned();
    let kind = data.get("t")?.as_i64()?;
    let channel = match data.get("c")?.as_u64()? {
        0 => 0,
        1 => 1,
        _ => return None,
    };
    Some(Op {
        slot,
        kind,
        channel,
    })
}

/// A `reqId` as the key of a running task (its JSON text, so `"7"` and `7` differ).
fn req_key(v: &Value) -> Option<String> {
    v.get("reqId")
        .or_else(|| v.get("requestId"))
        .filter(|r| !r.is_null())
        .map(Value::to_string)
}

impl V4Policy {
    pub(crate) fn new(hub: &Arc<HubInner>) -> (Self, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(NOTE_QUEUE);
        (
            V4Policy {
                hub: Arc::downgrade(hub),
                apps: Mutex::new(HashMap::new()),
                exempt: Mutex::new(HashSet::new()),
                next_req: AtomicU64::new(1),
                notes: tx,
            },
            rx,
        )
    }

    fn apps(&self) -> MutexGuard<'_, HashMap<V4Id, AppSeen>> {
        lock(&self.apps)
    }

    /// A controller that ramps by itself (a guarded V4 controller): its raises are not
    /// held to the rise rate a second time. Caps and the stop still apply.
    pub(crate) fn exempt(&self, controller: V4Id, on: bool) {
        let mut set = lock(&self.exempt);
        if on {
            set.insert(controller);
        } else {
            set.remove(&controller);
        }
    }

    /// The level of one slot channel as far as the policy can tell (with the temporary
    /// strengths running on it), if the slot is known.
    pub(crate) fn level(&self, app: V4Id, slot: &str, c: usize) -> Option<i64> {
        let apps = self.apps();
        let a = apps.get(&app)?;
        a.slots
            .get(slot)
            .map(|s| s.level[c.min(1)] + a.temp_sum(slot, c.min(1)))
    }

    /// The level the App last reported on one slot channel.
    pub(crate) fn reported(&self, app: V4Id, slot: &str, c: usize) -> Option<i64> {
        self.apps()
            .get(&app)?
            .slots
            .get(slot)
            .map(|s| s.reported[c.min(1)])
    }

    /// Apps the policy knows.
    pub(crate) fn known_apps(&self) -> Vec<V4Id> {
        let mut v: Vec<V4Id> = self.apps().keys().copied().collect();
        v.sort();
        v
    }

    fn req_id(&self) -> String {
        format!(
            "dglab-safety-{}",
            self.next_req.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn note(&self, line: String) {
        let _ = self.notes.try_send(line);
    }

    /// `device.op` of one channel: `SetIntensity v` (`p:0`, `im:true`, the stop's form)
    /// for 0, `AddIntensity delta` otherwise.
    fn strength_op(&self, slot: &str, channel: usize, delta_or_zero: Option<i64>) -> String {
        let data = match delta_or_zero {
            None => json!({"s":slot,"t":7,"c":channel,"p":0,"im":true,"v":0}),
            Some(d) => json!({"s":slot,"t":3,"c":channel,"p":1,"v":d}),
        };
        json!({"t":"req","reqId":self.req_id(),"m":"device.op","data":data}).to_string()
    }

    /// What leaves a new slot silent: its tasks cleared, both channels at 0.
    fn zero_slot(&self, slot: &str) -> Vec<String> {
        let clear =
            json!({"t":"req","reqId":self.req_id(),"m":"device.op.clear","data":{"s":slot}});
        vec![
            clear.to_string(),
            self.strength_op(slot, 0, None),
            self.strength_op(slot, 1, None),
        ]
    }

    /// The stop for one App: every task cleared, then strength 0 on every channel of
    /// every slot it has shown.
    pub(crate) fn stop_payloads(&self, app: V4Id) -> Vec<String> {
        let slots: Vec<String> = self
            .apps()
            .get(&app)
            .map(|a| a.slots.keys().cloned().collect())
            .unwrap_or_default();
        let mut out =
            vec![json!({"t":"req","reqId":self.req_id(),"m":"device.op.clear"}).to_string()];
        for s in slots {
            out.push(self.strength_op(&s, 0, None));
            out.push(self.strength_op(&s, 1, None));
        }
        out
    }

    /// Marks the Apps a stop reached: levels and temporary strengths are 0, and an App
    /// that was above 0 anywhere owes a report of 0.
    pub(crate) fn stopped(&self, reached: &[V4Id]) {
        let mut apps = self.apps();
        for app in reached {
            let a = apps.entry(*app).or_default();
            a.temps.clear();
            a.inflight.clear();
            let mut above = false;
            for s in a.slots.values_mut() {
                above |= s.level.iter().chain(&s.reported).any(|l| *l > 0);
                s.level = [0, 0];
                s.last_rise = [None, None];
            }
            a.stop_pending = above;
        }
    }

    /// Apps that owe a report of 0 since the stop.
    pub(crate) fn unconfirmed(&self) -> Vec<V4Id> {
        let mut v: Vec<V4Id> = self
            .apps()
            .iter()
            .filter(|(_, a)| a.stop_pending)
            .map(|(id, _)| *id)
            .collect();
        v.sort();
        v
    }

    /// The stop was released: nobody owes a confirmation any more.
    pub(crate) fn released(&self) {
        for a in self.apps().values_mut() {
            a.stop_pending = false;
        }
    }

    /// After a cap was lowered: what brings this App's channels above the new cap down.
    pub(crate) fn cap_corrections(&self, app: V4Id) -> Vec<String> {
        let Some(hub) = self.hub.upgrade() else {
            return vec![];
        };
        let mut apps = self.apps();
        let Some(a) = apps.get_mut(&app) else {
            return vec![];
        };
        let mut ids: Vec<String> = a.slots.keys().cloned().collect();
        ids.sort();
        let mut out = vec![];
        for id in ids {
            for (c, ch) in CHANNELS.into_iter().enumerate() {
                self.settle(a, &id, c, i64::from(hub.cap(ch)), &mut out);
            }
        }
        out
    }

    /// Brings one channel of a slot within `allowed` (its level plus the temporary
    /// strengths running on it): temporaries that alone pass it are cleared (with the
    /// channel's tasks: a waveform on it stops too), then the level is lowered. Returns
    /// whether it sent anything.
    fn settle(
        &self,
        a: &mut AppSeen,
        id: &str,
        c: usize,
        allowed: i64,
        out: &mut Vec<String>,
    ) -> bool {
        let mut temps = a.temp_sum(id, c);
        let mut sent = false;
        if temps > allowed {
            out.push(
                json!({"t":"req","reqId":self.req_id(),"m":"device.op.clear","data":{"s":id,"c":c}})
                    .to_string(),
            );
            a.temps.retain(|_, t| !(t.slot == id && t.channel == c));
            temps = 0;
            sent = true;
        }
        let Some(s) = a.slots.get_mut(id) else {
            return sent;
        };
        let room = (allowed - temps).max(0);
        if s.level[c] > room {
            let fix = if room == 0 {
                None
            } else {
                Some(room - s.level[c])
            };
            out.push(self.strength_op(id, c, fix));
            s.level[c] = room;
            sent = true;
        }
        sent
    }

    /// Learns a slot (or refreshes it); a slot not seen before is zeroed.
    fn learn_slot(&self, a: &mut AppSeen, slot: &str, info: &Value, out: &mut Vec<String>) {
        let new = !a.slots.contains_key(slot);
        let s = a.slots.entry(slot.to_owned()).or_default();
        for (reported, key) in s.reported.iter_mut().zip(LEVEL_KEYS) {
            if let Some(l) = info
                .get("props")
                .and_then(|p| p.get(key))
                .and_then(Value::as_i64)
            {
                *reported = l.clamp(0, MAX_LEVEL);
            }
        }
        if new {
            // Re-pair at 0: whatever the App was at, it starts from 0 with us.
            s.level = [0, 0];
            out.extend(self.zero_slot(slot));
        }
    }

    /// The App's `slots.patch`: levels follow its reports; one above what is allowed is
    /// sent back down.
    fn patched(
        &self,
        app: V4Id,
        controller: V4Id,
        a: &mut AppSeen,
        slots: &[Value],
        hub: &HubInner,
    ) -> Vec<String> {
        let blocked = hub.block().is_some();
        let ours = lock(&self.exempt).contains(&controller);
        let mut out = vec![];
        let mut reported_any = false;
        for entry in slots {
            let Some(id) = entry.get("slotId").and_then(Value::as_str) else {
                continue;
            };
            let props = entry.get("props");
            let levels: [Option<i64>; 2] = [0, 1].map(|c| {
                props
                    .and_then(|p| p.get(LEVEL_KEYS[c]))
                    .and_then(Value::as_i64)
            });
            if levels.iter().all(Option::is_none) {
                continue;
            }
            reported_any = true;
            // A slot only patches tell of is still a slot: learn it (and zero it).
            if !a.slots.contains_key(id) {
                self.learn_slot(a, id, &Value::Null, &mut out);
            }
            for c in 0..2 {
                let Some(l) = levels[c] else { continue };
                let l = l.clamp(0, MAX_LEVEL);
                let inflight = a.inflight_sum(id, c);
                for t in a.inflight.values_mut() {
                    if t.slot == id && t.channel == c {
                        t.reported_after = true;
                    }
                }
                if let Some(s) = a.slots.get_mut(id) {
                    s.reported[c] = l;
                    // The report is the App's truth for what is above the cap (it may or
                    // may not include a temporary strength).
                    s.level[c] = l;
                }
                let allowed = if blocked {
                    0
                } else {
                    i64::from(hub.cap(CHANNELS[c]))
                };
                // Our own gate answers its Apps (twice would undershoot).
                if (blocked || !ours) && self.settle(a, id, c, allowed, &mut out) {
                    self.note(format!(
                        "safety: V4 App {app} slot {} channel {} reported {l}, above the allowed {allowed}; sent back down",
                        crate::relay::escape_for_log(id, 40),
                        ["A", "B"][c]
                    ));
                }
                // Raises are bounded from the report plus those the App has not answered
                // yet (a report sent before it took them does not count them; one sent
                // after counts them twice until they are answered: the safe side).
                if let Some(s) = a.slots.get_mut(id) {
                    s.level[c] = (s.level[c] + inflight).min(MAX_LEVEL);
                }
            }
        }
        if reported_any && a.stop_pending && a.slots.values().all(|s| s.reported == [0, 0]) {
            a.stop_pending = false;
            self.note(format!(
                "safety: V4 App {app} confirmed the stop (0 on every channel)"
            ));
        }
        out
    }
}

impl V4Guard for V4Policy {
    fn controller_sent(&self, app: V4Id, controller: V4Id, data: &str) -> V4Verdict {
        let Some(hub) = self.hub.upgrade() else {
            return V4Verdict::Pass;
        };
        let Ok(mut req) = serde_json::from_str::<Value>(data) else {
            return V4Verdict::Pass;
        };
        if req.get("t").and_then(Value::as_str) != Some("req") {
            // Only requests make the App act.
            return V4Verdict::Pass;
        }
        let req_id = req.get("reqId").cloned().unwrap_or(Value::Null);
        match req.get("m").and_then(Value::as_str) {
            Some("device.op") => {}
            Some("device.op.clear") => {
                // Lowers only; the temporaries it ends are forgotten when the App answers.
                return V4Verdict::Pass;
            }
            // devices.get, ping, and whatever else cannot raise.
            _ => return V4Verdict::Pass,
        }
        let blocked = hub.block().is_some();
        let Some(op) = req.get("data").and_then(parse_op) else {
            return refuse(&req_id, "a device.op the safety policy cannot read");
        };
        match op.kind {
            0 if blocked => return refuse(&req_id, "stopped: no pulses until re-armed"),
            // Pulses play at the channel's level, which is bounded; 1, 2, 5 and 6 are
            // reserved or defunct and cannot raise.
            0 | 1 | 2 | 5 | 6 => return V4Verdict::Pass,
            3 | 4 | 7 => {}
            _ => return refuse(&req_id, "an action type the safety policy does not know"),
        }
        let Some(v) = req
            .get("data")
            .and_then(|d| d.get("v"))
            .and_then(Value::as_i64)
        else {
            return refuse(&req_id, "a strength that is not a whole number");
        };
        let ch = op.channel;
        let mut apps = self.apps();
        let a = apps.entry(app).or_default();
        if v <= 0 {
            // Lowering, or 0: always allowed.
            if let Some(s) = a.slots.get_mut(&op.slot) {
                match op.kind {
                    3 => s.level[ch] = (s.level[ch] + v).max(0),
                    7 if v == 0 => s.level[ch] = 0,
                    _ => {}
                }
            }
            return V4Verdict::Pass;
        }
        if blocked {
            return refuse(&req_id, "stopped: nothing above 0 until re-armed");
        }
        let temps = a.temp_sum(&op.slot, ch);
        let key = req_key(&req);
        if op.kind == 4 && key.as_ref().is_none_or(|k| a.temps.contains_key(k)) {
            return refuse(&req_id, "a temporary strength needs a reqId of its own");
        }
        let Some(s) = a.slots.get_mut(&op.slot) else {
            return refuse(&req_id, "a slot the App has not shown the safety policy");
        };
        let cap = i64::from(hub.cap(CHANNELS[ch]));
        let now = Instant::now();
        let ours = lock(&self.exempt).contains(&controller);
        let due = s.last_rise[ch].is_none_or(|t| now >= t + hub.interval);
        let rate = if ours {
            MAX_LEVEL
        } else if due {
            1
        } else {
            0
        };
        let level = s.level[ch];
        let room = (cap - level - temps).max(0);
        let allowed = match op.kind {
            // Absolute (only 0 is documented; bounded anyway).
            7 => {
                let target = v.min((cap - temps).max(0));
                if target > level {
                    target.min(level + rate)
                } else {
                    target
                }
            }
            _ => v.min(room).min(rate),
        };
        let raised = match op.kind {
            7 => allowed > level,
            _ => allowed > 0,
        };
        if op.kind != 7 && allowed <= 0 {
            return refuse(
                &req_id,
                if room == 0 {
                    "at the cap"
                } else {
                    "rising faster than the safety rate"
                },
            );
        }
        if raised {
            s.last_rise[ch] = Some(now);
        }
        match op.kind {
            3 => {
                s.level[ch] = level + allowed;
                if let Some(k) = key {
                    a.inflight.insert(
                        k,
                        Temp {
                            slot: op.slot.clone(),
                            channel: ch,
                            value: allowed,
                            reported_after: false,
                        },
                    );
                }
            }
            7 => s.level[ch] = allowed,
            _ => {
                if let Some(k) = key {
                    a.temps.insert(
                        k,
                        Temp {
                            slot: op.slot.clone(),
                            channel: ch,
                            value: allowed,
                            reported_after: false,
                        },
                    );
                }
            }
        }
        if allowed == v {
            return V4Verdict::Pass;
        }
        if let Some(d) = req.get_mut("data").and_then(Value::as_object_mut) {
            d.insert("v".into(), json!(allowed));
        }
        V4Verdict::Replace(req.to_string())
    }

    fn app_sent(&self, app: V4Id, controller: V4Id, data: &str) -> Vec<String> {
        let Some(hub) = self.hub.upgrade() else {
            return vec![];
        };
        let Ok(msg) = serde_json::from_str::<Value>(data) else {
            return vec![];
        };
        let mut apps = self.apps();
        let a = apps.entry(app).or_default();
        let mut out = vec![];
        match msg.get("t").and_then(Value::as_str) {
            Some("ev") => match msg.get("ev").and_then(Value::as_str) {
                Some("devices.snapshot") => {
                    // The App's whole list: slots it no longer has are gone.
                    let list = msg.get("devices").and_then(Value::as_array);
                    let ids: HashSet<&str> = list
                        .into_iter()
                        .flatten()
                        .filter_map(|d| d.get("slotId").and_then(Value::as_str))
                        .collect();
                    a.slots.retain(|id, _| ids.contains(id.as_str()));
                    for d in list.into_iter().flatten() {
                        if let Some(id) = d.get("slotId").and_then(Value::as_str) {
                            self.learn_slot(a, id, d, &mut out);
                        }
                    }
                }
                Some("devices.patch") => {
                    for id in msg
                        .get("removed")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        a.slots.remove(id);
                    }
                    for d in msg
                        .get("added")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(id) = d.get("slotId").and_then(Value::as_str) {
                            self.learn_slot(a, id, d, &mut out);
                        }
                    }
                }
                Some("slots.patch") => {
                    if let Some(slots) = msg.get("slots").and_then(Value::as_array) {
                        out = self.patched(app, controller, a, slots, &hub);
                    }
                }
                _ => {}
            },
            Some("resp") => {
                // A task ended (or was refused): its temporary strength is gone — unless
                // the refusal was for reusing the reqId of one still running.
                if let Some(k) = req_key(&msg) {
                    if msg.get("error").and_then(Value::as_str) != Some("duplicate_request_id") {
                        a.temps.remove(&k);
                        if let Some(t) = a.inflight.remove(&k) {
                            // Answered. §11.3 leaves open whether the App reports the new
                            // level before or after it answers. With a report since the
                            // raise went, that report counts it; with none yet, dropping
                            // the raise here would let the next one past the cap, so it
                            // is counted in the level we believe until a report comes.
                            let rest = a.inflight_sum(&t.slot, t.channel);
                            if let Some(s) = a.slots.get_mut(&t.slot) {
                                let c = t.channel;
                                if !t.reported_after {
                                    s.reported[c] = (s.reported[c] + t.value).clamp(0, MAX_LEVEL);
                                }
                                s.level[c] = (s.reported[c] + rest).min(MAX_LEVEL);
                            }
                        }
                    }
                }
                // `devices.get`: a slot never shown before is learnt and zeroed.
                if let Some(list) = msg
                    .get("result")
                    .and_then(|r| r.get("devices"))
                    .and_then(Value::as_array)
                {
                    for d in list {
                        if let Some(id) = d.get("slotId").and_then(Value::as_str) {
                            if !a.slots.contains_key(id) {
                                self.learn_slot(a, id, &Value::Null, &mut out);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        out
    }

    fn app_left(&self, app: V4Id) {
        self.apps().remove(&app);
    }
}

/// Installs a policy for `hub` on `relay`, with the task that writes its log lines and
/// re-sends an unconfirmed stop every [`STOP_RETRY`]. Both end with the relay or the hub.
pub(crate) fn install(hub: &Arc<HubInner>, relay: &V4Handle) -> Arc<V4Policy> {
    let (policy, mut rx) = V4Policy::new(hub);
    let policy = Arc::new(policy);
    relay.set_guard(Some(policy.clone()));
    let weak_hub = Arc::downgrade(hub);
    let weak_policy = Arc::downgrade(&policy);
    let relay = relay.clone();
    let shutdown = hub.shutdown.clone();
    tokio::spawn(async move {
        let mut retry = tokio::time::interval(STOP_RETRY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                line = rx.recv() => match line {
                    Some(line) => log::warn!("{line}"),
                    None => return,
                },
                _ = retry.tick() => {
                    let (Some(hub), Some(policy)) = (weak_hub.upgrade(), weak_policy.upgrade()) else {
                        return;
                    };
                    if relay.is_shut_down() {
                        return;
                    }
                    if hub.block().is_none() {
                        policy.released();
                        continue;
                    }
                    let pending = policy.unconfirmed();
                    if !pending.is_empty() {
                        log::warn!("safety: {} V4 App(s) have not confirmed the stop; sending it again", pending.len());
                        relay.to_apps_first(Some(&pending), &|a| policy.stop_payloads(a), true);
                    }
                }
            }
        }
    });
    policy
}

impl super::SafetyHub {
    /// Makes this hub's caps and stop bind every App on the V4 relay `relay` (DG-LAB App
    /// 4.x), whoever drives it: strength actions are bounded per slot channel by the caps
    /// and the rise rate, raises and pulses are refused while stopped (the controller gets
    /// a `resp` with `error:"refused"`), an App reporting above what is allowed is sent back
    /// down, a new device slot starts at 0, and the emergency stop reaches every V4 App
    /// first, ahead of anything queued for it.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the policy's task).
    pub fn guard_v4(&self, relay: &V4Handle) {
        let policy = install(&self.inner, relay);
        lock(&self.inner.v4_relays).push((relay.clone(), policy));
    }
}

#[cfg(test)]
mod tests {
    //! The V4 policy on its own, against random interleavings of another controller's
    //! strength actions (relative, temporary, absolute), pulses, clears, the App's reports
    //! (above the cap: the App's own auto-increase, §9), tasks ending, stops, re-arms and
    //! cap changes. What it lets through is applied to an independent model of a
    //! permissive App (it takes absolute strengths above 0 and sums temporary strengths
    //! onto the base: the worst cases of §10), and no channel may ever end above its cap,
    //! or rise at all while stopped.

    use super::*;
    use crate::safety::{SafetyConfig, SafetyHub};
    use proptest::prelude::*;

    const S: &str = "S1";

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i64),
        Temp(u8, i64),
        /// The App ends the n-th running temporary strength (its `d` ran out).
        TempEnd(usize),
        Set(u8, i64),
        Pulse(u8),
        Clear,
        /// The App reports these levels (its own auto-increase, the phone, anything).
        Report(i64, i64),
        Garbage(String),
        Stop,
        Rearm,
        Caps(u8, u8),
        Wait(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let ch = 0u8..=1;
        prop_oneof![
            4 => (ch.clone(), -50i64..=200).prop_map(|(c, v)| Op::Add(c, v)),
            2 => (ch.clone(), -10i64..=200).prop_map(|(c, v)| Op::Temp(c, v)),
            1 => (0usize..4).prop_map(Op::TempEnd),
            2 => (ch.clone(), 0i64..=200).prop_map(|(c, v)| Op::Set(c, v)),
            2 => ch.clone().prop_map(Op::Pulse),
            1 => Just(Op::Clear),
            2 => (0i64..=200, 0i64..=200).prop_map(|(a, b)| Op::Report(a, b)),
            1 => "[ -~]{0,30}".prop_map(Op::Garbage),
            1 => Just(Op::Stop),
            1 => Just(Op::Rearm),
            1 => (0u8..=200, 0u8..=200).prop_map(|(a, b)| Op::Caps(a, b)),
            3 => (0u64..300).prop_map(Op::Wait),
        ]
    }

    /// The model App: base levels and running temporary strengths by reqId.
    #[derive(Default)]
    struct Model {
        level: [i64; 2],
        temps: Vec<(String, usize, i64)>,
        pulses_while_stopped: bool,
    }

    impl Model {
        fn effective(&self, c: usize) -> i64 {
            self.level[c]
                + self
                    .temps
                    .iter()
                    .filter(|t| t.1 == c)
                    .map(|t| t.2.max(0))
                    .sum::<i64>()
        }

        /// Applies one payload that reached the App; returns what it answers (resp of
        /// ended tasks) for the policy to read.
        fn apply(&mut self, payload: &str, stopped: bool) -> Vec<String> {
            let v: Value = serde_json::from_str(payload).unwrap();
            let mut answers = vec![];
            match v["m"].as_str() {
                Some("device.op.clear") => {
                    let c = v["data"]["c"].as_u64().map(|c| c as usize);
                    let (gone, keep): (Vec<_>, Vec<_>) = self
                        .temps
                        .drain(..)
                        .partition(|t| c.is_none_or(|c| t.1 == c));
                    self.temps = keep;
                    for t in gone {
                        answers.push(
                            json!({"t":"resp","reqId":serde_json::from_str::<Value>(&t.0).unwrap(),
                                   "result":{"type":4,"reason":"cleared"}})
                            .to_string(),
                        );
                    }
                }
                Some("device.op") => {
                    let d = &v["data"];
                    let c = d["c"].as_u64().unwrap() as usize;
                    let val = d["v"].as_i64().unwrap_or(0);
                    match d["t"].as_i64().unwrap() {
                        3 => {
                            self.level[c] = (self.level[c] + val).clamp(0, 200);
                            answers.push(
                                json!({"t":"resp","reqId":v["reqId"],"result":{"type":3,"reason":"completed"}})
                                    .to_string(),
                            );
                        }
                        7 => self.level[c] = val.clamp(0, 200),
                        4 => self.temps.push((v["reqId"].to_string(), c, val)),
                        0 => self.pulses_while_stopped |= stopped,
                        _ => {}
                    }
                }
                _ => {}
            }
            answers
        }
    }

    async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let hub = SafetyHub::new(SafetyConfig {
            cap_a: 40,
            cap_b: 40,
            max_rise_per_sec: 10,
            watchdog: None,
        })
        .unwrap();
        let (policy, _notes) = V4Policy::new(&hub.inner);
        let (app, controller) = (V4Id(1), V4Id(2));
        let mut m = Model::default();
        let mut caps = [40i64; 2];
        let mut n = 0u64;
        // The App attaches at 0/0 with one device; the policy zeroes it.
        let snap = json!({"t":"ev","ev":"devices.snapshot","devices":[{"slotId":S,"name":"c","type":"COYOTE_030",
            "props":{"intensityA":0,"intensityB":0}}]});
        for p in policy.app_sent(app, controller, &snap.to_string()) {
            m.apply(&p, false);
        }
        for op in ops {
            let stopped = hub.is_latched();
            n += 1;
            let req = |mm: &str, data: Value| json!({"t":"req","reqId":format!("r{n}"),"m":mm,"data":data});
            let sent = match &op {
                Op::Add(c, v) => Some(req("device.op", json!({"s":S,"t":3,"c":c,"v":v}))),
                Op::Temp(c, v) => Some(req("device.op", json!({"s":S,"t":4,"c":c,"v":v,"d":1000}))),
                Op::Set(c, v) => Some(req("device.op", json!({"s":S,"t":7,"c":c,"v":v}))),
                Op::Pulse(c) => Some(req(
                    "device.op",
                    json!({"s":S,"t":0,"c":c,"v":["0A0A0A0A64646464"]}),
                )),
                Op::Clear => Some(req("device.op.clear", Value::Null)),
                _ => None,
            };
            if let Some(s) = sent {
                let s = s.to_string();
                let delivered = match policy.controller_sent(app, controller, &s) {
                    V4Verdict::Pass => Some(s),
                    V4Verdict::Replace(r) => Some(r),
                    V4Verdict::Refuse(_) => None,
                };
                if let Some(d) = delivered {
                    let before = [m.effective(0), m.effective(1)];
                    for a in m.apply(&d, stopped) {
                        policy.app_sent(app, controller, &a);
                    }
                    for c in 0..2 {
                        let e = m.effective(c);
                        prop_assert!(
                            e <= before[c].max(caps[c]),
                            "{d} took channel {c} to {e}, past its cap {}",
                            caps[c]
                        );
                        prop_assert!(
                            !(stopped && e > before[c]),
                            "{d} raised channel {c} while stopped"
                        );
                    }
                    prop_assert!(!m.pulses_while_stopped, "a pulse passed while stopped");
                }
            }
            match op {
                Op::TempEnd(i) if !m.temps.is_empty() => {
                    let t = m.temps.remove(i % m.temps.len());
                    let r = json!({"t":"resp","reqId":serde_json::from_str::<Value>(&t.0).unwrap(),
                                   "result":{"type":4,"reason":"completed"}});
                    policy.app_sent(app, controller, &r.to_string());
                }
                Op::Report(a, b) => {
                    m.level = [a, b];
                    let patch = json!({"t":"ev","ev":"slots.patch","slots":[{"slotId":S,"props":{"intensityA":a,"intensityB":b}}]});
                    for p in policy.app_sent(app, controller, &patch.to_string()) {
                        m.apply(&p, false);
                    }
                    let stopped = hub.is_latched();
                    for (c, cap) in caps.iter().enumerate() {
                        let allowed = if stopped { 0 } else { *cap };
                        prop_assert!(
                            m.effective(c) <= allowed,
                            "after reporting {a}/{b}, channel {c} stays at {} (allowed {allowed})",
                            m.effective(c)
                        );
                    }
                }
                Op::Garbage(g) => {
                    prop_assert!(policy.app_sent(app, controller, &g).is_empty());
                    let _ = policy.controller_sent(app, controller, &g);
                }
                Op::Stop => {
                    hub.emergency_stop();
                    // What the relay does for a stop: these reach the App first.
                    for p in policy.stop_payloads(app) {
                        for a in m.apply(&p, false) {
                            policy.app_sent(app, controller, &a);
                        }
                    }
                    policy.stopped(&[app]);
                    prop_assert_eq!([m.effective(0), m.effective(1)], [0, 0]);
                }
                Op::Rearm => hub.rearm(),
                Op::Caps(a, b) => {
                    hub.set_caps(a, b).unwrap();
                    caps = [i64::from(a), i64::from(b)];
                    for p in policy.cap_corrections(app) {
                        m.apply(&p, false);
                    }
                    // The policy's belief can lag the App (a temporary strength it counts
                    // until the App answers); the App's next report settles it.
                    let patch = json!({"t":"ev","ev":"slots.patch","slots":[{"slotId":S,"props":{"intensityA":m.level[0],"intensityB":m.level[1]}}]});
                    for p in policy.app_sent(app, controller, &patch.to_string()) {
                        m.apply(&p, false);
                    }
                }
                Op::Wait(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                _ => {}
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn nothing_a_v4_controller_sends_passes_the_caps_or_the_stop(
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(run(ops))?;
        }
    }
}
