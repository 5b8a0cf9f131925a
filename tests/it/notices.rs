//! Server notices (TimescaleDB's deprecation warnings among them) go to `tracing` at debug
//! level, never fail an operation, and carry no password.

use std::io::Write;
use std::sync::{Arc, Mutex};

use timescaledb_multinode::ExposeSecret;

use crate::common::plain_server;

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a debug-level subscriber for this thread that writes into the returned buffer.
pub fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // Tests run on many threads, each with its own scoped subscriber: a callsite first hit
    // on a thread without one may have cached "never interested". Recompute it now.
    tracing::callsite::rebuild_interest_cache();
    (captured, guard)
}

#[tokio::test]
async fn notices_are_debug_events_naming_the_node() {
    let server = plain_server("dn1").await;
    let (captured, _guard) = capture();
    let client = server.config().connect().await.unwrap();
    client
        .batch_execute(
            "DO $$ BEGIN RAISE WARNING USING MESSAGE = 'deprecated thing', ERRCODE = '01P01'; END $$",
        )
        .await
        .unwrap();
    // The notice is forwarded by the connection task; a round trip makes sure it ran.
    client.simple_query("SELECT 1").await.unwrap();
    let text = captured.text();
    let line = text
        .lines()
        .find(|l| l.contains("server notice"))
        .unwrap_or_else(|| panic!("no notice event in:\n{text}"));
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("node=dn1"), "{line}");
    assert!(line.contains("01P01"), "{line}");
    assert!(line.contains("deprecated thing"), "{line}");
    assert!(!text.contains(server.password().expose_secret()));
    server.shutdown().await.unwrap();
}
