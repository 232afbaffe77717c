//! A 4.x App's device slot as the binding table shows it, read from the `DeviceInfo` the
//! core's V4 controller keeps merged (spec docs/v4-protocol.md §5.3). Peer input: anything
//! missing or malformed is `None`/empty, strings are cut and stripped of control
//! characters, never an error.

use serde::Serialize;
use serde_json::Value;

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

impl DeviceView {
    /// The view of one merged `DeviceInfo`.
    pub fn of(info: &Value) -> DeviceView {
        let props = info.get("props");
        let state = info.get("slotState");
        let prop = |k: &str| props.and_then(|p| p.get(k));
        let limit = |ch: &str| {
            number(
                state
                    .and_then(|s| s.get(ch))
                    .and_then(|c| c.get("intensityMax")),
            )
        };
        DeviceView {
            slot_id: text(info.get("slotId")),
            name: text(info.get("name")),
            kind: text(info.get("type")),
            connected: state
                .and_then(|s| s.get("hasDevice"))
                .and_then(Value::as_bool),
            battery: number(prop("power")).and_then(|p| u8::try_from(p.min(100)).ok()),
            strength: [number(prop("intensityA")), number(prop("intensityB"))],
            limit: [limit("channelA"), limit("channelB")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_coyote_shows_name_type_levels_limits_battery_and_box() {
        let d = DeviceView::of(&json!({"slotId":"s1","name":"郊狼 3.0","type":"COYOTE_030",
            "props":{"power":80,"intensityA":12,"intensityB":0},
            "slotState":{"hasDevice":true,"channelA":{"intensityMax":60}}}));
        assert_eq!(d.name, "郊狼 3.0");
        assert_eq!(d.strength, [Some(12), Some(0)]);
        assert_eq!(d.limit, [Some(60), None]);
        assert_eq!((d.connected, d.battery), (Some(true), Some(80)));
    }

    #[test]
    fn malformed_fields_are_unknown_and_text_is_cut() {
        let d = DeviceView::of(&json!({"slotId":"s\n1","name":"x".repeat(500),"type":7,
            "props":{"intensityA":-3,"power":900},"slotState":"no"}));
        assert_eq!(d.slot_id, "s1");
        assert_eq!(d.name.chars().count(), MAX_TEXT);
        assert_eq!(d.kind, "");
        assert_eq!(
            (d.strength[0], d.battery, d.connected),
            (None, Some(100), None)
        );
        assert_eq!(DeviceView::of(&json!(null)).slot_id, "");
    }
}
