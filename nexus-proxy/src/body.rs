//! A body wrapper that counts bytes into the metrics as they flow, without buffering.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::metrics::Metrics;
use crate::request::RequestCtx;

/// Which way the counted bytes flow.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Received,
    Sent,
}

/// Counts the data bytes of the wrapped body (request or response) per operation.
#[derive(Debug)]
pub struct CountingBody<B> {
    inner: B,
    ctx: Arc<RequestCtx>,
    metrics: Arc<Metrics>,
    direction: Direction,
}

// === impl CountingBody ===

impl<B> CountingBody<B> {
    /// Counts a request body (bytes received from the client).
    pub fn received(inner: B, ctx: Arc<RequestCtx>, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            ctx,
            metrics,
            direction: Direction::Received,
        }
    }

    /// Counts a response body (bytes sent to the client).
    pub fn sent(inner: B, ctx: Arc<RequestCtx>, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            ctx,
            metrics,
            direction: Direction::Sent,
        }
    }
}

impl<B> Body for CountingBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &poll
            && let Some(data) = frame.data_ref()
        {
            let n = data.len() as u64;
            let op = self.ctx.op();
            match self.direction {
                Direction::Received => self.metrics.bytes_received(op, n),
                Direction::Sent => self.metrics.bytes_sent(op, n),
            }
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
