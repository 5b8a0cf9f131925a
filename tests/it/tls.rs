//! TLS (feature `rustls`) against a real PostgreSQL with `ssl = on` and certificates made
//! by the test.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use timescaledb_multinode::testing::LocalServer;
use timescaledb_multinode::{Error, NodeConfig, TlsMode};

use crate::common::plain_server;

struct Pki {
    ca_pem: String,
    other_ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap(), key)
}

/// A CA, a server certificate for `names` signed by it, and an unrelated CA.
fn pki(names: &[&str]) -> Pki {
    let (ca_cert, ca_key) = ca("timescaledb-multinode test CA");
    let (other, _) = ca("some other CA");
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        other_ca_pem: other.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

async fn tls_server(pki: &Pki) -> LocalServer {
    LocalServer::builder("an")
        .timescaledb(false)
        .file("server.crt", pki.cert_pem.clone())
        .file("server.key", pki.key_pem.clone())
        .setting("ssl", "on")
        .setting("ssl_cert_file", "server.crt")
        .setting("ssl_key_file", "server.key")
        .start()
        .await
        .expect("start a server with ssl = on")
}

async fn uses_tls(config: &NodeConfig) -> Result<bool, Error> {
    let client = config.connect().await?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    Ok(row.get(0))
}

#[tokio::test]
async fn each_mode_against_a_tls_server() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let server = tls_server(&pki).await;
    let base = server.config();

    assert!(!uses_tls(&base.clone().tls(TlsMode::Disable)).await.unwrap());
    assert!(uses_tls(&base.clone().tls(TlsMode::Prefer)).await.unwrap());
    assert!(uses_tls(&base.clone().tls(TlsMode::Require)).await.unwrap());
    let verified = base
        .clone()
        .tls(TlsMode::VerifyFull)
        .root_certificate_pem(pki.ca_pem.clone());
    assert!(uses_tls(&verified).await.unwrap());

    let untrusted = base
        .clone()
        .tls(TlsMode::VerifyFull)
        .root_certificate_pem(pki.other_ca_pem.clone());
    let err = uses_tls(&untrusted).await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert_eq!(err.node(), Some("an"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn verify_full_checks_the_host_name() {
    let pki = pki(&["localhost"]);
    let server = tls_server(&pki).await;
    let by_name = NodeConfig::new("localhost", "tsdbadmin", server.password().clone())
        .name("an")
        .port(server.port())
        .database("tsdb")
        .tls(TlsMode::VerifyFull)
        .root_certificate_pem(pki.ca_pem.clone());
    assert!(uses_tls(&by_name).await.unwrap());

    // The certificate does not name 127.0.0.1.
    let by_ip = server
        .config()
        .tls(TlsMode::VerifyFull)
        .root_certificate_pem(pki.ca_pem.clone());
    let err = uses_tls(&by_ip).await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn require_against_a_server_without_tls_fails_and_prefer_falls_back() {
    let server = plain_server("dn1").await;
    let err = uses_tls(&server.config().tls(TlsMode::Require))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert_eq!(err.node(), Some("dn1"));
    assert!(!uses_tls(&server.config().tls(TlsMode::Prefer))
        .await
        .unwrap());
    server.shutdown().await.unwrap();
}

#[test]
fn bad_root_certificate_is_invalid_input() {
    let config = NodeConfig::new("127.0.0.1", "u", "p".into())
        .name("an")
        .tls(TlsMode::VerifyFull)
        .root_certificate_pem("not a certificate");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(config.connect()).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(err.node(), Some("an"));
}
