//! Failures a test can switch on per device, and the listener that makes a
//! device unreachable for real: while [`Fault::Unreachable`] is set its port
//! is closed (connections are refused) and open connections are cut, so a
//! client sees the same errors as with a router that went away.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How a device misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// It answers normally.
    #[default]
    None,
    /// It waits this long before answering (a `tokio::time::sleep`, so
    /// tests with paused time do not wait).
    Slow(Duration),
    /// Reads answer at once; a write is carried out at once and answered
    /// only after this long (the change lands, its reply is late).
    LateWriteReply(Duration),
    /// Every request gets HTTP 500.
    ServerError,
    /// Every request gets HTTP 401, whatever the credentials.
    AuthFailure,
    /// Its port refuses connections and open connections are cut.
    Unreachable,
}

/// The open connections of one device, so they can be cut at once.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    next: AtomicU64,
    /// A second handle on each open socket, used only to shut it down.
    open: Mutex<HashMap<u64, std::net::TcpStream>>,
}

impl Connections {
    /// Wraps an accepted stream so it can be cut later.
    fn track(self: &Arc<Self>, stream: TcpStream) -> io::Result<TrackedStream> {
        let stream = stream.into_std()?;
        let handle = stream.try_clone()?;
        let stream = TcpStream::from_std(stream)?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, handle);
        Ok(TrackedStream {
            stream,
            _guard: Guard {
                id,
                connections: Arc::clone(self),
            },
        })
    }

    /// Shuts every open connection down; their servers then see them end.
    pub(crate) fn sever_all(&self) {
        for (_, socket) in self.lock().drain() {
            // Already closed by the peer: nothing left to cut.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, std::net::TcpStream>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Forgets a connection's second handle once the connection ends, so the
/// socket closes with it.
#[derive(Debug)]
struct Guard {
    id: u64,
    connections: Arc<Connections>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

/// An accepted connection that [`Connections::sever_all`] can cut.
#[derive(Debug)]
pub(crate) struct TrackedStream {
    stream: TcpStream,
    _guard: Guard,
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Accepts connections on one device's port, closing the port while the
/// device is down and binding it again when it comes back.
#[derive(Debug)]
pub(crate) struct DeviceAcceptor {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    /// Whether the device should be down.
    down: watch::Receiver<bool>,
    /// Whether the port is open, for [`crate::Simulator::set_fault`] to
    /// wait on.
    listening: watch::Sender<bool>,
    connections: Arc<Connections>,
}

impl DeviceAcceptor {
    pub(crate) fn new(
        listener: TcpListener,
        down: watch::Receiver<bool>,
        listening: watch::Sender<bool>,
        connections: Arc<Connections>,
    ) -> io::Result<Self> {
        Ok(Self {
            addr: listener.local_addr()?,
            listener: Some(listener),
            down,
            listening,
            connections,
        })
    }
}

impl Acceptor for DeviceAcceptor {
    type Io = TrackedStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        vec![LocalAddr(self.addr.into())]
    }

    async fn accept(&mut self) -> io::Result<(TrackedStream, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            if *self.down.borrow_and_update() {
                if self.listener.take().is_some() {
                    self.listening.send_replace(false);
                }
                if self.down.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                continue;
            }
            if self.listener.is_none() {
                match TcpListener::bind(self.addr).await {
                    Ok(listener) => {
                        self.listener = Some(listener);
                        self.listening.send_replace(true);
                    }
                    Err(_) => {
                        // The port is briefly still held: try again shortly.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
            let Some(listener) = &self.listener else {
                continue;
            };
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, remote) = accepted?;
                    let io = self.connections.track(stream)?;
                    return Ok((io, LocalAddr(self.addr.into()), RemoteAddr(remote.into()), Scheme::HTTP));
                }
                changed = self.down.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}
