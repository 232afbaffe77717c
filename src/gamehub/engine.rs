//! [`GameHub`]: our terminals as Game-Hub "games", and one output loop per terminal.
//!
//! The loop wakes every 100 ms (and at once when the API changes something) and, while
//! game output is on, the hub is neither stopped nor lapsed and an App is paired: aims
//! channel A at base + random part (or base + fire boost), B at A × multiplier when B is
//! on, and keeps the selected pulse playing on a [`Player`]. Every strength and pulse goes
//! through the terminal's gate, so the user's caps, the rise rate and the stop hold
//! whatever the API asked; the loop only re-sends a level when its own target changes,
//! so it never fights the phone's dial (the gate adopts a lower level the App reports).
//!
//! The emergency stop (or a lapsed lease) switches game output off through a stop hook,
//! and it stays off after re-arming until switched on again: nothing resumes by itself.

use super::event::{GameHubEvent, OutputChange};
use super::game::{GameConfig, GameState, StrengthConfig};
use super::pulses::{self, Pulse};
use crate::player::{PlayState, Player, PlayerConfig, Repeat};
use crate::presets::PresetStore;
use crate::protocol::command::Channel;
use crate::safety::{GuardedTerminal, SafetyError, SafetyHub, StopRegistration};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::{broadcast, Notify};
use tokio::time::{Duration, Instant};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

/// How often each loop looks again without being woken.
const TICK: Duration = Duration::from_millis(100);

/// The App's soft limit before it has reported one (upstream's default).
pub(crate) const DEFAULT_SOFT_LIMIT: u8 = 20;

/// Events buffered per subscriber.
const EVENT_CAPACITY: usize = 256;

/// One of our terminals as a game.
pub(crate) struct Game {
    pub(crate) terminal: GuardedTerminal,
    st: Mutex<GameState>,
    wake: Notify,
}

