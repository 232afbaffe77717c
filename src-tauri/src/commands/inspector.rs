//! The protocol inspector in the window: while it runs, the relay's frame records reach the
//! window as [`EVENT_INSPECTOR`], in batches of at most [`MAX_BATCH`] about ten times a
//! second (a webview redrawing per frame would fall behind a busy relay). Stopped, the
//! relay's stream is dropped and the relay copies nothing.

use crate::events::EVENT_INSPECTOR;
use crate::state::AppState;
use dglab_core::relay::InspectRecord;
use serde::Serialize;
use std::sync::Mutex;
use std::time::Duration;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter, Runtime, State};

/// How often a batch goes to the window.
const EVERY: Duration = Duration::from_millis(100);
/// Most records in one batch; the rest of a burst is counted as lost.
pub const MAX_BATCH: usize = 200;

/// The running inspector's task, if any.
#[derive(Debug, Default)]
pub struct Inspector(Mutex<Option<JoinHandle<()>>>);

/// One batch for the window.
#[derive(Debug, Clone, Serialize)]
pub struct InspectorBatch {
    /// Records in the order the relay saw them.
    pub records: Vec<InspectRecord>,
    /// Records lost since the last batch (a burst beyond what the window can take).
    pub lost: u64,
}

/// Starts streaming frame records to the window; `false` if it was already running.
#[tauri::command]
pub fn start_inspector<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    inspector: State<'_, Inspector>,
) -> bool {
    let mut running = inspector.0.lock().unwrap_or_else(|e| e.into_inner());
    if running.is_some() {
        return false;
    }
    let mut stream = state.relay.inspect();
    *running = Some(tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        let mut batch: Vec<InspectRecord> = vec![];
        let (mut lost, mut lost_sent) = (0u64, 0u64);
        loop {
            tokio::select! {
                r = stream.recv() => match r {
                    Some(r) if batch.len() < MAX_BATCH => batch.push(r),
                    Some(_) => lost += 1,
                    None => break,
                },
                _ = tick.tick() => {
                    let total = lost + stream.lost();
                    if batch.is_empty() && total == lost_sent {
                        continue;
                    }
                    let payload = InspectorBatch {
                        records: std::mem::take(&mut batch),
                        lost: total - lost_sent,
                    };
                    lost_sent = total;
                    if let Err(e) = app.emit(EVENT_INSPECTOR, payload) {
                        log::error!("emit {EVENT_INSPECTOR}: {e}");
                    }
                }
            }
        }
    }));
    true
}

/// Stops the inspector; `false` if it was not running.
#[tauri::command]
pub fn stop_inspector(inspector: State<'_, Inspector>) -> bool {
    match inspector.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
        Some(task) => {
            // Dropping the task's stream tells the relay to stop copying frames.
            task.abort();
            true
        }
        None => false,
    }
}
