//! [`NodeConfig`] from what applications already have: a [`tokio_postgres::Config`], a libpq
//! connection string (`host=… user=… password=…`) or a `postgresql://` URL.
//!
//! The text is read by tokio-postgres's own parser (libpq's rules: quoting, backslash escapes,
//! percent-decoding, `[::1]` hosts, `?key=value` parameters), then mapped onto the settings a
//! `NodeConfig` has; anything it cannot honour is refused by name rather than dropped. No
//! error repeats any part of the text: a password with an unquoted space or an unescaped `@`
//! would otherwise come back in the message as an "unknown option" or a host name.

use std::error::Error as _;
use std::str::FromStr;

use secrecy::SecretString;
use tokio_postgres::config::{
    ChannelBinding as PgChannelBinding, Host, LoadBalanceHosts, SslMode, SslNegotiation,
    TargetSessionAttrs,
};

use super::{ChannelBinding, NodeConfig, TlsMode};
use crate::error::{Error, Result};

const PARSE_OP: &str = "parse connection string";
const FROM_DRIVER_OP: &str = "read tokio_postgres::Config";

/// libpq's connection keywords: an unknown option that is one of these is named in the error
/// (it is a setting tokio-postgres or this crate does not take); any other is not, since it
/// may be a fragment of a value.
const LIBPQ_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

impl NodeConfig {
    /// A node from a libpq connection string or a `postgresql://` (or `postgres://`) URL;
    /// the same as `text.parse::<NodeConfig>()`.
    ///
    /// Both forms follow libpq: `key=value` pairs separated by spaces, a value with spaces
    /// in single quotes (`password='a b'`), `\` escaping a quote or a backslash; in a URL,
    /// `postgresql://user:password@host:port/database?key=value`, with `@`, `:`, `/`, `%`
    /// and `?` in the user name or password percent-encoded (`%40`, `%3A`, `%2F`, `%25`,
    /// `%3F`), an IPv6 address in brackets and a Unix-socket directory percent-encoded
    /// (`%2Fvar%2Frun%2Fpostgresql`) or given as `?host=/var/run/postgresql`.
    ///
    /// Read: `host` (one), `port`, `user` (required: there is no default user), `password`
    /// (default: empty), `dbname`, `sslmode` (`disable`, `prefer`, `require`),
    /// `channel_binding` (`prefer`, `require`), `connect_timeout` (seconds) and
    /// `application_name`. The node's name (for errors and traces) is `host:port` until
    /// [`NodeConfig::name`] sets one. For [`TlsMode::VerifyFull`], parse with
    /// `sslmode=require` and add `.tls(TlsMode::VerifyFull).root_certificate_pem(…)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for text that is not a connection string, several hosts or
    /// ports, no host or no user, a password that is not UTF-8, a setting a `NodeConfig`
    /// cannot honour (`options`, `hostaddr`, keepalive and TCP timeout settings,
    /// `target_session_attrs`, `load_balance_hosts`, `sslnegotiation`,
    /// `channel_binding=disable`; libpq keywords tokio-postgres does not read, such as
    /// `sslrootcert`), or a host with an `@` (an unescaped `@` in the password). The error
    /// names the setting and never repeats the text.
    ///
    /// ```
    /// use timescaledb_multinode::{NodeConfig, TlsMode};
    ///
    /// let an: NodeConfig = "postgresql://tsdbadmin:p%40ss@an.example.internal:5433/tsdb?sslmode=disable"
    ///     .parse()?;
    /// assert_eq!(an.get_host(), "an.example.internal");
    /// assert_eq!(an.get_port(), 5433);
    /// assert_eq!(an.get_database(), "tsdb");
    /// assert_eq!(an.get_tls(), TlsMode::Disable);
    /// assert!(!format!("{an:?}").contains("p@ss"));
    ///
    /// let dn1 = NodeConfig::from_connection_string(
    ///     "host=10.0.0.11 user=tsdbadmin password='s3cret with spaces' dbname=tsdb",
    /// )?
    /// .name("dn1");
    /// assert_eq!(dn1.node_name(), "dn1");
    /// # Ok::<(), timescaledb_multinode::Error>(())
    /// ```
    pub fn from_connection_string(text: &str) -> Result<NodeConfig> {
        let is_url = ["postgresql://", "postgres://"]
            .iter()
            .any(|prefix| text.starts_with(prefix));
        if is_url && text.matches('@').count() > 1 {
            // The first `@` ends the credentials: the rest of a password would become the
            // host, the port or the database, and be shown in errors from then on.
            return Err(Error::invalid(
                PARSE_OP,
                None,
                "more than one `@` in the URL: percent-encode an `@` in the user name or \
                 password as %40",
            ));
        }
        let driver = tokio_postgres::Config::from_str(text)
            .map_err(|e| Error::invalid(PARSE_OP, None, describe_parse_error(&e)))?;
        Self::from_driver(&driver, PARSE_OP)
    }

