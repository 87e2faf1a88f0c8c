//! Faults the simulator can inject per API, to test and benchmark the exporter against a
//! cloud that is slow, flaky, throttling, broken or silent: error answers in the API's own
//! form, real answers spoilt on the wire (cut short, dripped, padded to a huge size), and no
//! answer at all (a hang, a reset connection).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use hyper::header::{CONTENT_LENGTH, HeaderValue};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A body as the simulator sends it: whole, or streamed by a fault (which may fail it midway
/// to cut the connection).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// What can go wrong with one API, set with [`super::Simulator::set_faults`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Share (0 to 1) of requests answered with a server error, in the API's own form.
    pub server_errors: f64,
    /// Share (0 to 1) of requests answered with a throttling error.
    pub throttling: f64,
    /// Share (0 to 1) of requests answered with a truncated JSON body.
    pub malformed: f64,
    /// The next this many requests are throttled, whatever the shares say (for tests that
    /// must not depend on chance).
    pub throttle_next: u32,
    /// Never answer.
    pub hang: bool,
    /// Read every request, then reset its connection (RST) without an answer.
    pub reset: bool,
    /// Spoil every real answer on the wire this way (unless `hang` or `reset` comes first).
    pub spoil: Option<Spoilt>,
}

/// How a real answer is spoilt on its way to the client. Status and headers are sent at once;
/// the body is not what they promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoilt {
    /// `Content-Length` announces the whole body; half of it is sent, then the connection is
    /// closed.
    Truncated,
    /// The body comes [`DRIP_BYTES`] at a time every [`DRIP_EVERY`], after enough leading
    /// whitespace that even a short answer takes over a minute.
    SlowDrip,
    /// The answer is padded to about `bytes` with a leading `"Padding"` array of small
    /// objects: still valid JSON, and still the real answer to a client that reads it all.
    Huge { bytes: usize, framing: Framing },
}

/// How a streamed body says where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` up front.
    ContentLength,
    /// `Transfer-Encoding: chunked`, so the size is known only at the end.
    Chunked,
}

/// The fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// An answer in the API's own form, instead of the real one.
    Instead(Substitute),
    /// The real answer, spoilt on the wire.
    Spoilt(Spoilt),
    /// No answer, ever.
    Hang,
    /// No answer: the connection is reset.
    Reset,
}

/// An answer given instead of the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Substitute {
    ServerError,
    Throttled,
    /// Truncated JSON, with a matching `Content-Length`.
    Malformed,
}

impl Faults {
    /// Decides this request's fate (and uses up one `throttle_next`). `hang`, `reset` and
    /// `spoil` apply to every request, in that order, before anything else.
    pub fn roll(&mut self, rng: &mut fastrand::Rng) -> Option<Injected> {
        if self.hang {
            return Some(Injected::Hang);
        }
        if self.reset {
            return Some(Injected::Reset);
        }
        if let Some(spoilt) = self.spoil {
            return Some(Injected::Spoilt(spoilt));
        }
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Some(Injected::Instead(Substitute::Throttled));
        }
        let roll = rng.f64();
        let substitute = if roll < self.server_errors {
            Substitute::ServerError
        } else if roll < self.server_errors + self.throttling {
            Substitute::Throttled
        } else if roll < self.server_errors + self.throttling + self.malformed {
            Substitute::Malformed
        } else {
            return None;
        };
        Some(Injected::Instead(substitute))
    }
}

/// Bytes of a dripping body sent at a time.
pub const DRIP_BYTES: usize = 4;
/// The pause between two drips.
pub const DRIP_EVERY: Duration = Duration::from_millis(200);
/// Leading whitespace of a dripping body: at 20 bytes a second, a minute of it.
const DRIP_PADDING: usize = 1200;

/// An answer sent whole.
pub fn whole(answer: Response<Full<Bytes>>) -> Response<Body> {
    answer.map(|body| body.map_err(|never| match never {}).boxed())
}

