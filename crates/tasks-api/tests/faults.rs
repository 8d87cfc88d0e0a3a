//! Database faults against the real Postgres: a TCP proxy between the service and Postgres is
//! cut mid-run. Requests answer 503 `{"detail": …}` (no panic), no write is half-done, and once
//! the proxy is back the service recovers without a restart.

mod common;

use common::{Backend, TestApp};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy that can be cut: when down, live connections are closed and new ones refused.
struct CuttableProxy {
    port: u16,
    down: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl CuttableProxy {
    async fn start(target: String) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let (down2, cut2) = (down.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if down2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        CuttableProxy { port, down, cut }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

#[tokio::test]
async fn postgres_outage_is_503_without_partial_writes_then_recovers() {
    let Some(pg_url) = common::postgres_url() else {
        common::skip("set TEST_DATABASE_URL to run the Postgres fault test");
        return;
    };
    let direct = common::fresh_database(Backend::Postgres).await;
    let host_port = pg_url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_string();
    let proxy = CuttableProxy::start(host_port.clone()).await;
    let proxied = direct.replacen(&host_port, &format!("127.0.0.1:{}", proxy.port), 1);
    let app = TestApp::spawn_with(Backend::Postgres, &[("DATABASE_URL", proxied.as_str())]).await;
    let alice = app.token("alice", "user");
    app.create_task(&alice, "before the outage").await;

    proxy.set_down(true);
    let mut created_during = 0;
    for i in 0..3 {
        let resp = app
            .post_json(
                "/api/tasks",
                &alice,
                &json!({"title": format!("during {i}")}),
            )
            .await;
        match resp.status().as_u16() {
            201 => created_during += 1,
            503 => {
                let body: Value = resp.json().await.expect("json");
                assert!(body["detail"].is_string(), "{body}");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    let resp = app.get("/api/tasks", &alice).await;
    assert_eq!(resp.status(), 503);
    let ready = app.http.get(app.url("/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.expect("json")["not_ready"],
        json!(["database"])
    );

    proxy.set_down(false);
    let mut recovered = false;
    for _ in 0..20 {
        if app.get("/api/tasks", &alice).await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "the service recovers once Postgres is back");
    app.create_task(&alice, "after the outage").await;
    let tasks: Vec<Value> = app
        .get("/api/tasks", &alice)
        .await
        .json()
        .await
        .expect("json");
    // Every 201 is stored; nothing else is (no partial writes).
    assert_eq!(tasks.len(), 2 + created_during);
    assert!(
        tasks
            .iter()
            .all(|t| t["title"].is_string() && t["id"].is_string())
    );
}