    /// A node from the driver's [`tokio_postgres::Config`] (an application's existing
    /// settings), with the same rules as [`NodeConfig::from_connection_string`]: one host, a
    /// user, and nothing the `NodeConfig` cannot honour. The password is copied into a
    /// [`SecretString`].
    ///
    /// ```
    /// use timescaledb_multinode::{NodeConfig, TlsMode};
    ///
    /// let mut driver = tokio_postgres::Config::new();
    /// driver.host("10.0.0.10").port(5432).user("tsdbadmin").password("s3cret").dbname("tsdb");
    /// let an = NodeConfig::from_tokio_postgres(&driver)?.name("an");
    /// assert_eq!(an.get_tls(), TlsMode::Prefer);
    /// # Ok::<(), timescaledb_multinode::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] as for [`NodeConfig::from_connection_string`].
    pub fn from_tokio_postgres(config: &tokio_postgres::Config) -> Result<NodeConfig> {
        Self::from_driver(config, FROM_DRIVER_OP)
    }

    fn from_driver(pg: &tokio_postgres::Config, op: &'static str) -> Result<NodeConfig> {
        let invalid = |reason: String| Error::invalid(op, None, reason);
        refuse_unsupported(pg).map_err(|setting| {
            invalid(format!(
                "{setting} cannot be honoured by a NodeConfig: leave it out"
            ))
        })?;
        let host = match pg.get_hosts() {
            [] => return Err(invalid("no host given".to_owned())),
            [Host::Tcp(host)] => {
                if host.contains('@') {
                    return Err(invalid(
                        "the host contains `@` (not shown): in a URL, percent-encode an `@` \
                         in the user name or password as %40"
                            .to_owned(),
                    ));
                }
                host.clone()
            }
            [Host::Unix(path)] => path
                .to_str()
                .ok_or_else(|| invalid("the Unix-socket directory is not UTF-8".to_owned()))?
                .to_owned(),
            hosts => {
                return Err(invalid(format!(
                    "{} hosts given: a NodeConfig is one node (make one per host)",
                    hosts.len()
                )))
            }
        };
        let port = match pg.get_ports() {
            [] => NodeConfig::DEFAULT_PORT,
            [port] => *port,
            ports => {
                return Err(invalid(format!(
                    "{} ports given: a NodeConfig is one node",
                    ports.len()
                )))
            }
        };
        let user = pg
            .get_user()
            .filter(|user| !user.is_empty())
            .ok_or_else(|| {
                invalid("no user given (user=… or postgresql://user@host)".to_owned())
            })?;
        let password = match pg.get_password() {
            None => String::new(),
            Some(bytes) => String::from_utf8(bytes.to_vec())
                .map_err(|_| invalid("the password is not valid UTF-8".to_owned()))?,
        };
        let tls = match pg.get_ssl_mode() {
            SslMode::Disable => TlsMode::Disable,
            SslMode::Prefer => TlsMode::Prefer,
            SslMode::Require => TlsMode::Require,
            _ => {
                return Err(invalid(
                    "sslmode: a mode this crate does not know".to_owned(),
                ))
            }
        };
        let channel_binding = match pg.get_channel_binding() {
            PgChannelBinding::Prefer => ChannelBinding::Prefer,
            PgChannelBinding::Require => ChannelBinding::Require,
            _ => {
                return Err(invalid(
                    "channel_binding: only prefer and require are supported".to_owned(),
                ))
            }
        };
        let mut config = NodeConfig::new(host, user, SecretString::from(password))
            .port(port)
            .tls(tls)
            .channel_binding(channel_binding);
        if let Some(database) = pg.get_dbname() {
            config = config.database(database);
        }
        if let Some(timeout) = pg.get_connect_timeout() {
            config = config.connect_timeout(*timeout);
        }
        if let Some(name) = pg.get_application_name() {
            config = config.application_name(name);
        }
        Ok(config)
    }
}