/// `answer` as `how` spoils it on the wire.
pub async fn spoil(answer: Response<Full<Bytes>>, how: Spoilt) -> Response<Body> {
    let (mut parts, body) = answer.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let (body, length): (Body, Option<usize>) = match how {
        Spoilt::Truncated => (truncated(bytes.clone()), Some(bytes.len())),
        Spoilt::SlowDrip => {
            let mut padded = vec![b' '; DRIP_PADDING];
            padded.extend_from_slice(&bytes);
            let length = padded.len();
            (dripping(Bytes::from(padded)), Some(length))
        }
        Spoilt::Huge {
            bytes: size,
            framing,
        } => {
            let (body, length) = huge(&bytes, size);
            (body, (framing == Framing::ContentLength).then_some(length))
        }
    };
    if let Some(length) = length {
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, body)
}

/// Half of `bytes`, then (once that has been flushed) an error that makes the server close
/// the connection short of its `Content-Length`.
fn truncated(bytes: Bytes) -> Body {
    let half = bytes.slice(..bytes.len() / 2);
    let frames = futures_util::stream::once(async move { Ok(Frame::data(half)) }).chain(
        futures_util::stream::once(async {
            // A pause, so that the half is flushed before the connection is cut.
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the simulator truncates this answer",
            ))
        }),
    );
    BodyExt::boxed(StreamBody::new(frames))
}

/// `bytes`, [`DRIP_BYTES`] at a time every [`DRIP_EVERY`].
fn dripping(bytes: Bytes) -> Body {
    let frames = futures_util::stream::unfold(bytes, |mut rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(DRIP_EVERY).await;
        let drip = rest.split_to(DRIP_BYTES.min(rest.len()));
        Some((Ok(Frame::data(drip)), rest))
    });
    BodyExt::boxed(StreamBody::new(frames))
}

