//! TLS (feature `rustls`) against a real PostgreSQL with `ssl = on` and certificates made
//! by the test.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use timescaledb_multinode::testing::LocalServer;
use timescaledb_multinode::{ChannelBinding, Error, NodeConfig, SecretString, TlsMode};

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

/// A TLS server on which `trust_user` logs in without a password, `md5_user` with an MD5
/// exchange and `pw_user` with a cleartext password; everyone else (`tsdbadmin`) uses
/// SCRAM-SHA-256, over TLS or not. Connections are logged.
async fn tls_server_with_other_logins(pki: &Pki) -> LocalServer {
    let server = LocalServer::builder("an")
        .timescaledb(false)
        .file("server.crt", pki.cert_pem.clone())
        .file("server.key", pki.key_pem.clone())
        .file(
            "pg_hba.conf",
            "local all all trust\n\
             hostssl all trust_user 127.0.0.1/32 trust\n\
             hostssl all md5_user 127.0.0.1/32 md5\n\
             hostssl all pw_user 127.0.0.1/32 password\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .setting("ssl", "on")
        .setting("ssl_cert_file", "server.crt")
        .setting("ssl_key_file", "server.key")
        .setting("log_connections", "on")
        .start()
        .await
        .expect("start a server with ssl = on");
    let admin = server.config().connect().await.unwrap();
    admin
        .batch_execute(
            "CREATE ROLE trust_user LOGIN; \
             SET password_encryption = 'md5'; \
             CREATE ROLE md5_user LOGIN PASSWORD 'md5-user-pw'; \
             CREATE ROLE pw_user LOGIN PASSWORD 'pw-user-pw';",
        )
        .await
        .unwrap();
    server
}

/// `user` with `password` on `server`, over TLS mode `require`.
fn login(server: &LocalServer, user: &str, password: &str) -> NodeConfig {
    NodeConfig::new("127.0.0.1", user, SecretString::from(password.to_owned()))
        .name("an")
        .port(server.port())
        .database("tsdb")
        .tls(TlsMode::Require)
}

#[tokio::test]
async fn channel_binding_require_logs_in_with_scram_over_tls() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let server = tls_server_with_other_logins(&pki).await;
    // tokio-postgres completes a login under `require` only with SCRAM-SHA-256-PLUS: any
    // other exchange is broken off (see the test below), so getting in proves the binding.
    let required = server
        .config()
        .tls(TlsMode::Require)
        .channel_binding(ChannelBinding::Require);
    assert!(uses_tls(&required).await.unwrap());
    let verified = server
        .config()
        .tls(TlsMode::VerifyFull)
        .root_certificate_pem(pki.ca_pem.clone())
        .channel_binding(ChannelBinding::Require);
    assert!(uses_tls(&verified).await.unwrap());

    // A wrong password is still a wrong password.
    let wrong = required
        .clone()
        .password(SecretString::from("not-the-password"));
    let err = wrong.connect().await.unwrap_err();
    assert!(err.is_authentication_failure(), "{err:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn channel_binding_require_refuses_logins_that_cannot_bind() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let server = tls_server_with_other_logins(&pki).await;
    for (user, password) in [
        ("trust_user", "unused"),
        ("md5_user", "md5-user-pw"),
        ("pw_user", "pw-user-pw"),
    ] {
        // Each login works as the server configures it ...
        assert!(
            uses_tls(&login(&server, user, password)).await.unwrap(),
            "{user}"
        );
        // ... and is refused when channel binding is required.
        let required = login(&server, user, password).channel_binding(ChannelBinding::Require);
        let err = required.connect().await.unwrap_err();
        assert!(
            matches!(&err, Error::ChannelBindingNotUsed { user: u, .. } if u == user),
            "{user}: {err:?}"
        );
        assert_eq!(err.node(), Some("an"));
        assert!(!err.is_authentication_failure(), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("channel binding required"), "{text}");
        assert!(!text.contains(password), "{text}");
        assert!(!format!("{err:?}").contains(password), "{err:?}");
    }
    // The client broke off instead of answering the password requests: the server
    // authenticated each of those users once, in the login that did not require binding.
    let log = server.log();
    for user in ["md5_user", "pw_user"] {
        let authenticated = format!("connection authenticated: identity=\"{user}\"");
        assert_eq!(log.matches(&authenticated).count(), 1, "{user}:\n{log}");
        assert!(!log.contains("password authentication failed"), "{log}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn channel_binding_require_without_tls_is_refused_before_connecting() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let server = tls_server_with_other_logins(&pki).await;
    let connections = |log: &str| log.matches("connection received").count();
    let before = connections(&server.log());
    for tls in [TlsMode::Disable, TlsMode::Prefer] {
        let config = server
            .config()
            .tls(tls)
            .channel_binding(ChannelBinding::Require);
        let err = config.validate().unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.node(), Some("an"));
        assert!(
            err.to_string().contains(&format!(
                "channel binding require needs TLS, and TLS mode {} may connect without it",
                tls.as_str()
            )),
            "{err}"
        );
        let err = config.connect().await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    }
    assert_eq!(
        connections(&server.log()),
        before,
        "no connection was attempted"
    );
    server.shutdown().await.unwrap();
}
