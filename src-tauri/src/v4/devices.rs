//! What our 4.x Apps reported of their device slots (spec docs/v4-protocol.md §5.3), for
//! the binding table only: `devices.snapshot` replaces an App's list, `devices.patch`
//! upserts and removes, `slots.patch` deep-merges deltas into known slots.
//!
//! Display only, and a stopgap: the core's V4 controller (branch `v4-core`) tracks devices
//! for driving them; once it lands the table should read its snapshot and this file goes.
//! Everything here is peer input: anything malformed is ignored (never an error, never a
//! panic), strings are cut, and an App's slots are bounded.

use dglab_core::relay::v4::V4Id;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Slots kept per App; a real App has a handful (one per paired box or sensor).
pub const MAX_SLOTS: usize = 16;
/// Characters kept of a slot's id, name or type.
pub const MAX_TEXT: usize = 64;

/// One device slot as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    /// `slotId`, the address of every command to it.
    pub slot_id: String,
    /// `name` as the App shows it (e.g. 郊狼 3.0).
    pub name: String,
    /// `type`: `COYOTE_020`, `COYOTE_030`, `OVC_1`, `BMTR_1`, or another the App knows.
    pub kind: String,
    /// `slotState.hasDevice`: the box is connected over Bluetooth.
    pub connected: Option<bool>,
    /// `props.power`: battery, 0–100.
    pub battery: Option<u8>,
    /// `props.intensityA` / `intensityB`: current strength, A then B.
    pub strength: [Option<u16>; 2],
    /// `slotState.channelA|B.intensityMax`: the App's own limit, A then B.
    pub limit: [Option<u16>; 2],
}

/// Every App's slots, raw JSON merged as the App sends deltas.
#[derive(Debug, Default)]
pub struct DeviceBook {
    apps: HashMap<V4Id, Vec<Map<String, Value>>>,
}

