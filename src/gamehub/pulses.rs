//! The pulse catalogue the API offers: our built-in presets (the official waveforms under
//! Game-Hub's stock ids, so ids that clients hard-code such as `d6f83af0` keep working),
//! then the user's presets, by name.
//!
//! An id that names nothing falls back to the first pulse when played, as upstream does;
//! the API stores whatever id it was given.

use crate::presets::{self, PresetStore};
use crate::protocol::Frame;
use std::sync::Arc;

/// Game-Hub's stock pulse ids for the official waveforms we ship (same names, our frames).
const STOCK_IDS: &[(&str, &str)] = &[
    ("d6f83af0", "呼吸"),
    ("7eae1e5f", "潮汐"),
    ("eea0e4ce", "连击"),
    ("2cbd592e", "快速按捏"),
    ("cd9868d3", "心跳节奏"),
    ("9be2ec50", "节奏步伐"),
    ("bd272001", "波浪涟漪"),
    ("c93b68ec", "信号灯"),
];

/// One playable pulse.
#[derive(Debug, Clone)]
pub struct Pulse {
    /// What the API calls it: a stock id, or the preset's name.
    pub id: String,
    /// The preset's name.
    pub name: String,
    /// One pass, rest frames included.
    pub frames: Arc<[Frame]>,
}

/// The built-ins, stock ids first in upstream's order, then our own built-ins.
pub(crate) fn builtin() -> Vec<Pulse> {
    let all = presets::builtins();
    let mut out: Vec<Pulse> = STOCK_IDS
        .iter()
        .filter_map(|(id, name)| {
            let p = all.iter().find(|p| p.name == *name)?;
            Some(Pulse {
                id: (*id).to_owned(),
                name: p.name.clone(),
                frames: p.body.frames().into(),
            })
        })
        .collect();
    for p in all {
        if !STOCK_IDS.iter().any(|(_, n)| *n == p.name) {
            out.push(Pulse {
                id: p.name.clone(),
                name: p.name.clone(),
                frames: p.body.frames().into(),
            });
        }
    }
    out
}

/// The built-ins and, with a store, the user's presets (read fresh: the window may have
/// saved one a moment ago). A store that cannot be read adds nothing.
pub(crate) fn catalogue(store: Option<&PresetStore>) -> Vec<Pulse> {
    let mut out = builtin();
    let Some(store) = store else {
        return out;
    };
    match store.list() {
        Ok(list) => {
            for summary in list.into_iter().filter(|s| !s.builtin) {
                if let Ok(p) = store.get(&summary.name) {
                    out.push(Pulse {
                        id: p.name.clone(),
                        name: p.name,
                        frames: p.body.frames().into(),
                    });
                }
            }
        }
        Err(e) => log::warn!("game API: the presets could not be read: {e}"),
    }
    out
}

/// The pulse `id` names, or the first (the default) when it names none.
pub(crate) fn resolve<'a>(list: &'a [Pulse], id: &str) -> Option<&'a Pulse> {
    list.iter().find(|p| p.id == id).or_else(|| list.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stock_ids_name_the_official_waveforms_and_come_first() {
        let list = builtin();
        assert_eq!(list[0].id, "d6f83af0");
        assert_eq!(list[0].name, "呼吸");
        assert_eq!(list[1].id, "7eae1e5f");
        // Every stock id we list is backed by a built-in preset.
        for (id, _) in STOCK_IDS {
            assert!(list.iter().any(|p| p.id == *id), "{id} has no waveform");
        }
        assert!(list.iter().all(|p| !p.frames.is_empty()));
        assert_eq!(resolve(&list, "nope").unwrap().id, "d6f83af0");
    }
}