impl FromStr for NodeConfig {
    type Err = Error;

    /// See [`NodeConfig::from_connection_string`].
    fn from_str(text: &str) -> Result<NodeConfig> {
        NodeConfig::from_connection_string(text)
    }
}

impl TryFrom<&tokio_postgres::Config> for NodeConfig {
    type Error = Error;

    /// See [`NodeConfig::from_tokio_postgres`].
    fn try_from(config: &tokio_postgres::Config) -> Result<NodeConfig> {
        NodeConfig::from_tokio_postgres(config)
    }
}

impl TryFrom<tokio_postgres::Config> for NodeConfig {
    type Error = Error;

    /// See [`NodeConfig::from_tokio_postgres`].
    fn try_from(config: tokio_postgres::Config) -> Result<NodeConfig> {
        NodeConfig::from_tokio_postgres(&config)
    }
}

/// The first setting that differs from the driver's default and has no place in a
/// `NodeConfig`, by its libpq name.
fn refuse_unsupported(pg: &tokio_postgres::Config) -> std::result::Result<(), &'static str> {
    let default = tokio_postgres::Config::new();
    let checks: [(&'static str, bool); 9] = [
        ("options", pg.get_options().is_some()),
        ("hostaddr", !pg.get_hostaddrs().is_empty()),
        ("tcp_user_timeout", pg.get_tcp_user_timeout().is_some()),
        (
            "keepalives",
            pg.get_keepalives() != default.get_keepalives(),
        ),
        (
            "keepalives_idle",
            pg.get_keepalives_idle() != default.get_keepalives_idle(),
        ),
        (
            "keepalives_interval / keepalives_retries",
            pg.get_keepalives_interval().is_some() || pg.get_keepalives_retries().is_some(),
        ),
        (
            "target_session_attrs",
            pg.get_target_session_attrs() != TargetSessionAttrs::Any,
        ),
        (
            "load_balance_hosts",
            pg.get_load_balance_hosts() != LoadBalanceHosts::Disable,
        ),
        (
            "sslnegotiation",
            pg.get_ssl_negotiation() != SslNegotiation::Postgres,
        ),
    ];
    match checks.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(name),
        None => Ok(()),
    }
}

