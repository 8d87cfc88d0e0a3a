//! A [`TokenMemo`] for every connection `axum::serve` accepts.

use crate::token_memo::TokenMemo;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use tokio::task::futures::TaskLocalFuture;
use tower_service::Service;

/// A make-service that gives each connection its own [`TokenMemo`]: a client sending the same
/// token on one keep-alive connection skips the verified-token cache's SHA-256 from its second
/// request on ([`crate::token_memo`] has the rules; docs/BENCHMARKS.md §9 the measurement).
///
/// Wrap the finished service (the router with its layers) and hand it to `axum::serve` in place
/// of `into_make_service()`:
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use ssoguard::axum::TokenMemoPerConnection;
///
/// # async fn run(app: Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, TokenMemoPerConnection::new(app)).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TokenMemoPerConnection<S> {
    service: S,
}

impl<S> TokenMemoPerConnection<S> {
    /// Wraps `service`, cloned once per connection.
    pub fn new(service: S) -> Self {
        Self { service }
    }
}

impl<S: Clone, T> Service<T> for TokenMemoPerConnection<S> {
    type Response = WithTokenMemo<S>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _connection: T) -> Self::Future {
        ready(Ok(WithTokenMemo {
            service: self.service.clone(),
            memo: TokenMemo::new(),
        }))
    }
}

/// One connection's service: runs every request in the scope of the connection's [`TokenMemo`].
#[derive(Debug, Clone)]
pub struct WithTokenMemo<S> {
    service: S,
    memo: TokenMemo,
}

impl<S: Service<R>, R> Service<R> for WithTokenMemo<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<TokenMemo, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.memo.scope(self.service.call(request))
    }
}
