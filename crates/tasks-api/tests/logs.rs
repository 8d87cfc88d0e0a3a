//! No token, nor any 20-character slice of one, ever appears in the service's logs — captured
//! at TRACE level during valid, invalid, expired and cookie-borne authenticated requests.

mod common;

use common::{Backend, TestApp};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(capture.clone())
            .with_ansi(false)
            .init();
        capture
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_appears_in_logs() {
    let capture = capture();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("AUTH_COOKIE_NAME", "id_token")]).await;
    let valid = app.token("alice", "user");
    let admin = app.token("admin", "admin");
    let expired = app.issuer().token().exp_in(-3600).sign();
    let wrong_aud = app.issuer().token().aud("other").sign();
    let forged = format!("{}x", &valid[..valid.len() - 1]);
    let tokens = [&valid, &admin, &expired, &wrong_aud, &forged];
    for token in tokens {
        let _ = app.get("/api/me", token).await;
        let _ = app
            .post_json("/api/tasks", token, &serde_json::json!({"title": "t"}))
            .await;
        let _ = app.get("/api/admin/users/alice", token).await;
        let _ = app
            .http
            .get(app.url("/api/me"))
            .header("cookie", format!("id_token={token}"))
            .send()
            .await;
    }
    let log = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    assert!(log.len() > 1000, "the capture saw the requests:\n{log}");
    assert!(log.contains("/api/me"), "request spans are logged");
    for token in tokens {
        let chars: Vec<char> = token.chars().collect();
        for window in chars.windows(20) {
            let slice: String = window.iter().collect();
            assert!(
                !log.contains(&slice),
                "a token slice leaked into the logs: {slice}"
            );
        }
    }
}
