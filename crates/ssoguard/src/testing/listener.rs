//! The issuer's listener: while the issuer is [`Fault::Down`](super::Fault::Down), accepted
//! connections fail every read and write, so the SSO looks gone to pooled keep-alive clients too.

use super::IssuerState;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

pub(super) struct FaultyListener {
    pub(super) inner: TcpListener,
    pub(super) state: Arc<IssuerState>,
}

/// A connection that fails every read and write while the issuer is [`Fault::Down`], so pooled
/// keep-alive connections die too, as they would if the SSO went away.
pub(super) struct FaultyStream {
    inner: TcpStream,
    state: Arc<IssuerState>,
}

impl FaultyStream {
    fn check(&self) -> std::io::Result<()> {
        if self.state.down.load(Ordering::Acquire) {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "issuer is down",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for FaultyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl axum::serve::Listener for FaultyListener {
    type Io = FaultyStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.state.down.load(Ordering::Acquire) {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let stream = FaultyStream {
                        inner: stream,
                        state: self.state.clone(),
                    };
                    return (stream, addr);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