impl Game {
    pub(crate) fn id(&self) -> Uuid {
        self.terminal.id()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, GameState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A game "exists" (upstream's term) while its App is paired.
    pub(crate) fn current(&self) -> bool {
        self.terminal.app().is_some()
    }

    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// The most the base may be: the App's channel-A soft limit (20 before it reports)
    /// and the user's cap.
    pub(crate) fn ceiling(&self, safety: &SafetyHub) -> u8 {
        let soft = self
            .terminal
            .last_report()
            .map_or(DEFAULT_SOFT_LIMIT, |r| r.limit_a);
        soft.min(safety.cap(Channel::A))
    }
}

pub(crate) struct Shared {
    pub(crate) safety: SafetyHub,
    presets: Option<PresetStore>,
    output: AtomicBool,
    /// Set by the first stop or lapse: from then on only the user switches output on.
    ever_stopped: AtomicBool,
    games: Mutex<Vec<Arc<Game>>>,
    events: broadcast::Sender<GameHubEvent>,
    cancel: CancellationToken,
    stop_hook: Mutex<Option<StopRegistration>>,
}

impl Shared {
    pub(crate) fn emit(&self, ev: GameHubEvent) {
        let _ = self.events.send(ev);
    }

    pub(crate) fn games(&self) -> Vec<Arc<Game>> {
        self.games.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn catalogue(&self) -> Vec<Pulse> {
        pulses::catalogue(self.presets.as_ref())
    }

    /// Whether a write may move anything now (no stop latched, no lease lapsed).
    pub(crate) fn blocked(&self) -> Option<SafetyError> {
        if self.safety.is_latched() {
            Some(SafetyError::Latched)
        } else if self.safety.lease_lapsed() {
            Some(SafetyError::LeaseLapsed)
        } else {
            None
        }
    }

    /// Switches output on for a game's first accepted write, unless a stop has happened
    /// since this hub began (then only the user may: nothing resumes by itself).
    pub(crate) fn start_on_request(&self) {
        let may = || !self.ever_stopped.load(Ordering::SeqCst) && self.blocked().is_none();
        if may() && !self.output.load(Ordering::SeqCst) {
            self.set_output(true, OutputChange::FirstRequest);
            // A stop racing this (latch set, then its hook switching output off) either
            // ran its hook after our switch, or is seen here: output ends off either way.
            if !may() {
                self.set_output(false, OutputChange::Stopped);
            }
        }
    }

    fn set_output(&self, on: bool, why: OutputChange) {
        if why == OutputChange::Stopped {
            self.ever_stopped.store(true, Ordering::SeqCst);
        }
        if self.output.swap(on, Ordering::SeqCst) != on {
            self.emit(GameHubEvent::Output { on, why });
        }
        // This runs inside the emergency stop, which a panic hook may call on a thread
        // that holds this lock: never wait for it (every loop looks again within a tick).
        let games = match self.games.try_lock() {
            Ok(g) => g.clone(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().clone(),
            Err(std::sync::TryLockError::WouldBlock) => vec![],
        };
        for g in games {
            g.wake();
        }
    }
}

/// Where the game API's requests land: our terminals, their settings and output loops.
/// Cheap to clone; the loops end when the last clone goes (their players stop and clear).
#[derive(Clone)]
pub struct GameHub {
    pub(crate) shared: Arc<Shared>,
    _alive: Arc<DropGuard>,
}

impl std::fmt::Debug for GameHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameHub")
            .field("games", &self.shared.games().len())
            .field("output", &self.output_on())
            .finish()
    }
}

/// One game as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameStatus {
    /// The terminal's id, the `clientId` of the connect code.
    pub id: Uuid,
    /// The paired App.
    pub app: Option<Uuid>,
    /// Base and random range.
    pub strength: StrengthConfig,
    /// The fire's boost and milliseconds left, while one runs.
    pub fire: Option<(u8, u64)>,
    /// The selected pulses.
    pub pulse_ids: Vec<String>,
}

impl GameHub {
    /// A hub with no games yet and output off. `presets`: the user's presets, offered
    /// after the built-ins.
    pub fn new(safety: SafetyHub, presets: Option<PresetStore>) -> GameHub {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let cancel = CancellationToken::new();
        let shared = Arc::new(Shared {
            safety,
            presets,
            output: AtomicBool::new(false),
            ever_stopped: AtomicBool::new(false),
            games: Mutex::new(vec![]),
            events,
            cancel: cancel.clone(),
            stop_hook: Mutex::new(None),
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        // Runs inside the emergency stop: only flags, an event and wake-ups, no locks
        // that a sender could hold.
        let hook = shared.safety.register_stop(move || {
            if let Some(s) = weak.upgrade() {
                s.set_output(false, OutputChange::Stopped);
            }
        });
        *shared.stop_hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
        GameHub {
            shared,
            _alive: Arc::new(cancel.drop_guard()),
        }
    }

    /// Makes `terminal` a game (its id is the game's `clientId`) and starts its loop.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn add_terminal(&self, terminal: GuardedTerminal) {
        let first = pulses::builtin()
            .first()
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let seed = terminal.id().as_u64_pair().0 ^ now_nanos();
        let game = Arc::new(Game {
            terminal,
            st: Mutex::new(GameState::new(&first, seed)),
            wake: Notify::new(),
        });
        self.shared
            .games
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(game.clone());
        tokio::spawn(run(self.shared.clone(), game, self.shared.cancel.clone()));
    }

    /// Switches game output on or off for every game.
    ///
    /// # Errors
    /// [`SafetyError::Latched`] / [`SafetyError::LeaseLapsed`] when switching on while
    /// the hub blocks (switching off always works).
    pub fn set_output(&self, on: bool) -> Result<(), SafetyError> {
        if on {
            if let Some(e) = self.shared.blocked() {
                return Err(e);
            }
        }
        self.shared.set_output(on, OutputChange::User);
        Ok(())
    }

    /// Whether game output is on.
    pub fn output_on(&self) -> bool {
        self.shared.output.load(Ordering::SeqCst)
    }

    /// Every API write, refusal and output change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<GameHubEvent> {
        self.shared.events.subscribe()
    }

    /// Every game, in the order they were added.
    pub fn status(&self) -> Vec<GameStatus> {
        let now = Instant::now();
        self.shared
            .games()
            .iter()
            .map(|g| {
                let mut st = g.lock();
                let fire = st
                    .live_fire(now)
                    .map(|f| (f.boost, f.end.duration_since(now).as_millis() as u64));
                GameStatus {
                    id: g.id(),
                    app: g.terminal.app(),
                    strength: st.strength,
                    fire,
                    pulse_ids: st.config.pulse_ids.clone(),
                }
            })
            .collect()
    }

