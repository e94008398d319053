//! The gateway's connections: accepted up to a limit (past it, `503` and
//! closed at once rather than left waiting), each closed when it sends no
//! complete request header in time (slowloris) or stays idle — no request
//! in progress, nothing received — for too long. HTTP/1.1 and HTTP/2 (on
//! the same port, by preface), graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use futures::task::AtomicWaker;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::Peer;

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Open connections at most.
    pub(crate) max_connections: usize,
    /// A connection with no request in progress that receives nothing for
    /// this long is closed.
    pub(crate) idle: Duration,
    /// A request's header must arrive within this (HTTP/1.1).
    pub(crate) header_read: Duration,
}

/// The connections the process can hold: its descriptor limit, less what
/// the rest of it (NATS, files, logs) needs.
pub(crate) fn default_max_connections() -> usize {
    let soft = rlimit::Resource::NOFILE
        .get()
        .map_or(1024, |(soft, _)| soft);
    usize::try_from(soft.saturating_sub(128))
        .unwrap_or(usize::MAX)
        .max(64)
}

/// Serves `router` on the connections `listener` accepts until `shutdown`;
/// then stops accepting and waits for the connections' requests to end.
pub(crate) async fn serve<L>(
    mut listener: L,
    router: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + crate::tls::ClientName + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        // A peer that no longer answers pings is gone.
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let (io, address) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(io));
            continue;
        };
        // A client certificate's name: the connection's caller (once).
        let certificate = crate::tls::ClientName::client_name(&io)
            .and_then(crate::auth::client_certificate)
            .map(crate::auth::ClientCertificate);
        let activity = Arc::new(Activity::default());
        let io = IdleIo::new(io, limits.idle, activity.clone());
        let router = router.clone();
        let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let mut request = request.map(Body::new);
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(Peer(address)));
            if let Some(certificate) = &certificate {
                request.extensions_mut().insert(certificate.clone());
            }
            let busy = Busy::new(activity.clone());
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| crate::tap::tap(body, busy)))
            }
        });
        let builder = builder.clone();
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(io),
                hyper_util::service::TowerToHyperService::new(service),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("nrpc-gateway: connection from {address}: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers a connection over the limit and closes it.
async fn refuse<Io: AsyncWrite + Unpin>(mut io: Io) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
        retry-after: 1\r\ncontent-length: 0\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = io.write_all(BUSY).await;
        let _ = io.shutdown().await;
    })
    .await;
}

/// A connection's requests in progress and when it last received or
/// finished something.
#[derive(Debug)]
struct Activity {
    busy: AtomicUsize,
    /// Milliseconds since `start`.
    last: AtomicU64,
    start: Instant,
    /// The connection's reader, woken when it falls idle.
    reader: AtomicWaker,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            busy: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            start: Instant::now(),
            reader: AtomicWaker::new(),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn idle_deadline(&self, idle: Duration) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed)) + idle
    }
}

/// A request in progress on a connection, until its response body is done.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::AcqRel);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Idle from now: the reader arms its timer.
            self.0.reader.wake();
        }
    }
}

/// A response body keeps its request counted as in progress.
impl crate::tap::Tap for Busy {}

/// A connection's I/O that ends (timed out) once the connection has been
/// idle for `idle`: no request in progress and nothing received.
struct IdleIo<Io> {
    io: Io,
    idle: Duration,
    activity: Arc<Activity>,
    timer: Pin<Box<Sleep>>,
}

impl<Io> IdleIo<Io> {
    fn new(io: Io, idle: Duration, activity: Arc<Activity>) -> Self {
        activity.touch();
        let timer = Box::pin(tokio::time::sleep(idle));
        IdleIo {
            io,
            idle,
            activity,
            timer,
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for IdleIo<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.activity.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                self.activity.reader.register(cx.waker());
                if self.activity.busy.load(Ordering::Acquire) > 0 {
                    return Poll::Pending;
                }
                let deadline = self.activity.idle_deadline(self.idle);
                if self.timer.deadline() != deadline {
                    self.timer.as_mut().reset(deadline);
                }
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the connection was idle too long",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for IdleIo<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
