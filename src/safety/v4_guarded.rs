//! A V4 controller behind the safety gate ([`super::SafetyHub::guard_v4_controller`]): the
//! same caps per slot channel, rise rate, STOP and re-pair at 0 as SOCKET v2's guarded
//! terminal, wherever the relay is — our own (where the relay-wide policy also binds it)
//! or the vendor's (where nothing else would).
//!
//! Every payload it sends passes its own [`V4Policy`] first (the rules of the relay-wide
//! one, kept on this side of the socket), and every App report reaches that policy, which
//! answers a new slot with 0 and a level above the cap with a correction. "Set to N" above
//! the current level becomes a ramp of `AddIntensity +1` steps, one per rise interval;
//! lowering is immediate and ends the ramp. The emergency stop reaches every App of every
//! guarded controller (`device.op.clear`, then 0 on every slot channel) and ends the ramps.

use super::hub::HubInner;
use super::v4_policy::V4Policy;
use crate::relay::v4::{V4Guard, V4Id, V4Verdict};
use crate::terminal::v4::{
    V4Controller, V4ControllerError, V4ControllerEvent, V4ControllerEvents, V4Device,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// Ramp targets: (App, slot, channel) → the level asked for.
type Targets = HashMap<(V4Id, String, u8), i64>;

/// The shared state of one guarded V4 controller.
#[derive(Debug)]
pub(crate) struct V4Gate {
    hub: Arc<HubInner>,
    ctrl: V4Controller,
    policy: V4Policy,
    targets: Mutex<Targets>,
}

/// A [`V4Controller`] whose every strength action passes the safety hub. Dropping it
/// leaves the relay.
#[derive(Debug, Clone)]
pub struct GuardedV4Controller {
    gate: Arc<V4Gate>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl V4Gate {
    /// Sends `payload` after the policy: as it is, as the policy bounded it, or not at all.
    fn send(&self, app: V4Id, payload: Value) -> Result<(), V4ControllerError> {
        let text = payload.to_string();
        let out = match self.policy.controller_sent(app, self.ctrl.id(), &text) {
            V4Verdict::Pass => payload,
            V4Verdict::Replace(other) => {
                serde_json::from_str(&other).map_err(|_| V4ControllerError::Gone)?
            }
            V4Verdict::Refuse(answer) => {
                let why = answer
                    .and_then(|a| serde_json::from_str::<Value>(&a).ok())
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "refused".to_owned());
                return Err(V4ControllerError::Refused(why));
            }
        };
        self.ctrl.send_raw(app, &out)
    }

    /// Payloads the policy made (zeroing, corrections, the stop), sent as they are.
    fn send_own(&self, app: V4Id, payloads: Vec<String>) {
        for p in payloads {
            if let Ok(v) = serde_json::from_str::<Value>(&p) {
                let _ = self.ctrl.send_raw(app, &v);
            }
        }
    }

    fn op(&self, app: V4Id, data: Value) -> Result<String, V4ControllerError> {
        let (id, req) = self.ctrl.new_request("device.op", Some(data));
        self.send(app, req)?;
        Ok(id)
    }

    /// The stop: every App of this controller cleared and at 0, every ramp ended.
    pub(crate) fn halt(&self) -> usize {
        lock(&self.targets).clear();
        let apps = self.ctrl.apps();
        for app in &apps {
            self.send_own(*app, self.policy.stop_payloads(*app));
        }
        self.policy.stopped(&apps);
        apps.len()
    }

    /// A cap was lowered: channels above it come down.
    pub(crate) fn settle_caps(&self) {
        for app in self.policy.known_apps() {
            self.send_own(app, self.policy.cap_corrections(app));
        }
    }

    /// One ramp round: each target above its level gets +1 (the policy's rate holds).
    fn ramp_round(&self) {
        let targets: Vec<_> = lock(&self.targets)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for ((app, slot, c), target) in targets {
            let ch = usize::from(c);
            let reported = self.policy.reported(app, &slot, ch);
            let level = self.policy.level(app, &slot, ch);
            let (Some(reported), Some(level)) = (reported, level) else {
                // The App or its slot is gone.
                lock(&self.targets).remove(&(app, slot, c));
                continue;
            };
            if reported >= target && level >= target {
                // Reached, as the App itself says (a report from before the App was
                // zeroed is not believed: the policy's level says 0 then).
                lock(&self.targets).remove(&(app, slot, c));
                continue;
            }
            if level >= target {
                // Raises on their way: wait for the App's answer.
                continue;
            }
            let step = self.op(app, json!({"s":slot,"t":3,"c":c,"p":1,"v":1}));
            if let Err(V4ControllerError::Refused(_) | V4ControllerError::NoSuchApp) = step {
                // Stopped, or at the cap: the ramp ends there.
                if self.hub.block().is_some() || level >= i64::from(self.hub.cap(cap_channel(c))) {
                    lock(&self.targets).remove(&(app, slot, c));
                }
            }
        }
    }

    /// An event of the controller: App payloads reach the policy (which may answer the
    /// App), a departed App is forgotten.
    fn observe(&self, ev: &V4ControllerEvent) {
        let (app, payload) = match ev {
            V4ControllerEvent::Devices { app, devices } => {
                let list: Vec<&Value> = devices.iter().map(|d| &d.info).collect();
                (
                    *app,
                    json!({"t":"ev","ev":"devices.snapshot","devices":list}),
                )
            }
            // The deltas as the App sent them: merged state would repeat stale levels.
            V4ControllerEvent::Slots { app, patch, .. } => {
                (*app, json!({"t":"ev","ev":"slots.patch","slots":patch}))
            }
            V4ControllerEvent::Response {
                app,
                req_id,
                result,
            } => {
                let r = match result {
                    Ok(v) => json!({"t":"resp","reqId":req_id,"result":v}),
                    Err(e) => json!({"t":"resp","reqId":req_id,"error":e}),
                };
                (*app, r)
            }
            V4ControllerEvent::AppAttached { app } | V4ControllerEvent::AppDetached { app } => {
                lock(&self.targets).retain(|(a, _, _), _| a != app);
                if matches!(ev, V4ControllerEvent::AppDetached { .. }) {
                    self.policy.app_left(*app);
                }
                return;
            }
            _ => return,
        };
        let answers = self
            .policy
            .app_sent(app, self.ctrl.id(), &payload.to_string());
        self.send_own(app, answers);
    }
}

fn cap_channel(c: u8) -> crate::protocol::command::Channel {
    if c == 0 {
        crate::protocol::command::Channel::A
    } else {
        crate::protocol::command::Channel::B
    }
}

impl GuardedV4Controller {
    /// The controller's id (the `tid` of its pairing link).
    pub fn id(&self) -> V4Id {
        self.gate.ctrl.id()
    }

    /// Its Apps.
    pub fn apps(&self) -> Vec<V4Id> {
        self.gate.ctrl.apps()
    }

    /// An App's devices as last reported.
    pub fn devices(&self, app: V4Id) -> Vec<V4Device> {
        self.gate.ctrl.devices(app)
    }

    /// "Set channel `c` of `slot` to `value`", within the cap: lower (or 0) at once, higher
    /// as a ramp of +1 per rise interval. Returns the level it will reach.
    ///
    /// # Errors
    /// [`V4ControllerError::Refused`] while stopped (for a raise) or with the cap at 0;
    /// [`V4ControllerError::NoSuchSlot`] for a slot the App has not shown.
    pub fn set_strength(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        value: i64,
    ) -> Result<i64, V4ControllerError> {
        let g = &self.gate;
        let c = c.min(1);
        let level = g
            .policy
            .level(app, slot, usize::from(c))
            .ok_or(V4ControllerError::NoSuchSlot)?;
        let key = (app, slot.to_owned(), c);
        let target = value.clamp(0, i64::from(g.hub.cap(cap_channel(c))));
        if target <= level {
            lock(&g.targets).remove(&key);
            if target == level {
                return Ok(level);
            }
            let data = if target == 0 {
                json!({"s":slot,"t":7,"c":c,"p":1,"v":0})
            } else {
                json!({"s":slot,"t":3,"c":c,"p":1,"v":target - level})
            };
            g.op(app, data)?;
            return Ok(target);
        }
        if g.hub.block().is_some() {
            return Err(V4ControllerError::Refused(
                "stopped: nothing above 0 until re-armed".into(),
            ));
        }
        lock(&g.targets).insert(key, target);
        // The first step at once (when the rate allows); the ramp task does the rest.
        g.ramp_round();
        Ok(target)
    }

    /// `AddIntensity delta`, bounded by the policy (a raise: at most +1 per rise interval).
    ///
    /// # Errors
    /// As [`GuardedV4Controller::set_strength`].
    pub fn add_strength(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        delta: i64,
    ) -> Result<String, V4ControllerError> {
        self.gate
            .op(app, json!({"s":slot,"t":3,"c":c.min(1),"p":1,"v":delta}))
    }

    /// `SetTempIntensity`, bounded so level plus temporaries stay under the cap.
    ///
    /// # Errors
    /// As [`GuardedV4Controller::set_strength`].
    pub fn temp_strength(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        value: i64,
        duration: Duration,
    ) -> Result<String, V4ControllerError> {
        let d = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.gate.op(
            app,
            json!({"s":slot,"t":4,"c":c.min(1),"p":1,"d":d,"v":value}),
        )
    }

    /// `AppendPulseData` (see [`V4Controller::pulses`]); refused while stopped.
    ///
    /// # Errors
    /// As [`GuardedV4Controller::set_strength`].
    pub fn pulses(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        frames: &[String],
        duration: Option<Duration>,
        replace: bool,
    ) -> Result<String, V4ControllerError> {
        let n = u32::try_from(frames.len()).unwrap_or(u32::MAX);
        let d = duration.unwrap_or(crate::terminal::v4::FRAME * n);
        let d = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut op = json!({"s":slot,"t":0,"c":c.min(1),"p":1,"d":d,"v":frames});
        if replace {
            op["im"] = json!(true);
        }
        self.gate.op(app, op)
    }

    /// `device.op.clear` (always allowed).
    ///
    /// # Errors
    /// As [`V4Controller::clear`].
    pub fn clear(
        &self,
        app: V4Id,
        slot: Option<&str>,
        c: Option<u8>,
    ) -> Result<String, V4ControllerError> {
        self.gate.ctrl.clear(app, slot, c)
    }

    /// `devices.get`.
    ///
    /// # Errors
    /// As [`V4Controller::refresh_devices`].
    pub fn refresh_devices(&self, app: V4Id) -> Result<String, V4ControllerError> {
        self.gate.ctrl.refresh_devices(app)
    }

    /// Leaves the relay now.
    pub fn leave(&self) {
        self.gate.ctrl.leave();
    }
}

impl super::SafetyHub {
    /// Puts a V4 controller behind the gate: caps per slot channel, rise rate (set_strength
    /// ramps), STOP (every App cleared and at 0, ramps ended, raises refused until
    /// re-armed) and re-pair at 0 (each new device slot is zeroed). The hub reads `events`
    /// itself and re-emits every one on the returned stream. Pass the only handle.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the gate's task).
    pub fn guard_v4_controller(
        &self,
        ctrl: V4Controller,
        mut events: V4ControllerEvents,
    ) -> (GuardedV4Controller, V4ControllerEvents) {
        let (policy, mut notes) = V4Policy::new(&self.inner);
        // Our own relay's policy need not rate-limit it a second time.
        for (_, relay_policy) in self.inner.v4_relays() {
            relay_policy.exempt(ctrl.id(), true);
        }
        let gate = Arc::new(V4Gate {
            hub: self.inner.clone(),
            ctrl,
            policy,
            targets: Mutex::new(HashMap::new()),
        });
        lock(&self.inner.v4_gates).push(Arc::downgrade(&gate));
        let (tx, rx) = mpsc::channel(1024);
        let weak: Weak<V4Gate> = Arc::downgrade(&gate);
        let interval = self.inner.interval;
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            let mut ramp = tokio::time::interval(interval);
            ramp.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    ev = events.recv() => {
                        let Some(ev) = ev else { return };
                        let Some(g) = weak.upgrade() else { return };
                        g.observe(&ev);
                        let _ = tx.try_send(ev);
                    }
                    line = notes.recv() => match line {
                        Some(line) => log::warn!("{line}"),
                        None => return,
                    },
                    _ = ramp.tick() => {
                        let Some(g) = weak.upgrade() else { return };
                        g.ramp_round();
                    }
                }
            }
        });
        (
            GuardedV4Controller { gate },
            V4ControllerEvents::from_receiver(rx),
        )
    }
}