    /// Replaces one game's settings (the window's "game mode" panel). `false` when no
    /// game has that id or the config selects no pulse.
    pub fn set_game_config(&self, id: Uuid, config: GameConfig) -> bool {
        if config.pulse_ids.is_empty() {
            return false;
        }
        let Some(g) = self.shared.games().into_iter().find(|g| g.id() == id) else {
            return false;
        };
        {
            let mut st = g.lock();
            let ids = config.pulse_ids.clone();
            st.config = config;
            st.select_pulses(ids, Instant::now());
        }
        g.wake();
        true
    }
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A player on one channel and the stop-hook registration that goes with it.
struct Playing {
    player: Player,
    _hook: StopRegistration,
}

/// What one loop has sent to the App it is driving.
#[derive(Default)]
struct Sent {
    app: Option<Uuid>,
    level: [Option<u8>; 2],
    pulse: Option<String>,
    players: [Option<Playing>; 2],
}

async fn run(shared: Arc<Shared>, game: Arc<Game>, cancel: CancellationToken) {
    let mut sent = Sent::default();
    loop {
        let woken = game.wake.notified();
        tick(&shared, &game, &mut sent);
        tokio::select! {
            () = cancel.cancelled() => break,
            () = woken => {}
            () = tokio::time::sleep(TICK) => {}
        }
    }
    // Dropping the players stops them and clears the App's queues.
    drop(sent);
}

fn tick(shared: &Shared, game: &Game, sent: &mut Sent) {
    let now = Instant::now();
    let blocked = shared.blocked().is_some();
    if blocked && shared.output.load(Ordering::SeqCst) {
        shared.set_output(false, OutputChange::Stopped);
    }
    let app = game.terminal.app();
    let active = shared.output.load(Ordering::SeqCst) && !blocked && app.is_some();
    if !active || app != sent.app {
        // Off, stopped or another App: nothing of ours plays on. The gate already sent a
        // new App 0 and cleared its queues; the players' clears cover the rest.
        *sent = Sent {
            app,
            ..Sent::default()
        };
        if !active {
            return;
        }
    }
    let t = &game.terminal;
    let report = t.last_report();
    let soft_a = report.map_or(DEFAULT_SOFT_LIMIT, |r| r.limit_a);
    let soft_b = report.map_or(DEFAULT_SOFT_LIMIT, |r| r.limit_b);
    let (a, b, pulse) = {
        let mut st = game.lock();
        let a = st.target_a(soft_a, now);
        (a, st.target_b(a, soft_b), st.pulse_now(now))
    };
    for (ch, want) in [(Channel::A, Some(a)), (Channel::B, b)] {
        let i = usize::from(ch.number() - 1);
        // B switched off: back to 0 rather than left where the game put it.
        let want = match (want, sent.level[i]) {
            (None, Some(_)) => Some(0),
            (w, _) => w,
        };
        let Some(v) = want else { continue };
        if sent.level[i] == Some(v) {
            continue;
        }
        match t.set_strength(ch, v) {
            // A stop raced us: the next tick sees it and switches output off.
            Err(SafetyError::Latched | SafetyError::LeaseLapsed) => return,
            Err(e) => log::debug!("game {}: channel {ch} to {v}: {e}", game.id()),
            Ok(_) => {}
        }
        sent.level[i] = (b.is_some() || ch == Channel::A).then_some(v);
    }
    // Pulses: A always, B while it is on; a new pulse, a new App or a failed player
    // starts the pass again.
    let failed = sent.players.iter().flatten().any(|p| {
        matches!(
            p.player.progress().state,
            PlayState::Failed(_) | PlayState::Stopped
        )
    });
    let want_b = b.is_some();
    if !want_b {
        sent.players[1] = None;
    }
    let missing = sent.players[0].is_none() || (want_b && sent.players[1].is_none());
    if sent.pulse.as_deref() == Some(pulse.as_str()) && !failed && !missing {
        return;
    }
    let list = shared.catalogue();
    let Some(p) = pulses::resolve(&list, &pulse) else {
        return;
    };
    for (i, ch) in Channel::BOTH.into_iter().enumerate() {
        if ch == Channel::B && !want_b {
            continue;
        }
        if sent.players[i].is_none() {
            match Player::spawn(t.clone(), ch, PlayerConfig::default()) {
                Ok(player) => {
                    let hook = shared.safety.register_stop(player.stop_hook());
                    sent.players[i] = Some(Playing {
                        player,
                        _hook: hook,
                    });
                }
                Err(e) => {
                    log::warn!("game {}: no player for channel {ch}: {e}", game.id());
                    continue;
                }
            }
        }
        if let Some(playing) = &sent.players[i] {
            if let Err(e) = playing.player.play(p.frames.clone(), Repeat::Loop) {
                log::debug!("game {}: playing {} on {ch}: {e}", game.id(), p.id);
            }
        }
    }
    sent.pulse = Some(pulse);
}
