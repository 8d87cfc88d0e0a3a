//! Connection limits with real sockets: a client that sends its request head slowly, or nothing,
//! or stays idle after a response, loses its socket after `header_read_timeout_secs`; no more
//! than `max_connections` connections are served at once.

use ssoguard::testing::TestIssuer;
use ssoguard_gateway::{App, Config};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A forward-auth-only gateway with these limits; its address.
async fn gateway(
    sso: &TestIssuer,
    header_read_timeout_secs: u64,
    max_connections: usize,
) -> String {
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nheader_read_timeout_secs = {header_read_timeout_secs}\nmax_connections = {max_connections}\n\n[[issuer]]\nname = \"a\"\nissuer = \"{}\"\naudiences = [\"api\"]\n\n[[route]]\npath = \"/\"\n",
        sso.issuer()
    );
    let config = Config::from_toml(&toml, "limits.toml", &|_: &str| None).expect("config");
    let app = App::build(config).await.expect("app");
    let addr = app.local_addr().to_string();
    tokio::spawn(app.run_until(std::future::pending()));
    addr
}

/// Reads until the server closes the connection; how long that took (capped at `cap`).
async fn until_closed(stream: &mut TcpStream, cap: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(cap, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    started.elapsed()
}

const HEALTH: &[u8] = b"GET /_ssoguard/health HTTP/1.1\r\nHost: gw\r\n\r\n";

#[tokio::test]
async fn slow_silent_and_idle_clients_lose_their_socket() {
    let sso = TestIssuer::start().await.expect("issuer");
    let addr = gateway(&sso, 1, 64).await;
    let cap = Duration::from_secs(10);

    // Slowloris: the head one byte every 300 ms (it would take ~13 s).
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    let (mut reader, mut writer) = slow.split();
    let started = Instant::now();
    let drip = async {
        for byte in HEALTH {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let mut buf = Vec::new();
    let read = reader.read_to_end(&mut buf);
    tokio::select! {
        () = drip => panic!("the whole head was accepted byte by byte"),
        _ = read => {}
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "slow head held the socket {took:?}"
    );
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "{buf:?}");

    // Silent: connects and sends nothing.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let took = until_closed(&mut silent, cap).await;
    assert!(
        took < Duration::from_secs(4),
        "silent client held the socket {took:?}"
    );

    // Idle keep-alive after a full exchange.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(HEALTH).await.expect("request");
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).await.expect("response");
    assert_eq!(&head, b"HTTP/1.1 200");
    let took = until_closed(&mut idle, cap).await;
    assert!(
        took < Duration::from_secs(4),
        "idle connection held {took:?}"
    );
}

#[tokio::test]
async fn at_most_max_connections_are_served() {
    let sso = TestIssuer::start().await.expect("issuer");
    let addr = gateway(&sso, 30, 2).await;
    let first = TcpStream::connect(&addr).await.expect("connect");
    let second = TcpStream::connect(&addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(&addr).await.expect("connect (backlog)");
    third.write_all(HEALTH).await.expect("request");
    let mut head = [0u8; 12];
    let waited = tokio::time::timeout(Duration::from_secs(1), third.read_exact(&mut head)).await;
    assert!(waited.is_err(), "a third connection was served: {head:?}");
    drop(first);
    drop(second);
    tokio::time::timeout(Duration::from_secs(5), third.read_exact(&mut head))
        .await
        .expect("served once a connection closed")
        .expect("response");
    assert_eq!(&head, b"HTTP/1.1 200");
}
