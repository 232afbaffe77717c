//! The emergency stop as the last thing the process does: on SIGINT, SIGTERM or SIGHUP
//! (Ctrl+C in the terminal that started it, `kill`, a closed terminal, a logout) and on a
//! panic anywhere. Quitting from the window already stops first (`RunEvent::Exit` in
//! `lib.rs`); these are the ways out that skip it.
//!
//! - Signals: the first one runs the stop, then asks the app to exit, which stops again
//!   (harmless: latched) and shuts the relay down, writing what is queued (the stop's
//!   frames) before each socket closes. A second signal while that hangs stops once more
//!   and exits at once.
//! - Panics: the hook runs [`SafetyHub::emergency_stop`] (synchronous: every frame is
//!   queued when it returns) on a helper thread and waits at most [`PANIC_STOP_WAIT`] for
//!   it, because the panicking thread may hold a gate's lock that the stop needs; the lock
//!   is released as that thread unwinds, so the stop completes then. On the main thread,
//!   whose panic ends the process, the hook also gives the sockets [`PANIC_FLUSH`] to
//!   write the frames. Then the previous hook (the usual message) runs.

use dglab_core::SafetyHub;
use std::sync::{Mutex, Once};
use std::time::Duration;

/// Longest the panic hook waits for the stop to be queued.
pub const PANIC_STOP_WAIT: Duration = Duration::from_millis(500);
/// After a main-thread panic's stop, time for the socket tasks to write it out.
pub const PANIC_FLUSH: Duration = Duration::from_millis(150);

/// Every hub the panic hook stops (one in the app; a test process may start several).
static HUBS: Mutex<Vec<SafetyHub>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

fn hubs() -> Vec<SafetyHub> {
    HUBS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// From now on a panic on any thread runs `hub`'s emergency stop before anything else.
/// Installs the hook once per process (keeping the previous one after it).
pub fn stop_on_panic(hub: SafetyHub) {
    HUBS.lock().unwrap_or_else(|e| e.into_inner()).push(hub);
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            stop_from_panic();
            previous(info);
        }));
    });
}

/// The hook's work: stop every hub on a helper thread, wait for it (bounded).
fn stop_from_panic() {
    let hubs = hubs();
    let (tx, rx) = std::sync::mpsc::channel();
    let helper = std::thread::Builder::new()
        .name("panic-stop".into())
        .spawn(move || {
            let apps: usize = hubs.iter().map(|h| h.emergency_stop().apps).sum();
            let _ = tx.send(apps);
            // Logged after the stop is queued: the panic may have happened inside the logger.
            log::error!("panic: emergency stop sent to {apps} App(s) before anything else");
        });
    if helper.is_err() {
        // No thread to spare: the stop cannot safely run here (this thread may hold a
        // gate's lock), so the watchdog lease is what stops the output if the app hangs.
        return;
    }
    if rx.recv_timeout(PANIC_STOP_WAIT).is_ok() && std::thread::current().name() == Some("main") {
        std::thread::sleep(PANIC_FLUSH);
    }
}

/// Runs the emergency stop on SIGINT, SIGTERM or SIGHUP, then `then` (the app passes
/// `exit`). The handlers are in place when this returns. Call it outside any async
/// context (it enters Tauri's runtime to register them), e.g. from `setup`.
#[cfg(unix)]
pub fn stop_on_signals<R: tauri::Runtime>(
    app: &tauri::AppHandle<R>,
    then: impl FnOnce(&tauri::AppHandle<R>) + Send + 'static,
) {
    use tauri::Manager;
    use tokio::signal::unix::{signal, SignalKind};
    let registered = tauri::async_runtime::block_on(async {
        Ok::<_, std::io::Error>([
            (signal(SignalKind::interrupt())?, "SIGINT"),
            (signal(SignalKind::terminate())?, "SIGTERM"),
            (signal(SignalKind::hangup())?, "SIGHUP"),
        ])
    });
    let [mut int, mut term, mut hup] = match registered {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot watch for SIGINT/SIGTERM/SIGHUP: {e}");
            return;
        }
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut first = true;
        let mut then = Some(then);
        loop {
            let name = tokio::select! {
                _ = int.0.recv() => int.1,
                _ = term.0.recv() => term.1,
                _ = hup.0.recv() => hup.1,
            };
            let report = app
                .try_state::<crate::state::AppState>()
                .map(|s| s.safety.emergency_stop());
            log::warn!(
                "{name}: emergency stop ({} App(s)) before exit",
                report.map_or(0, |r| r.apps)
            );
            if first {
                first = false;
                if let Some(then) = then.take() {
                    then(&app);
                }
            } else {
                // The orderly exit did not finish; the stop above is queued, go now.
                std::process::exit(128 + 15);
            }
        }
    });
}
