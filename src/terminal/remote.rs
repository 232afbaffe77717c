//! The same [`Terminal`] over a WebSocket client to another relay: the vendor's public one,
//! or `dglab-relay` on another machine.
//!
//! Both `ws://` and, with the `tls` feature (on by default), `wss://` URLs work. TLS is
//! rustls with the ring provider; [`connect`] trusts Mozilla's root CAs, compiled in (the
//! `webpki-roots` crate), so it needs neither OpenSSL nor the system's trust store and works
//! the same on every machine. A relay whose certificate comes from a private CA is reached
//! with [`connect_with`] and [`TlsRoots::Custom`].

use super::{channel, EventSink, Link, Terminal, TerminalEvents};
use crate::protocol::codec::{self, Inbound};
use crate::protocol::{MessageType, TARGET_ID_MESSAGE};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The rustls version [`TlsRoots::Custom`] takes its root store from, so that callers need
/// not match it themselves.
#[cfg(feature = "tls")]
pub use rustls;

/// Frames a remote terminal may have queued before commands report `Busy`.
const SEND_QUEUE: usize = 256;

/// How long the relay has to hand out our id.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// Why [`connect`] could not join the relay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The WebSocket connection or handshake failed (refused, bad URL, not a WebSocket
    /// server, `wss://` without the `tls` feature, …).
    #[error("websocket: {0}")]
    WebSocket(#[from] Box<tungstenite::Error>),
    /// A `wss://` relay's certificate was not accepted: issued by a CA not trusted here
    /// (self-signed, or a private CA not passed to [`connect_with`]), expired, or for another
    /// host name.
    #[cfg(feature = "tls")]
    #[error("the relay's TLS certificate was rejected: {0}")]
    Certificate(rustls::CertificateError),
    /// The TLS handshake with a `wss://` relay failed for another reason (no common protocol
    /// version or cipher suite, an alert from the relay, a configuration error).
    #[cfg(feature = "tls")]
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    /// The relay did not hand out an id in time, or closed first.
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

impl ConnectError {
    /// Sorts a tungstenite error: a TLS failure gets its own variant, the rest stay
    /// WebSocket errors.
    pub(crate) fn from_ws(e: tungstenite::Error) -> Self {
        #[cfg(feature = "tls")]
        {
            // tokio-tungstenite hands the TLS handshake's failure over as the io::Error that
            // tokio-rustls wraps the rustls::Error in.
            let tls = match &e {
                tungstenite::Error::Io(io) => io
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .cloned(),
                tungstenite::Error::Tls(tungstenite::error::TlsError::Rustls(tls)) => {
                    Some((**tls).clone())
                }
                _ => None,
            };
            match tls {
                Some(rustls::Error::InvalidCertificate(cert)) => return Self::Certificate(cert),
                Some(other) => return Self::Tls(other),
                None => {}
            }
        }
        Self::WebSocket(Box::new(e))
    }
}

/// Which certificate authorities a `wss://` relay's certificate must chain to.
#[cfg(feature = "tls")]
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum TlsRoots {
    /// Mozilla's root CAs as compiled in (the `webpki-roots` crate): public relays, such as
    /// the vendor's, behind a certificate from a public CA. What [`connect`] uses.
    #[default]
    Webpki,
    /// Only these CAs: a relay with a certificate from a private or self-signed CA.
    Custom(rustls::RootCertStore),
}

#[cfg(feature = "tls")]
impl TlsRoots {
    /// The client configuration for these roots. Webpki's is built once and shared, which
    /// also shares rustls's session cache between connections.
    pub(crate) fn client_config(
        self,
    ) -> Result<std::sync::Arc<rustls::ClientConfig>, rustls::Error> {
        use std::sync::{Arc, OnceLock};
        fn build(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
            // The provider is named here rather than taken from the process default, which
            // would panic if another crate in the program enabled a second provider.
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            Ok(Arc::new(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()?
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            ))
        }
        static WEBPKI: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        match self {
            TlsRoots::Webpki => {
                if let Some(config) = WEBPKI.get() {
                    return Ok(config.clone());
                }
                let config = build(rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                })?;
                Ok(WEBPKI.get_or_init(|| config).clone())
            }
            TlsRoots::Custom(roots) => build(roots),
        }
    }
}

