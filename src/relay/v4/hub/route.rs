//! Routing `message` frames (spec §4.2): App → controller with `clientId` added,
//! controller → App through the guard with it removed, the controller errors, and the
//! rate limit on error events. Part of the hub: it works on its locked state.

use super::super::event::{V4Event, V4Id, V4Role};
use super::super::frames;
use super::super::guard::V4Verdict;
use super::super::local::V4Incoming;
use super::{deliver_text, deliver_to_controller, outcome, State, V4SendError};
use crate::relay::{logline, queue};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::time::Duration;
use tokio::time::Instant;

/// How many error frames of one connection become events one by one per window; the rest
/// are counted and reported in one [`V4Event::ErrorsNotShown`] (at the next window or when
/// it leaves), so a client sending bad frames in a loop cannot flood the log. Every error
/// frame is still sent to the client.
const ERRORS_REPORTED: u32 = 5;
/// The window of [`ERRORS_REPORTED`].
const ERROR_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct ErrorLog {
    window_start: Option<Instant>,
    reported: u32,
    pub(super) hidden: u64,
}

impl ErrorLog {
    /// Counts one error: whether to report it, and the previous window's hidden count if
    /// a new window began.
    pub(super) fn note(&mut self, now: Instant) -> (bool, u64) {
        if self
            .window_start
            .is_none_or(|s| now.duration_since(s) >= ERROR_WINDOW)
        {
            self.window_start = Some(now);
            self.reported = 1;
            return (true, std::mem::take(&mut self.hidden));
        }
        if self.reported < ERRORS_REPORTED {
            self.reported += 1;
            return (true, 0);
        }
        self.hidden += 1;
        (false, 0)
    }
}

/// A `message` from an App: to its controller with the App's id added (any `clientId`
/// it wrote is ignored); the guard sees it and may answer the App at once.
pub(super) fn from_app(
    st: &mut State,
    app: V4Id,
    data: &str,
    evs: &mut Vec<V4Event>,
) -> Option<queue::Space> {
    let controller = st.conns.get(&app)?.controller?;
    let answers = st
        .guard
        .clone()
        .map(|g| g.app_sent(app, controller, data))
        .unwrap_or_default();
    let d = deliver_to_controller(
        st,
        controller,
        V4Incoming::Message {
            app,
            data: data.to_owned(),
        },
        || frames::to_controller(app, data),
    );
    relayed(st, app, controller, data, evs);
    let space = outcome(d, st, controller, evs);
    for answer in answers {
        let d = deliver_text(st, app, frames::to_app(&answer));
        let _ = outcome(d, st, app, evs);
    }
    space
}

/// A `message` from a socket controller: `clientId` must be a string naming one of its
/// Apps (`bad_request` / `client_not_found` otherwise; the connection stays open).
pub(super) fn from_socket_controller(
    st: &mut State,
    controller: V4Id,
    client_id: Option<&RawValue>,
    data: &str,
    evs: &mut Vec<V4Event>,
) -> Option<queue::Space> {
    let raw = client_id.filter(|r| r.get().starts_with('"'));
    let Some(raw) = raw else {
        let d = deliver_text(
            st,
            controller,
            frames::error(frames::BAD_REQUEST, Some(frames::CLIENT_ID_REQUIRED), None),
        );
        note_error(st, controller, frames::BAD_REQUEST, evs);
        return outcome(d, st, controller, evs);
    };
    let app = serde_json::from_str::<Cow<'_, str>>(raw.get())
        .ok()
        .and_then(|s| V4Id::parse(&s));
    let refusal = match app {
        Some(app) => match to_app(st, controller, app, data, evs) {
            Ok(space) => return space,
            Err(e) => e,
        },
        None => V4SendError::ClientNotFound,
    };
    let frame = match refusal {
        V4SendError::Refused(Some(answer)) => {
            // In the App's name, as the guard asked.
            let app = app.unwrap_or(V4Id(0));
            frames::to_controller(app, &answer)
        }
        V4SendError::Refused(None) => {
            note_error(st, controller, frames::REFUSED, evs);
            frames::error(frames::REFUSED, None, Some(raw.get()))
        }
        _ => {
            note_error(st, controller, frames::CLIENT_NOT_FOUND, evs);
            frames::error(frames::CLIENT_NOT_FOUND, None, Some(raw.get()))
        }
    };
    let d = deliver_text(st, controller, frame);
    outcome(d, st, controller, evs)
}

/// A payload from `controller` to `app`, through the guard; the id is not written
/// towards the App.
pub(super) fn to_app(
    st: &mut State,
    controller: V4Id,
    app: V4Id,
    data: &str,
    evs: &mut Vec<V4Event>,
) -> Result<Option<queue::Space>, V4SendError> {
    let ours = st
        .conns
        .get(&app)
        .is_some_and(|a| a.role == V4Role::App && a.controller == Some(controller));
    if !ours {
        return Err(V4SendError::ClientNotFound);
    }
    let verdict = st.guard.clone().map_or(V4Verdict::Pass, |g| {
        g.controller_sent(app, controller, data)
    });
    let frame = match verdict {
        V4Verdict::Pass => {
            relayed(st, controller, app, data, evs);
            frames::to_app(data)
        }
        V4Verdict::Replace(other) => {
            relayed(st, controller, app, &other, evs);
            frames::to_app(&other)
        }
        V4Verdict::Refuse(answer) => return Err(V4SendError::Refused(answer)),
    };
    let d = deliver_text(st, app, frame);
    Ok(outcome(d, st, app, evs))
}

/// An error frame went to `id`: an event, unless it has had its share this window.
fn note_error(st: &mut State, id: V4Id, code: &'static str, evs: &mut Vec<V4Event>) {
    let Some(c) = st.conns.get_mut(&id) else {
        return;
    };
    let (report, earlier) = c.errors.note(Instant::now());
    if earlier > 0 {
        evs.push(V4Event::ErrorsNotShown { id, count: earlier });
    }
    if report {
        evs.push(V4Event::Error { id, code });
    }
}

/// Records a routed payload for the protocol inspector, when asked for.
fn relayed(st: &State, from: V4Id, to: V4Id, data: &str, evs: &mut Vec<V4Event>) {
    if st.relayed {
        evs.push(V4Event::Relayed {
            from,
            to,
            data: logline::escape(data, logline::MAX_TEXT_CHARS).into(),
        });
    }
}