/// What is wrong with a connection string, in words that repeat none of it.
///
/// tokio-postgres's messages are matched by their fixed beginnings; the parts they quote
/// from the text are dropped unless they are a known option name.
fn describe_parse_error(e: &tokio_postgres::Error) -> String {
    let cause = e.source().map(ToString::to_string).unwrap_or_default();
    let quoted = |rest: &str| -> Option<String> {
        let name = rest.strip_suffix('`')?;
        LIBPQ_KEYWORDS.contains(&name).then(|| name.to_owned())
    };
    if let Some(rest) = cause.strip_prefix("invalid value for option `") {
        return match quoted(rest) {
            Some(name) if name == "sslmode" => "invalid value for sslmode: use disable, prefer \
                 or require (for verify-full, parse with require and set TlsMode::VerifyFull)"
                .to_owned(),
            Some(name) => format!("invalid value for option `{name}`"),
            None => "invalid value for an option".to_owned(),
        };
    }
    if let Some(rest) = cause.strip_prefix("unknown option `") {
        return match quoted(rest) {
            Some(name) => format!("option `{name}` is not supported"),
            None => "an unknown option (its name is not shown: it may be part of a value; \
                     put a value with spaces in single quotes)"
                .to_owned(),
        };
    }
    if let Some(rest) = cause.strip_prefix("unexpected character at byte ") {
        let position: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return format!(
            "unexpected character at byte {position} (expected `key=value` pairs separated by \
             spaces)"
        );
    }
    match cause.as_str() {
        "unexpected EOF" => "it ends where a value was expected (a key without `=` and a \
             value, or an empty value)"
            .to_owned(),
        "unterminated quoted connection parameter value" => {
            "a quoted value has no closing quote".to_owned()
        }
        "unterminated parameter" => "a URL parameter has no `=`".to_owned(),
        _ if cause.contains("utf-8") => "a percent-encoded part is not valid UTF-8".to_owned(),
        _ => "not a libpq connection string or postgresql:// URL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::*;

    const SECRET: &str = "Pa55 w0rd";

    /// No four characters of `secret` in a row appear in the error's Display or Debug.
    fn assert_hidden(e: &Error, secret: &str) {
        let shown = format!("{e} {e:?}");
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(4) {
            let piece: String = window.iter().collect();
            assert!(!shown.contains(&piece), "{piece:?} shown in {shown}");
        }
    }

    fn parse_err(text: &str) -> Error {
        let e = NodeConfig::from_connection_string(text).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert_eq!(e.operation(), PARSE_OP);
        e
    }

    #[test]
    fn reads_a_url() {
        let c: NodeConfig = "postgresql://tsdbadmin:s3cret@an.example:5433/tsdb?sslmode=disable\
             &connect_timeout=5&application_name=app&channel_binding=require"
            .parse()
            .unwrap();
        assert_eq!(c.get_host(), "an.example");
        assert_eq!(c.get_port(), 5433);
        assert_eq!(c.get_user(), "tsdbadmin");
        assert_eq!(c.get_password().expose_secret(), "s3cret");
        assert_eq!(c.get_database(), "tsdb");
        assert_eq!(c.get_tls(), TlsMode::Disable);
        assert_eq!(c.get_channel_binding(), ChannelBinding::Require);
        assert_eq!(c.get_connect_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(c.node_name(), "an.example:5433");
        assert!(!format!("{c:?}").contains("s3cret"));
        let d: NodeConfig = "postgres://u@h".parse().unwrap();
        assert_eq!((d.get_port(), d.get_database()), (5432, "u"));
        assert!(d.get_password().expose_secret().is_empty());
    }

    #[test]
    fn percent_encoded_url_parts_are_decoded() {
        let c: NodeConfig =
            "postgresql://us%40er:p%40ss%3Aw%2Fo%25rd%3F%20%C3%A9@[::1]:6000/my%20db"
                .parse()
                .unwrap();
        assert_eq!(c.get_user(), "us@er");
        assert_eq!(c.get_password().expose_secret(), "p@ss:w/o%rd? é");
        assert_eq!(c.get_host(), "::1");
        assert_eq!(c.get_port(), 6000);
        assert_eq!(c.get_database(), "my db");
        // A Unix-socket directory, encoded in the host or given as a parameter.
        for url in [
            "postgresql://u@%2Fvar%2Frun%2Fpostgresql/db",
            "postgresql://u@/db?host=/var/run/postgresql",
        ] {
            let c: NodeConfig = url.parse().unwrap();
            assert_eq!(c.get_host(), "/var/run/postgresql", "{url}");
        }
    }

    #[test]
    fn reads_a_key_value_string() {
        let c = NodeConfig::from_connection_string(
            r"host=10.0.0.11 port=5433 user=tsdbadmin password='it\'s \\ a b' dbname=tsdb",
        )
        .unwrap();
        assert_eq!(c.get_password().expose_secret(), r"it's \ a b");
        assert_eq!((c.get_host(), c.get_port()), ("10.0.0.11", 5433));
        assert_eq!(c.get_tls(), TlsMode::Prefer);
    }

    #[test]
    fn from_the_driver_config() {
        let mut pg = tokio_postgres::Config::new();
        pg.host("h").user("u").password(SECRET).dbname("d");
        let c = NodeConfig::try_from(&pg).unwrap();
        assert_eq!(c.get_password().expose_secret(), SECRET);
        assert_eq!(c.get_port(), 5432);
        // Round trip through the driver config this crate builds.
        let back = NodeConfig::try_from(c.to_tokio_postgres().unwrap()).unwrap();
        assert_eq!(back.get_password().expose_secret(), SECRET);
        assert_eq!(back.get_database(), "d");

        pg.password(vec![0xff, 0xfe]);
        let e = NodeConfig::from_tokio_postgres(&pg).unwrap_err();
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
        assert_eq!(e.operation(), FROM_DRIVER_OP);
    }

    #[test]
    fn hostile_strings_are_refused_without_echoing_the_password() {
        let cases: &[(&str, &str)] = &[
            // An unquoted space: the rest of the password becomes an "option".
            ("host=h user=u password=Pa55 w0rd=x", "unknown option"),
            (
                "host=h user=u password=Pa55 w0rd",
                "ends where a value was expected",
            ),
            // An unescaped `@` in a URL's password: the rest would be the host.
            ("postgresql://u:Pa55@w0rd@h/db", "more than one `@`"),
            ("postgresql://u:Pa@55/w0rd@h", "more than one `@`"),
            ("host=h user=u password='Pa55 w0rd", "no closing quote"),
            ("postgresql://u:Pa55%20w0rd@h:notaport/db", "option `port`"),
            (
                "postgresql://u:Pa55%20w0rd@h/db?sslmode=verify-full",
                "sslmode",
            ),
            ("postgresql://u:Pa55%20w0rd@h/db?Pa55w0rd", "no `=`"),
            (
                "postgresql://u:Pa55%20w0rd@h/db?sslrootcert=/x",
                "`sslrootcert`",
            ),
            (
                "postgresql://u:Pa55%20w0rd@h/db?options=-c%20a%3Db",
                "options",
            ),
            ("postgresql://u:Pa55%20w0rd@h1,h2/db", "2 hosts"),
            (
                "postgresql://u:Pa55%20w0rd@h/db?hostaddr=127.0.0.1",
                "hostaddr",
            ),
            ("postgresql://u:Pa55%20w0rd@h/db?keepalives=0", "keepalives"),
            (
                "postgresql://u:Pa55%20w0rd@h/db?channel_binding=disable",
                "channel_binding",
            ),
            (
                "postgresql://u:Pa55%20w0rd@h/db?target_session_attrs=read-write",
                "target_session",
            ),
            ("postgresql://:Pa55%20w0rd@h/db", "no user"),
            ("postgresql://u:Pa55%20w0rd@/db", "no host"),
            ("postgresql://u%ff:Pa55%20w0rd@h/db", "UTF-8"),
            (
                "postgresql://u:Pa55%ff%20w0rd@h/db",
                "password is not valid UTF-8",
            ),
            ("Pa55 w0rd", "unexpected character at byte 5"),
            ("host=h user=u Pa55 w0rd", "unexpected character"),
        ];
        for (text, needle) in cases {
            match NodeConfig::from_connection_string(text) {
                Ok(c) => panic!("{text}: accepted as {c:?}"),
                Err(e) => {
                    assert!(e.to_string().contains(needle), "{text}: {e}");
                    assert_eq!(e.node(), None);
                    assert_hidden(&e, SECRET);
                    assert_hidden(&e, "Pa55w0rd");
                }
            }
        }
        let _ = parse_err("user=u");
        // A driver config with such a host (set by hand) is refused too.
        let mut pg = tokio_postgres::Config::new();
        pg.host("Pa55@w0rd").user("u");
        let e = NodeConfig::from_tokio_postgres(&pg).unwrap_err();
        assert!(e.to_string().contains("contains `@`"), "{e}");
        assert_hidden(&e, "Pa55@w0rd");
    }
}