/// `answer` (a JSON object) with a leading `"Padding"` array that makes it about `size`
/// bytes, streamed in chunks of one shared buffer; and its exact length.
fn huge(answer: &Bytes, size: usize) -> (Body, usize) {
    const ENTRY: &[u8] = br#"{"Id":"padding-00000000","Note":"not a task, only bytes"},"#;
    let chunk = Bytes::from(ENTRY.repeat(1024));
    let head = Bytes::from_static(br#"{"Padding":["#);
    // The last entry has no comma; the answer's own fields follow after its `{`.
    let mut tail = br#"{}],"#.to_vec();
    tail.extend_from_slice(answer.strip_prefix(b"{").unwrap_or(answer));
    let tail = Bytes::from(tail);
    let chunks = size.saturating_sub(head.len() + tail.len()) / chunk.len();
    let length = head.len() + chunks * chunk.len() + tail.len();
    let frames = futures_util::stream::iter(
        std::iter::once(head)
            .chain(std::iter::repeat_n(chunk, chunks))
            .chain(std::iter::once(tail))
            .map(|data| Ok(Frame::data(data))),
    );
    (BodyExt::boxed(StreamBody::new(frames)), length)
}

/// Returned by the service to drop a connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("the simulator resets this connection")]
pub struct Reset;

/// A connection that is reset (RST) rather than closed (FIN) when dropped, once a fault has
/// asked for it through its [`ResetSwitch`].
pub struct Resettable {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

/// Asks for a [`Resettable`] connection to be reset when it is dropped.
#[derive(Clone)]
pub struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    pub fn trip(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Resettable {
    pub fn new(stream: TcpStream) -> (Self, ResetSwitch) {
        let reset = Arc::new(AtomicBool::new(false));
        (
            Resettable {
                stream,
                reset: reset.clone(),
            },
            ResetSwitch(reset),
        )
    }
}

impl Drop for Resettable {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            // With a zero linger, closing the socket sends RST and discards unsent data.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for Resettable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Resettable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_respected_and_throttle_next_comes_first() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut faults = Faults {
            server_errors: 0.2,
            throttling: 0.1,
            malformed: 0.1,
            throttle_next: 2,
            ..Faults::default()
        };
        let throttled = Some(Injected::Instead(Substitute::Throttled));
        assert_eq!(faults.roll(&mut rng), throttled);
        assert_eq!(faults.roll(&mut rng), throttled);
        let rolls: Vec<_> = (0..10_000).map(|_| faults.roll(&mut rng)).collect();
        let share = |what| rolls.iter().filter(|r| **r == what).count() as f64 / 10_000.0;
        let instead = |s| Some(Injected::Instead(s));
        assert!((share(instead(Substitute::ServerError)) - 0.2).abs() < 0.02);
        assert!((share(instead(Substitute::Throttled)) - 0.1).abs() < 0.02);
        assert!((share(instead(Substitute::Malformed)) - 0.1).abs() < 0.02);
        assert!((share(None) - 0.6).abs() < 0.02);
        assert_eq!(Faults::default().roll(&mut rng), None);
    }

    #[test]
    fn hang_reset_and_spoil_apply_to_every_request_in_that_order() {
        let mut rng = fastrand::Rng::with_seed(1);
        let spoil = Some(Spoilt::SlowDrip);
        let mut faults = Faults {
            server_errors: 1.0,
            throttle_next: 1,
            spoil,
            ..Faults::default()
        };
        for _ in 0..3 {
            assert_eq!(
                faults.roll(&mut rng),
                Some(Injected::Spoilt(Spoilt::SlowDrip))
            );
        }
        assert_eq!(faults.throttle_next, 1);
        faults.reset = true;
        assert_eq!(faults.roll(&mut rng), Some(Injected::Reset));
        faults.hang = true;
        assert_eq!(faults.roll(&mut rng), Some(Injected::Hang));
    }

    async fn sent(response: Response<Body>) -> (Option<usize>, Result<Bytes, std::io::Error>) {
        let length = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let body = response.into_body().collect().await.map(|c| c.to_bytes());
        (length, body)
    }

    fn answer(text: &'static str) -> Response<Full<Bytes>> {
        Response::new(Full::new(Bytes::from_static(text.as_bytes())))
    }

    #[tokio::test]
    async fn a_huge_answer_is_the_answer_padded_to_the_size_asked_and_its_length_is_exact() {
        let text = r#"{"total_count": 0, "tasks": []}"#;
        let size = 4 << 20;
        for framing in [Framing::ContentLength, Framing::Chunked] {
            let (length, body) = sent(
                spoil(
                    answer(text),
                    Spoilt::Huge {
                        bytes: size,
                        framing,
                    },
                )
                .await,
            )
            .await;
            let body = body.unwrap();
            assert!(
                body.len() <= size && body.len() > size - 65536,
                "{}",
                body.len()
            );
            let expected_length = (framing == Framing::ContentLength).then_some(body.len());
            assert_eq!(length, expected_length);
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(value["total_count"], 0);
            assert!(value["Padding"].as_array().unwrap().len() > 50_000);
        }
    }

    #[tokio::test]
    async fn a_truncated_answer_promises_more_than_it_sends() {
        let text = r#"{"total_count": 0, "tasks": []}"#;
        let response = spoil(answer(text), Spoilt::Truncated).await;
        let (length, body) = sent(response).await;
        assert_eq!(length, Some(text.len()));
        assert!(body.is_err());
    }

    #[tokio::test]
    async fn a_dripping_answer_takes_over_a_minute() {
        let text = r#"{"total_count": 0, "tasks": []}"#;
        let response = spoil(answer(text), Spoilt::SlowDrip).await;
        let length: usize = response.headers()[CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(DRIP_EVERY * length.div_ceil(DRIP_BYTES) as u32 > Duration::from_secs(60));
        let mut body = response.into_body();
        let started = std::time::Instant::now();
        for _ in 0..2 {
            let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(&frame[..], b"    ");
        }
        assert!(started.elapsed() >= 2 * DRIP_EVERY);
    }
}
