//! How to reach one node: host, port, database, user, password, TLS and timeouts.
//!
//! [`NodeConfig`] holds the password as a [`SecretString`]; its `Debug` output shows
//! `[REDACTED]` in its place, and it has no `Display` and no URL form, so it cannot end up in
//! a log by accident. The password is exposed once, when the driver's
//! [`tokio_postgres::Config`] is built (whose own `Debug` redacts it too). A `NodeConfig` can
//! be read from a connection string, a URL or a driver config (`parse`), never written to one.

mod parse;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::ident::Ident;

/// Whether and how to use TLS to a node, named after libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsMode {
    /// Never use TLS.
    Disable,
    /// Use TLS when the server offers it, without verifying its certificate; fall back to a
    /// plain connection otherwise. Without the `rustls` feature this is a plain connection.
    #[default]
    Prefer,
    /// Always use TLS; the certificate is not verified (encryption only, like libpq's
    /// `require` without a root certificate). Needs the `rustls` feature.
    Require,
    /// Always use TLS, verify the certificate chain against the root certificates given with
    /// [`NodeConfig::root_certificate_pem`], and check that the certificate names the host.
    /// Needs the `rustls` feature.
    VerifyFull,
}

impl TlsMode {
    /// The libpq spelling: `disable`, `prefer`, `require` or `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// Whether SCRAM authentication binds itself to the TLS channel, named after libpq's
/// `channel_binding`.
///
/// With channel binding (`SCRAM-SHA-256-PLUS`, `tls-server-end-point`) the server proves it
/// holds the private key of the certificate the TLS session was made with, so a machine in
/// the middle that terminates TLS with a certificate of its own cannot relay the login,
/// even under [`TlsMode::Require`], which does not verify the certificate. It applies to the
/// connections this crate makes; the access node's own connections to its data nodes follow
/// the access node's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChannelBinding {
    /// Use channel binding when the server offers it over TLS; otherwise log in without it.
    #[default]
    Prefer,
    /// Log in only with channel binding. Needs TLS ([`TlsMode::Require`] or
    /// [`TlsMode::VerifyFull`], feature `rustls`) and a server that authenticates the user
    /// with SCRAM-SHA-256 over it; a server that authenticates otherwise (`trust`, `md5`,
    /// `password`) is refused during the handshake, before a password is sent, with
    /// [`Error::ChannelBindingNotUsed`].
    Require,
}

impl ChannelBinding {
    /// The libpq spelling: `prefer` or `require`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }
}

/// Connection settings for one access node or data node.
///
/// Required data goes in [`NodeConfig::new`]; the rest are chainable setters with the
/// defaults documented on each. Nothing is checked until the config is used, and then
/// before any connection is attempted: an empty host, a port of 0, or a user or database name
/// that is not a valid identifier is an [`Error::InvalidInput`] naming the node.
///
/// ```
/// use std::time::Duration;
/// use timescaledb_multinode::{NodeConfig, SecretString, TlsMode};
///
/// let dn1 = NodeConfig::new("10.0.0.11", "tsdbadmin", SecretString::from("s3cret"))
///     .name("dn1")
///     .port(5432)
///     .database("tsdb")
///     .tls(TlsMode::Prefer)
///     .connect_timeout(Duration::from_secs(5));
/// assert!(!format!("{dn1:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone)]
pub struct NodeConfig {
    name: Option<String>,
    host: String,
    port: u16,
    database: Option<String>,
    user: String,
    password: SecretString,
    tls: TlsMode,
    channel_binding: ChannelBinding,
    root_certificates_pem: Vec<Vec<u8>>,
    connect_timeout: Option<Duration>,
    application_name: Option<String>,
}

impl NodeConfig {
    /// The default PostgreSQL port.
    pub const DEFAULT_PORT: u16 = 5432;

    /// A node at `host` (a name, an IP address, or an absolute path to a Unix-socket
    /// directory), logging in as `user` with `password`.
    pub fn new(host: impl Into<String>, user: impl Into<String>, password: SecretString) -> Self {
        NodeConfig {
            name: None,
            host: host.into(),
            port: Self::DEFAULT_PORT,
            database: None,
            user: user.into(),
            password,
            tls: TlsMode::default(),
            channel_binding: ChannelBinding::default(),
            root_certificates_pem: Vec::new(),
            connect_timeout: None,
            application_name: None,
        }
    }

    /// The same node, database and settings, logging in as `user` with `password`.
    pub(crate) fn as_user(&self, user: &str, password: SecretString) -> NodeConfig {
        let mut config = self.clone();
        config.database = Some(self.get_database().to_owned());
        config.user = user.to_owned();
        config.password = password;
        config
    }

    /// The name this node goes by in errors and traces (for a data node, use its data-node
    /// name). Default: `host:port`.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces the password (after a rotation, say).
    #[must_use]
    pub fn password(mut self, password: SecretString) -> Self {
        self.password = password;
        self
    }

