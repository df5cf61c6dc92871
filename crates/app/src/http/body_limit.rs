//! No request makes the server buffer more than `max_body_bytes`.
//!
//! A body declared larger (`Content-Length`) is refused before it is read.
//! An undeclared (chunked) body is read through `BodyCap`, which fails the
//! read once the body goes past the limit: the handler reading it gets an
//! error that [`too_large`] recognises, and the API turns it into a 413
//! `payload_too_large`, never into a body silently cut short.

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// The error a capped body read fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub max: usize,
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request body is larger than the limit of {} bytes; send a smaller body",
            self.max
        )
    }
}

impl std::error::Error for BodyTooLarge {}

/// A body reader that fails once more than `max` bytes came through.
struct BodyCap<R> {
    inner: R,
    max: usize,
    left: usize,
    /// Set when the limit was passed, for [`limit_body`] to see.
    tripped: Arc<AtomicBool>,
}

impl<R: AsyncRead + Unpin> AsyncRead for BodyCap<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len() - before;
                if read > this.left {
                    this.tripped.store(true, Ordering::Relaxed);
                    buf.set_filled(before);
                    return Poll::Ready(Err(io::Error::other(BodyTooLarge { max: this.max })));
                }
                this.left -= read;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// The middleware: refuses bodies declared larger than `max` bytes with
/// 413 and caps undeclared ones at `max`.
pub async fn limit_body<E: Endpoint>(
    ep: E,
    mut req: Request,
    max: usize,
) -> poem::Result<Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let tripped = Arc::new(AtomicBool::new(false));
    match declared {
        Some(n) if n > max => {
            return Err(poem::Error::from_string(
                format!("the request body is {n} bytes; the limit is {max}"),
                StatusCode::PAYLOAD_TOO_LARGE,
            ));
        }
        Some(_) => {}
        None => {
            let body = BodyCap {
                inner: req.take_body().into_async_read(),
                max,
                left: max,
                tripped: tripped.clone(),
            };
            req.set_body(poem::Body::from_async_read(body));
        }
    }
    let result = ep.call(req).await.map(IntoResponse::into_response);
    // The API answers an oversized body itself; anything else that read
    // one (and answered otherwise) is overruled, so the client always
    // learns why.
    let answered = match &result {
        Ok(resp) => resp.status(),
        Err(e) => e.status(),
    };
    if tripped.load(Ordering::Relaxed) && answered != StatusCode::PAYLOAD_TOO_LARGE {
        return Err(poem::Error::from_string(
            BodyTooLarge { max }.to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ));
    }
    result
}

/// The [`BodyTooLarge`] behind a failed body read, if that is what `err`
/// is: poem reports it as an I/O error, possibly wrapped more than once.
pub fn too_large(err: &poem::Error) -> Option<BodyTooLarge> {
    fn within(e: &(dyn std::error::Error + 'static)) -> Option<BodyTooLarge> {
        if let Some(big) = e.downcast_ref::<BodyTooLarge>() {
            return Some(*big);
        }
        if let Some(io) = e.downcast_ref::<io::Error>()
            && let Some(inner) = io.get_ref()
        {
            return within(inner);
        }
        e.source().and_then(within)
    }
    match err.downcast_ref::<poem::error::ReadBodyError>()? {
        poem::error::ReadBodyError::Io(io) => within(io),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    async fn read(body: &[u8], max: usize) -> io::Result<Vec<u8>> {
        let mut capped = BodyCap {
            inner: body,
            max,
            left: max,
            tripped: Arc::new(AtomicBool::new(false)),
        };
        let mut out = Vec::new();
        capped.read_to_end(&mut out).await.map(|_| out)
    }

    #[tokio::test]
    async fn a_body_up_to_the_limit_is_read_whole_and_one_past_it_fails() {
        assert_eq!(read(b"12345", 5).await.unwrap(), b"12345");
        let err = read(b"123456", 5).await.unwrap_err();
        let big = err.get_ref().and_then(|e| e.downcast_ref::<BodyTooLarge>());
        assert_eq!(big, Some(&BodyTooLarge { max: 5 }));
    }

    #[tokio::test]
    async fn a_failed_read_is_recognised_through_poems_wrapping() {
        let body = poem::Body::from_async_read(BodyCap {
            inner: &b"0123456789"[..],
            max: 4,
            left: 4,
            tripped: Arc::new(AtomicBool::new(false)),
        });
        let err: poem::Error = body.into_vec().await.unwrap_err().into();
        assert_eq!(too_large(&err), Some(BodyTooLarge { max: 4 }));
        let other = poem::Error::from_status(StatusCode::BAD_REQUEST);
        assert_eq!(too_large(&other), None);
    }
}
