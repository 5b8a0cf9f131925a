//! Server notices (TimescaleDB's deprecation warnings among them) go to `tracing` at debug
//! level, never fail an operation, and carry no password.

use std::io::Write;
use std::sync::{Arc, Mutex, Once, Weak};

use timescaledb_multinode::ExposeSecret;

use crate::common::plain_server;

/// The buffers of the captures alive right now; every event is written to each of them.
static ACTIVE: Mutex<Vec<Weak<Mutex<Vec<u8>>>>> = Mutex::new(Vec::new());

/// Everything logged at debug level or above, in this test binary, while it is alive.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Stops a capture when dropped.
pub struct CaptureGuard(#[allow(dead_code)] Captured);

/// The writer of the one global subscriber: a copy of each event to every live capture.
struct Fanout;

impl Write for Fanout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut active = ACTIVE.lock().unwrap();
        active.retain(|weak| match weak.upgrade() {
            Some(buffer) => {
                buffer.lock().unwrap().extend_from_slice(buf);
                true
            }
            None => false,
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing every debug-level event of this test binary (other tests' events
/// included) until the guard is dropped.
///
/// One global subscriber serves every capture. Scoped (per-thread) subscribers are not
/// used: `tracing` caches each callsite's interest when it is first hit, and when only one
/// dispatcher is registered it asks the *hitting thread's* subscriber. A callsite first hit
/// on another test's thread (no subscriber there) was cached as "never", and the capturing
/// test then saw no event at all. With one global subscriber every thread gives the same
/// answer.
pub fn capture() -> (Captured, CaptureGuard) {
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| Fanout)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the test binary");
    });
    let captured = Captured::default();
    ACTIVE.lock().unwrap().push(Arc::downgrade(&captured.0));
    (captured.clone(), CaptureGuard(captured))
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
    // The capture holds every test's events: find this test's notice by its text.
    let line = text
        .lines()
        .find(|l| l.contains("server notice") && l.contains("deprecated thing"))
        .unwrap_or_else(|| panic!("no notice event in:\n{text}"));
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("node=dn1"), "{line}");
    assert!(line.contains("01P01"), "{line}");
    assert!(!text.contains(server.password().expose_secret()));
    server.shutdown().await.unwrap();
}
