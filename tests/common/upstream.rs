//! A hostile cloud on loopback: answers each request as a test says, including what no real
//! API should send (absurd totals, endless bodies, silence), and remembers the requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete answer with this status and JSON body.
    Json(u16, String),
    /// `200` with a body of `bytes` bytes that never ends as JSON, with or without a
    /// `Content-Length` header (chunked without).
    Huge { bytes: usize, content_length: bool },
    /// Read the request, then say nothing, ever.
    Hang,
    /// `307 Temporary Redirect` to this URL.
    Redirect(String),
}

/// The requests seen so far (request line, headers and body) and how many body bytes were
/// written.
#[derive(Clone, Default)]
pub struct Upstream {
    pub requests: Arc<Mutex<Vec<String>>>,
    pub bytes_written: Arc<AtomicU64>,
}

impl Upstream {
    /// Serves on `127.0.0.1:0`; `reply` decides each answer from the request.
    pub async fn start(
        reply: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> (SocketAddr, Upstream) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Upstream::default();
        let reply = Arc::new(reply);
        let seen = upstream.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let reply = reply.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    seen.requests.lock().unwrap().push(request.clone());
                    match reply(&request) {
                        Reply::Json(status, json) => {
                            let head = format!(
                                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                                json.len()
                            );
                            let _ = stream.write_all(head.as_bytes()).await;
                            let _ = stream.write_all(json.as_bytes()).await;
                        }
                        Reply::Redirect(location) => {
                            let head = format!(
                                "HTTP/1.1 307 X\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            );
                            let _ = stream.write_all(head.as_bytes()).await;
                        }
                        Reply::Huge {
                            bytes,
                            content_length,
                        } => {
                            let head = if content_length {
                                format!(
                                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {bytes}\r\n\r\n"
                                )
                            } else {
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_owned()
                            };
                            if stream.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let chunk = vec![b' '; 64 << 10];
                            let mut sent = 0;
                            while sent < bytes {
                                let n = chunk.len().min(bytes - sent);
                                let written = if content_length {
                                    stream.write_all(&chunk[..n]).await
                                } else {
                                    let mut framed = format!("{n:x}\r\n").into_bytes();
                                    framed.extend_from_slice(&chunk[..n]);
                                    framed.extend_from_slice(b"\r\n");
                                    stream.write_all(&framed).await
                                };
                                if written.is_err() {
                                    return;
                                }
                                sent += n;
                                seen.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            if !content_length {
                                let _ = stream.write_all(b"0\r\n\r\n").await;
                            }
                        }
                        Reply::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                    }
                });
            }
        });
        (addr, upstream)
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Reads one HTTP/1.1 request with a `Content-Length` body; returns all of it as text.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return Some(text.into_owned());
            }
        }
    }
}
