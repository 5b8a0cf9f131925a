//! A pooled session and how long it has waited unused, against the server's
//! `idle_session_timeout` (managed services set one).
//!
//! The server ends a session left idle that long. When it does, it says so (57P05) and the
//! session's driver notices, so the pool drops the session at its next checkout. But a
//! statement sent just as the server ends the session is lost with it, and when the
//! connection closes before the server's words are read, nothing tells that statement
//! from one lost while it ran, so it cannot safely be sent again. So a session that has
//! waited for half the server's timeout or more is pinged (an empty statement, one round
//! trip) before it is handed out: the ping restarts the server's clock, and a session that
//! does not answer is dropped and another taken. Sessions in steady use are never pinged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::connect::Session;

/// A session in a pool, with its idle clock.
#[derive(Debug)]
pub(crate) struct Pooled {
    pub(crate) session: Session,
    /// The server's `idle_session_timeout` for this session, as read when it opened
    /// (`None`: none, or a server without the setting).
    server_timeout: Option<Duration>,
    /// When the session was last handed back (or opened).
    idle_since: Mutex<Instant>,
}

impl Pooled {
    /// `session`, just opened, under the server's `idle_session_timeout` (`None`: none).
    pub(crate) fn new(session: Session, server_timeout: Option<Duration>) -> Pooled {
        Pooled {
            session,
            server_timeout: server_timeout.filter(|t| !t.is_zero()),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    /// Starts the idle clock again: the session was handed back.
    pub(crate) fn handed_back(&self) {
        *self
            .idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
    }

    /// The server's `idle_session_timeout` for this session, as read when it opened.
    pub(crate) fn server_timeout(&self) -> Option<Duration> {
        self.server_timeout
    }

    /// How long the session has waited unused, when that is half the server's
    /// `idle_session_timeout` or more: it must answer a ping before it is handed out.
    pub(crate) fn idle_near_server_timeout(&self) -> Option<Duration> {
        let since = *self
            .idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        near_timeout(since.elapsed(), self.server_timeout)
    }
}

/// `idle` when it is half of `server_timeout` or more.
fn near_timeout(idle: Duration, server_timeout: Option<Duration>) -> Option<Duration> {
    let timeout = server_timeout?;
    (idle >= timeout / 2).then_some(idle)
}

/// Reads a time setting as `current_setting` shows it (`0`, `1500ms`, `30s`, `5min`,
/// `1h`, `1d`): `None` for zero (no timeout) or text it does not know.
pub(crate) fn parse_server_duration(shown: &str) -> Option<Duration> {
    let shown = shown.trim();
    let digits = shown
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(shown.len());
    let (number, unit) = shown.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "" | "ms" => number,
        "s" => number.checked_mul(1_000)?,
        "min" => number.checked_mul(60_000)?,
        "h" => number.checked_mul(3_600_000)?,
        "d" => number.checked_mul(86_400_000)?,
        _ => return None,
    };
    (millis > 0).then(|| Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_current_setting_shows() {
        assert_eq!(parse_server_duration("0"), None);
        assert_eq!(
            parse_server_duration("1500ms"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_server_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_server_duration("5min"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_server_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(
            parse_server_duration("1d"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_server_duration("250"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_server_duration(""), None);
        assert_eq!(parse_server_duration("1 fortnight"), None);
        assert_eq!(parse_server_duration("-1"), None);
    }

    #[test]
    fn pings_from_half_the_servers_timeout() {
        let timeout = Some(Duration::from_secs(60));
        assert_eq!(near_timeout(Duration::from_secs(29), timeout), None);
        assert_eq!(
            near_timeout(Duration::from_secs(30), timeout),
            Some(Duration::from_secs(30))
        );
        assert_eq!(near_timeout(Duration::from_secs(3600), None), None);
    }
}