impl DeviceBook {
    /// Applies one payload from `app`; whether anything the table shows may have changed.
    pub fn apply(&mut self, app: V4Id, data: &str) -> bool {
        let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(data) else {
            return false;
        };
        if msg.get("t").and_then(Value::as_str) != Some("ev") {
            return false;
        }
        match msg.get("ev").and_then(Value::as_str) {
            Some("devices.snapshot") => {
                let slots = infos(msg.get("devices")).take(MAX_SLOTS).collect();
                self.apps.insert(app, slots);
                true
            }
            Some("devices.patch") => {
                let slots = self.apps.entry(app).or_default();
                if let Some(Value::Array(removed)) = msg.get("removed") {
                    slots.retain(|s| !removed.iter().any(|r| Some(r) == s.get("slotId")));
                }
                for added in infos(msg.get("added")) {
                    match slots
                        .iter()
                        .position(|s| s.get("slotId") == added.get("slotId"))
                    {
                        Some(i) => slots[i] = added,
                        None if slots.len() < MAX_SLOTS => slots.push(added),
                        None => {}
                    }
                }
                true
            }
            Some("slots.patch") => {
                let Some(slots) = self.apps.get_mut(&app) else {
                    return false;
                };
                let Some(Value::Array(deltas)) = msg.get("slots") else {
                    return false;
                };
                for delta in deltas.iter().filter_map(Value::as_object) {
                    // An unknown slotId is ignored (§5.3).
                    if let Some(slot) = slots
                        .iter_mut()
                        .find(|s| s.get("slotId") == delta.get("slotId"))
                    {
                        for key in ["props", "slotState"] {
                            if let Some(d) = delta.get(key) {
                                merge(slot.entry(key).or_insert(Value::Null), d);
                            }
                        }
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// An App left: its slots are forgotten.
    pub fn forget(&mut self, app: V4Id) {
        self.apps.remove(&app);
    }

    /// `app`'s slots, or `None` before its first report.
    pub fn devices(&self, app: V4Id) -> Option<Vec<DeviceView>> {
        self.apps.get(&app).map(|s| s.iter().map(view).collect())
    }
}

/// The `DeviceInfo` objects with a string `slotId` in `list`.
fn infos(list: Option<&Value>) -> impl Iterator<Item = Map<String, Value>> + '_ {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|d| d.get("slotId").is_some_and(Value::is_string))
        .cloned()
}

/// Deep merge: objects key by key, anything else replaced.
fn merge(into: &mut Value, delta: &Value) {
    match (into, delta) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (into, delta) => *into = delta.clone(),
    }
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect()
}

fn number(v: Option<&Value>) -> Option<u16> {
    v.and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
}

fn view(slot: &Map<String, Value>) -> DeviceView {
    let props = slot.get("props");
    let state = slot.get("slotState");
    let prop = |k: &str| props.and_then(|p| p.get(k));
    let limit = |ch: &str| {
        number(
            state
                .and_then(|s| s.get(ch))
                .and_then(|c| c.get("intensityMax")),
        )
    };
    DeviceView {
        slot_id: text(slot.get("slotId")),
        name: text(slot.get("name")),
        kind: text(slot.get("type")),
        connected: state
            .and_then(|s| s.get("hasDevice"))
            .and_then(Value::as_bool),
        battery: number(prop("power")).and_then(|p| u8::try_from(p.min(100)).ok()),
        strength: [number(prop("intensityA")), number(prop("intensityB"))],
        limit: [limit("channelA"), limit("channelB")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: V4Id = V4Id(0xb71e_02d4);

    fn book(frames: &[&str]) -> DeviceBook {
        let mut b = DeviceBook::default();
        for f in frames {
            b.apply(APP, f);
        }
        b
    }

    #[test]
    fn a_snapshot_lists_the_slots_and_patches_follow() {
        let b = book(&[
            r#"{"t":"ev","ev":"devices.snapshot","devices":[{"slotId":"s1","name":"郊狼 3.0","type":"COYOTE_030","props":{"power":80,"intensityA":0,"intensityB":0},"slotState":{"hasDevice":true,"channelA":{"intensityMax":60}}}]}"#,
            r#"{"t":"ev","ev":"slots.patch","slots":[{"slotId":"s1","props":{"intensityA":12}},{"slotId":"nope","props":{"intensityA":99}}]}"#,
            r#"{"t":"ev","ev":"devices.patch","added":[{"slotId":"s2","name":"OVC","type":"OVC_1"}]}"#,
        ]);
        let d = b.devices(APP).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "郊狼 3.0");
        assert_eq!(d[0].strength, [Some(12), Some(0)]);
        assert_eq!(d[0].limit, [Some(60), None]);
        assert_eq!((d[0].connected, d[0].battery), (Some(true), Some(80)));
        assert_eq!(d[1].kind, "OVC_1");
        let b2 = {
            let mut b = b;
            b.apply(APP, r#"{"t":"ev","ev":"devices.patch","removed":["s1"]}"#);
            b
        };
        assert_eq!(b2.devices(APP).unwrap()[0].slot_id, "s2");
    }

    #[test]
    fn an_empty_snapshot_is_no_devices_and_before_it_nothing_is_known() {
        assert_eq!(book(&[]).devices(APP), None);
        let b = book(&[r#"{"t":"ev","ev":"devices.snapshot","devices":[]}"#]);
        assert_eq!(b.devices(APP), Some(vec![]));
    }

    #[test]
    fn malformed_payloads_change_nothing_and_slots_are_bounded() {
        let mut b = DeviceBook::default();
        for bad in [
            "not json",
            "[]",
            r#"{"t":"resp","reqId":"1","result":{}}"#,
            r#"{"t":"ev","ev":"slots.patch","slots":[{"slotId":"s1"}]}"#,
            r#"{"t":"ev","ev":"devices.snapshot","devices":"x"}"#,
        ] {
            b.apply(APP, bad);
        }
        assert_eq!(
            b.devices(APP),
            Some(vec![]),
            "only the bad snapshot made an empty list"
        );
        let many: Vec<String> = (0..40)
            .map(|i| format!(r#"{{"slotId":"s{i}","name":"{}","type":"COYOTE_030","props":{{"intensityA":-3,"power":900}}}}"#, "x".repeat(500)))
            .collect();
        b.apply(
            APP,
            &format!(
                r#"{{"t":"ev","ev":"devices.snapshot","devices":[{}]}}"#,
                many.join(",")
            ),
        );
        let d = b.devices(APP).unwrap();
        assert_eq!(d.len(), MAX_SLOTS);
        assert_eq!(d[0].name.chars().count(), MAX_TEXT);
        assert_eq!((d[0].strength[0], d[0].battery), (None, Some(100)));
        b.forget(APP);
        assert_eq!(b.devices(APP), None);
    }
}