/// Connects to the relay at `url` (`ws://host:port`, or `wss://host[:port][/path]` with the
/// `tls` feature, trusting [`TlsRoots::Webpki`]), waits for the id it hands out and returns
/// the terminal. Pair it by showing `terminal.pairing_url(url)` to the App.
///
/// # Errors
/// Connection and handshake failures (a rejected certificate is
/// [`ConnectError::Certificate`]), or no greeting within 10 s.
pub async fn connect(url: &str) -> Result<(Terminal, TerminalEvents), ConnectError> {
    #[cfg(feature = "tls")]
    {
        connect_with(url, TlsRoots::Webpki).await
    }
    #[cfg(not(feature = "tls"))]
    {
        // Nagle off: commands are small and latency is what the user feels.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .map_err(ConnectError::from_ws)?;
        join(ws).await
    }
}

/// [`connect`], trusting `roots` for a `wss://` relay (they are not used for `ws://`).
///
/// ```no_run
/// # async fn f(ca_der: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
/// use dglab_core::terminal::remote::{self, rustls, TlsRoots};
/// let mut roots = rustls::RootCertStore::empty();
/// roots.add(ca_der.into())?;
/// let (terminal, events) =
///     remote::connect_with("wss://relay.example.org", TlsRoots::Custom(roots)).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`connect`]; [`ConnectError::Tls`] if `roots` make no usable configuration.
#[cfg(feature = "tls")]
pub async fn connect_with(
    url: &str,
    roots: TlsRoots,
) -> Result<(Terminal, TerminalEvents), ConnectError> {
    let config = roots.client_config().map_err(ConnectError::Tls)?;
    let connector = tokio_tungstenite::Connector::Rustls(config);
    // Nagle off: commands are small and latency is what the user feels.
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, true, Some(connector))
            .await
            .map_err(ConnectError::from_ws)?;
    join(ws).await
}

/// Waits for the relay's greeting on a fresh connection and starts the terminal's task.
async fn join(
    mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Result<(Terminal, TerminalEvents), ConnectError> {
    let id = tokio::time::timeout(GREETING_TIMEOUT, async {
        while let Some(frame) = ws.next().await {
            let frame = frame.map_err(ConnectError::from_ws)?;
            let Message::Text(text) = frame else { continue };
            if let Ok(Inbound::Envelope(env)) = codec::decode(&text) {
                if env.kind == MessageType::Bind && env.message == TARGET_ID_MESSAGE {
                    if let Ok(id) = Uuid::parse_str(&env.client_id) {
                        return Ok(id);
                    }
                }
            }
        }
        Err(ConnectError::Timeout(
            "relay closed before handing out an id",
        ))
    })
    .await
    .map_err(|_| ConnectError::Timeout("relay greeting"))??;
    let (sink, state, events) = channel();
    let (tx, rx) = mpsc::channel(SEND_QUEUE);
    let stop = CancellationToken::new();
    tokio::spawn(run(ws, rx, sink, stop.clone()));
    Ok((Terminal::new(id, Link::Remote { tx, stop }, state), events))
}

async fn run<S>(
    mut ws: S,
    mut rx: mpsc::Receiver<Message>,
    sink: EventSink,
    stop: CancellationToken,
) where
    S: futures_util::Stream<
            Item = std::result::Result<Message, tokio_tungstenite::tungstenite::Error>,
        > + futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = ws.close().await;
                break;
            }
            out = rx.recv() => {
                let Some(m) = out else { break };
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => match codec::decode(&text) {
                    Ok(Inbound::Envelope(env)) => {
                        if !sink.push(env) {
                            // Nobody listens: keep the link for commands anyway.
                        }
                    }
                    _ => log::debug!("remote terminal: ignoring undecodable frame"),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    sink.closed();
}
