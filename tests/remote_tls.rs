//! The remote terminal over `wss://`: a relay behind TLS with a certificate from a CA made
//! here, on 127.0.0.1 only. The simulated App talks to the relay directly over `ws://`.

mod common;

use common::{start_relay, Client};
use dglab_core::protocol::command::StrengthReport;
use dglab_core::relay::RelayHandle;
use dglab_core::terminal::remote::{self, rustls, ConnectError, TlsRoots};
use dglab_core::{Channel, TerminalEvent, TerminalEvents};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// A relay on 127.0.0.1 with a TLS listener in front of it.
struct TlsRelay {
    relay: RelayHandle,
    /// Where the TLS listener is.
    addr: SocketAddr,
    /// The CA that signed the listener's certificate.
    ca: CertificateDer<'static>,
    proxy: tokio::task::JoinHandle<()>,
}

/// Makes a CA and a certificate for `names` signed by it, and serves it on 127.0.0.1:0 in
/// front of a fresh relay: each TLS connection is decrypted and its bytes copied to the
/// relay, as a reverse proxy would.
async fn tls_relay(names: &[&str]) -> TlsRelay {
    let relay = start_relay().await;

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "DG-LAB Hub test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &*ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = relay.local_addr();
    let proxy = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate ends here, as it should.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut relay) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut relay).await;
            });
        }
    });
    TlsRelay {
        relay,
        addr,
        ca: ca.der().clone(),
        proxy,
    }
}

impl TlsRelay {
    /// Trusts only this relay's CA.
    fn roots(&self) -> TlsRoots {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        TlsRoots::Custom(roots)
    }

    async fn shutdown(self) {
        self.proxy.abort();
        self.relay.shutdown().await;
    }
}

async fn next(ev: &mut TerminalEvents) -> TerminalEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
            .await
            .expect("no terminal event")
            .expect("event stream ended");
        if e != TerminalEvent::Heartbeat {
            return e;
        }
    }
}

#[tokio::test]
async fn wss_terminal_pairs_and_commands_reach_the_app() {
    let server = tls_relay(&["localhost", "127.0.0.1"]).await;
    let url = format!("wss://localhost:{}", server.addr.port());
    let (term, mut ev) = remote::connect_with(&url, server.roots())
        .await
        .expect("wss connect with the test CA");

    // The QR code points the App at the wss address it was given.
    assert!(term
        .pairing_url(&url)
        .ends_with(&format!("#{url}/{}", term.id())));

    // The App scans: connects with the terminal's id, binds.
    let t = term.id().to_string();
    let mut app = Client::connect(&server.relay, &t).await;
    app.send(json!({"type":"bind","clientId":t,"targetId":app.id,"message":"DGLAB"}))
        .await;
    assert_eq!(app.recv().await["message"], "200");
    let a = app.id.clone();
    let app_id = uuid::Uuid::parse_str(&a).unwrap();
    assert_eq!(next(&mut ev).await, TerminalEvent::Paired { app: app_id });

    // Terminal to App, through TLS.
    term.set_strength(Channel::A, 7).unwrap();
    assert_eq!(
        app.recv().await,
        json!({"type":"msg","clientId":t,"targetId":a,"message":"strength-1+2+7"})
    );
    // App to terminal, through TLS.
    app.msg(&t, &a, "strength-7+0+100+80").await;
    assert_eq!(
        next(&mut ev).await,
        TerminalEvent::Strength(StrengthReport {
            a: 7,
            b: 0,
            limit_a: 100,
            limit_b: 80,
        })
    );

    // Closing the terminal reaches the App as break 209.
    term.close();
    let brk = app.recv().await;
    assert_eq!(
        (brk["type"].as_str(), brk["message"].as_str()),
        (Some("break"), Some("209"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn wss_by_ip_address_checks_the_ip_in_the_certificate() {
    let server = tls_relay(&["127.0.0.1"]).await;
    let url = format!("wss://127.0.0.1:{}", server.addr.port());
    let (term, _ev) = remote::connect_with(&url, server.roots())
        .await
        .expect("wss connect by IP with the test CA");
    term.close();
    server.shutdown().await;
}

#[tokio::test]
async fn untrusted_certificate_is_a_certificate_error() {
    let server = tls_relay(&["localhost", "127.0.0.1"]).await;
    // `connect` trusts only the public roots: the test CA is not one of them.
    let err = remote::connect(&format!("wss://localhost:{}", server.addr.port()))
        .await
        .map(|_| ())
        .expect_err("a certificate from an unknown CA must be refused");
    assert!(
        matches!(
            err,
            ConnectError::Certificate(rustls::CertificateError::UnknownIssuer)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("certificate"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn certificate_for_another_name_is_a_certificate_error() {
    // Trusted CA, but the certificate names only localhost: 127.0.0.1 does not match.
    let server = tls_relay(&["localhost"]).await;
    let err = remote::connect_with(
        &format!("wss://127.0.0.1:{}", server.addr.port()),
        server.roots(),
    )
    .await
    .map(|_| ())
    .expect_err("a certificate for another name must be refused");
    assert!(
        matches!(
            err,
            ConnectError::Certificate(rustls::CertificateError::NotValidForNameContext { .. })
        ),
        "{err:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn plain_ws_still_works_through_connect_with() {
    let relay = start_relay().await;
    let (term, _ev) = remote::connect_with(
        &format!("ws://{}", relay.local_addr()),
        TlsRoots::Custom(rustls::RootCertStore::empty()),
    )
    .await
    .unwrap();
    term.close();
    relay.shutdown().await;
}
