//! What the game API tells the window and the log: every write it accepted (a
//! safety-relevant event: something outside the program asked the box to do something),
//! every request it refused at the door, and game output switching on or off.

use serde::Serialize;
use std::net::SocketAddr;
use uuid::Uuid;

/// One thing the game API did or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GameHubEvent {
    /// A write was accepted: strength config, pulse selection or fire.
    ApiWrite {
        /// Who asked.
        peer: SocketAddr,
        /// `POST` and the path as sent.
        request: String,
        /// The games it changed (terminal ids); empty when it addressed none.
        games: Vec<Uuid>,
        /// What changed, in words (`strength 5→8, random 5`, `fire +20 for 5000 ms`).
        detail: String,
    },
    /// A request was refused before any game was touched (origin, host, token, or the
    /// emergency stop for a write).
    ApiRefused {
        /// Who asked.
        peer: SocketAddr,
        /// The method and path as sent.
        request: String,
        /// Why, in words.
        why: String,
    },
    /// Game output was switched on or off.
    Output {
        /// On or off now.
        on: bool,
        /// Why.
        why: OutputChange,
    },
}

/// Why game output changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputChange {
    /// The program or the user asked.
    User,
    /// The first game request arrived, with [`crate::gamehub::HttpConfig::start_output_on_request`].
    FirstRequest,
    /// The emergency stop latched or the lease lapsed: output stays off until switched
    /// on again (re-arming alone restores nothing).
    Stopped,
}

impl GameHubEvent {
    /// One log line: writes and output changes at info, refusals as warnings.
    pub fn log_line(&self) -> (log::Level, String) {
        match self {
            GameHubEvent::ApiWrite {
                peer,
                request,
                games,
                detail,
            } => (
                log::Level::Info,
                format!(
                    "game API: {peer} {request}: {detail} ({} game{})",
                    games.len(),
                    if games.len() == 1 { "" } else { "s" }
                ),
            ),
            GameHubEvent::ApiRefused { peer, request, why } => (
                log::Level::Warn,
                format!("game API: refused {peer} {request}: {why}"),
            ),
            GameHubEvent::Output { on, why } => (
                log::Level::Info,
                match (on, why) {
                    (true, OutputChange::FirstRequest) => {
                        "game output on: a game sent its first request".to_owned()
                    }
                    (true, _) => "game output on".to_owned(),
                    (false, OutputChange::User | OutputChange::FirstRequest) => {
                        "game output off".to_owned()
                    }
                    (false, OutputChange::Stopped) => {
                        "game output off: emergency stop (switch it on again after re-arming)"
                            .to_owned()
                    }
                },
            ),
        }
    }
}