    /// The TCP port (also the socket file's number for a Unix socket). Default: 5432.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The database to connect to. Default: the user name, as libpq does.
    #[must_use]
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// TLS mode. Default: [`TlsMode::Prefer`].
    #[must_use]
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.tls = mode;
        self
    }

    /// SCRAM channel binding. Default: [`ChannelBinding::Prefer`].
    ///
    /// [`ChannelBinding::Require`] needs [`TlsMode::Require`] or [`TlsMode::VerifyFull`]:
    /// any other TLS mode is an [`Error::InvalidInput`] before any connection is attempted.
    ///
    /// ```
    /// use timescaledb_multinode::{ChannelBinding, NodeConfig, SecretString, TlsMode};
    ///
    /// let an = NodeConfig::new("10.0.0.10", "tsdbadmin", SecretString::from("s3cret"))
    ///     .channel_binding(ChannelBinding::Require);
    /// assert!(an.validate().is_err()); // TLS mode prefer may end up without TLS
    /// # #[cfg(feature = "rustls")]
    /// assert!(an.tls(TlsMode::Require).validate().is_ok());
    /// ```
    #[must_use]
    pub fn channel_binding(mut self, channel_binding: ChannelBinding) -> Self {
        self.channel_binding = channel_binding;
        self
    }

    /// Adds a PEM-encoded root certificate (or several, concatenated) to trust under
    /// [`TlsMode::VerifyFull`].
    #[must_use]
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates_pem.push(pem.into());
        self
    }

    /// How long to wait for a connection before giving up. Default: no limit.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The `application_name` reported to the server. Default: `timescaledb-multinode`.
    #[must_use]
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// The name used for this node in errors and traces: the configured name, or `host:port`.
    pub fn node_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("{}:{}", self.host, self.port),
        }
    }

    /// The host.
    pub fn get_host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn get_port(&self) -> u16 {
        self.port
    }

    /// The database (the user name when none was set).
    pub fn get_database(&self) -> &str {
        self.database.as_deref().unwrap_or(&self.user)
    }

    /// The user name.
    pub fn get_user(&self) -> &str {
        &self.user
    }

    /// The password, still wrapped.
    pub fn get_password(&self) -> &SecretString {
        &self.password
    }

    /// Whether `self` and `other` reach one PostgreSQL instance: the same host and port (as
    /// the client reaches them). Roles and their passwords belong to the instance, not to a
    /// database.
    pub(crate) fn same_instance(&self, other: &NodeConfig) -> bool {
        self.host == other.host && self.port == other.port
    }

    /// The TLS mode.
    pub fn get_tls(&self) -> TlsMode {
        self.tls
    }

    /// The channel-binding setting.
    pub fn get_channel_binding(&self) -> ChannelBinding {
        self.channel_binding
    }

    /// The PEM root certificates added with [`NodeConfig::root_certificate_pem`].
    pub fn get_root_certificates_pem(&self) -> &[Vec<u8>] {
        &self.root_certificates_pem
    }

    /// The connect timeout, if any.
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// Checks everything that can be checked without a server.
    pub fn validate(&self) -> Result<()> {
        self.validate_for("validate node config").map(|_| ())
    }

    /// Validates for `op`, returning the user and database as identifiers.
    pub(crate) fn validate_for(&self, op: &'static str) -> Result<(Ident, Ident)> {
        let node = self.node_name();
        let invalid = |reason: &str| Error::invalid(op, Some(&node), reason);
        if self.host.trim().is_empty() {
            return Err(invalid("host is empty"));
        }
        if self.host.contains('\0') {
            return Err(invalid("host contains a NUL byte"));
        }
        if self.port == 0 {
            return Err(invalid("port must not be 0"));
        }
        if self.password.expose_secret().contains('\0') {
            return Err(invalid("password contains a NUL byte"));
        }
        if let Some(app) = &self.application_name {
            if app.contains('\0') {
                return Err(invalid("application name contains a NUL byte"));
            }
        }
        if self.connect_timeout == Some(Duration::ZERO) {
            return Err(invalid("connect timeout must be greater than zero"));
        }
        if self.tls == TlsMode::VerifyFull && self.root_certificates_pem.is_empty() {
            return Err(invalid(
                "TLS mode verify-full needs at least one root certificate (root_certificate_pem)",
            ));
        }
        if matches!(self.tls, TlsMode::Require | TlsMode::VerifyFull) && !cfg!(feature = "rustls") {
            return Err(Error::invalid(
                op,
                Some(&node),
                format!(
                    "TLS mode {} needs the crate feature `rustls`",
                    self.tls.as_str()
                ),
            ));
        }
        if self.channel_binding == ChannelBinding::Require
            && !matches!(self.tls, TlsMode::Require | TlsMode::VerifyFull)
        {
            return Err(Error::invalid(
                op,
                Some(&node),
                format!(
                    "channel binding require needs TLS, and TLS mode {} may connect without it: \
                     use TLS mode require or verify-full",
                    self.tls.as_str()
                ),
            ));
        }
        let user = Ident::for_op(self.user.clone(), "user", op, Some(&node))?;
        let database = Ident::for_op(self.get_database(), "database", op, Some(&node))?;
        Ok((user, database))
    }

    /// The driver's configuration for this node, after [`NodeConfig::validate`].
    ///
    /// TLS is not part of it: the connector is chosen when connecting.
    pub fn to_tokio_postgres(&self) -> Result<tokio_postgres::Config> {
        self.driver_config("build driver config")
    }

    pub(crate) fn driver_config(&self, op: &'static str) -> Result<tokio_postgres::Config> {
        let (user, database) = self.validate_for(op)?;
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .user(user.as_str())
            .dbname(database.as_str())
            .password(self.password.expose_secret().as_bytes())
            .application_name(
                self.application_name
                    .as_deref()
                    .unwrap_or("timescaledb-multinode"),
            )
            .ssl_mode(match self.tls {
                TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
                TlsMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                TlsMode::Require | TlsMode::VerifyFull => tokio_postgres::config::SslMode::Require,
            })
            .channel_binding(match self.channel_binding {
                ChannelBinding::Prefer => tokio_postgres::config::ChannelBinding::Prefer,
                ChannelBinding::Require => tokio_postgres::config::ChannelBinding::Require,
            });
        if let Some(timeout) = self.connect_timeout {
            cfg.connect_timeout(timeout);
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NodeConfig {
        NodeConfig::new(
            "127.0.0.1",
            "tsdbadmin",
            SecretString::from("sentinel-pw-123"),
        )
        .name("dn1")
    }

    #[test]
    fn debug_hides_password() {
        let c = cfg();
        assert!(!format!("{c:?}").contains("sentinel-pw-123"));
        let pg = c.to_tokio_postgres().unwrap();
        assert!(!format!("{pg:?}").contains("sentinel-pw-123"));
    }

    #[test]
    fn database_defaults_to_user() {
        assert_eq!(cfg().get_database(), "tsdbadmin");
        assert_eq!(cfg().database("tsdb").get_database(), "tsdb");
    }

    #[test]
    fn node_name_defaults_to_host_port() {
        let c = NodeConfig::new("h", "u", SecretString::from("p")).port(6000);
        assert_eq!(c.node_name(), "h:6000");
    }

    #[test]
    fn refuses_bad_input_naming_the_node() {
        let cases = [
            (cfg().port(0), "port must not be 0"),
            (
                NodeConfig::new(" ", "u", SecretString::from("p")).name("dn1"),
                "host is empty",
            ),
            (cfg().database("a".repeat(64)), "database"),
            (cfg().database("a\0b"), "NUL"),
            (cfg().connect_timeout(Duration::ZERO), "timeout"),
            (cfg().tls(TlsMode::VerifyFull), "root certificate"),
            (
                cfg().channel_binding(ChannelBinding::Require),
                "channel binding require needs TLS, and TLS mode prefer",
            ),
            (
                cfg()
                    .channel_binding(ChannelBinding::Require)
                    .tls(TlsMode::Disable),
                "TLS mode disable may connect without it",
            ),
        ];
        for (config, needle) in cases {
            let err = config.validate().unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
            assert_eq!(err.node(), Some("dn1"));
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
            assert!(!err.to_string().contains("sentinel-pw-123"));
        }
    }

    #[test]
    fn channel_binding_reaches_the_driver_config() {
        let plain = cfg().to_tokio_postgres().unwrap();
        assert_eq!(
            plain.get_channel_binding(),
            tokio_postgres::config::ChannelBinding::Prefer
        );
        if cfg!(feature = "rustls") {
            for tls in [TlsMode::Require, TlsMode::VerifyFull] {
                let bound = cfg()
                    .tls(tls)
                    .root_certificate_pem("checked when connecting")
                    .channel_binding(ChannelBinding::Require);
                assert_eq!(bound.get_channel_binding(), ChannelBinding::Require);
                assert_eq!(
                    bound.to_tokio_postgres().unwrap().get_channel_binding(),
                    tokio_postgres::config::ChannelBinding::Require
                );
            }
        } else {
            // Without TLS support no TLS mode can carry channel binding.
            let err = cfg()
                .tls(TlsMode::Require)
                .channel_binding(ChannelBinding::Require)
                .validate()
                .unwrap_err();
            assert!(err.to_string().contains("rustls"), "{err}");
        }
    }

    #[test]
    fn user_must_be_an_identifier() {
        let err = NodeConfig::new("h", "", SecretString::from("p"))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("user: identifier is empty"));
    }
}
