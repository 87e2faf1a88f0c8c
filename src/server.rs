//! The HTTP server: `/metrics` (gzip when asked), the landing page `/`, `/-/healthy`,
//! `/-/ready` and `POST /-/reload`.
//!
//! A scrape's deadline is Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` (else the
//! configured `scrape_timeout`) less a margin for encoding and the network; the engine
//! answers by then whatever the cloud does. On shutdown the server stops accepting and gives
//! the requests in flight [`DRAIN_TIMEOUT`] to finish.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;

use crate::exporter::Exporter;
use crate::metrics;
use crate::web_config;

/// Never plan to answer later than this before Prometheus gives up.
const MAX_MARGIN: Duration = Duration::from_millis(500);

/// The time a scrape may take: the header's timeout (or the configured one) less a margin of
/// a tenth, at most half a second.
pub fn scrape_budget(header: Option<&str>, configured: Duration) -> Duration {
    let timeout = header
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(configured);
    timeout - (timeout / 10).min(MAX_MARGIN)
}

/// Parses `--web.listen-address`: `:9874` means every interface.
pub fn listen_addresses(address: &str) -> Result<Vec<SocketAddr>, String> {
    let invalid = || {
        format!(
            "--web.listen-address {address:?}: expected host:port, like :9874 or 127.0.0.1:9874"
        )
    };
    if let Some(port) = address.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| invalid())?;
        return Ok(vec![
            SocketAddr::from(([0u16; 8], port)),
            SocketAddr::from(([0u8; 4], port)),
        ]);
    }
    address
        .parse::<SocketAddr>()
        .map(|a| vec![a])
        .map_err(|_| invalid())
}

/// Binds the first address that works (IPv6 any, which is dual-stack on Linux, then IPv4 any).
pub async fn bind(address: &str) -> Result<TcpListener, String> {
    let mut last_error = String::new();
    for addr in listen_addresses(address)? {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = format!("cannot listen on {addr}: {e}"),
        }
    }
    Err(last_error)
}

/// How long requests in flight may still take once shutdown has begun.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves until `shutdown` completes, then stops accepting and waits up to [`DRAIN_TIMEOUT`]
/// for the requests in flight; idle keep-alive connections are closed at once.
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, typically: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A connection is served with the TLS settings in force when it arrives.
        let tls = exporter.current().web.tls.clone();
        let exporter = exporter.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, exporter, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, exporter, watcher).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let in_flight = graceful.count();
    if in_flight > 0 {
        tracing::info!(
            connections = in_flight,
            "shutting down: draining connections"
        );
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "shutting down: requests still in flight after {} s are dropped",
            DRAIN_TIMEOUT.as_secs()
        );
    }
}

/// A client that connects and never finishes its TLS handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_connection<I>(io: I, exporter: Arc<Exporter>, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = ServiceBuilder::new()
        .layer(CompressionLayer::new().gzip(true))
        .service_fn(move |req| {
            let exporter = exporter.clone();
            async move { Ok::<_, Infallible>(handle(&exporter, req).await) }
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    let _ = watcher.watch(connection).await;
}

async fn handle<B>(exporter: &Arc<Exporter>, req: Request<B>) -> Response<Full<Bytes>> {
    // The request is served by the generation in force when it arrived, even if a reload
    // lands meanwhile.
    let generation = exporter.current();
    if generation.web.requires_auth() {
        let web = generation.web.clone();
        let authorization = req
            .headers()
            .get(AUTHORIZATION)
            .map(|value| value.as_bytes().to_vec());
        let authorized =
            tokio::task::spawn_blocking(move || web.authorize(authorization.as_deref()))
                .await
                .unwrap_or(false);
        if !authorized {
            let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized.\n");
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(web_config::WWW_AUTHENTICATE),
            );
            return response;
        }
    }
    let path = req.uri().path();
    if path == exporter.telemetry_path {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return method_not_allowed("GET", "Only GET is allowed here.\n");
        }
        let header = req
            .headers()
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok());
        let budget = scrape_budget(header, generation.config.global.scrape_timeout);
        let deadline = tokio::time::Instant::now() + budget;
        let reports = generation.engine.collect(deadline).await;
        let openmetrics = generation.metrics.encode(&reports);
        let accept = req.headers().get("accept").and_then(|v| v.to_str().ok());
        let (body, content_type) = if metrics::accepts_openmetrics(accept) {
            (openmetrics, metrics::OPENMETRICS_CONTENT_TYPE)
        } else {
            (
                metrics::to_text_format(&openmetrics),
                metrics::TEXT_CONTENT_TYPE,
            )
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        return response;
    }
    match path {
        "/" => html(crate::landing::render(exporter)),
        "/-/healthy" => text(StatusCode::OK, "Healthy.\n"),
        "/-/ready" => text(StatusCode::OK, "Ready.\n"),
        "/-/reload" if req.method() == Method::POST => reload(exporter).await,
        "/-/reload" => method_not_allowed("POST", "Only POST is allowed here.\n"),
        _ => text(StatusCode::NOT_FOUND, "Not found.\n"),
    }
}

/// `POST /-/reload`: the same reload as SIGHUP; the answer says whether it worked.
async fn reload(exporter: &Arc<Exporter>) -> Response<Full<Bytes>> {
    let exporter = exporter.clone();
    match tokio::task::spawn_blocking(move || exporter.reload()).await {
        Ok(Ok(_)) => text(StatusCode::OK, "Reloaded.\n"),
        Ok(Err(error)) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Reload failed; the running configuration stays in force.\n{error}\n"),
        ),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "Reload failed.\n"),
    }
}

fn method_not_allowed(allow: &'static str, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, body);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn plain(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    plain(status, body.to_owned())
}

fn html(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_a_margin_before_prometheus_gives_up() {
        let configured = Duration::from_secs(20);
        assert_eq!(
            scrape_budget(Some("10"), configured),
            Duration::from_millis(9500)
        );
        assert_eq!(
            scrape_budget(Some("2"), configured),
            Duration::from_millis(1800)
        );
        assert_eq!(
            scrape_budget(None, configured),
            Duration::from_millis(19500)
        );
        assert_eq!(
            scrape_budget(Some("nonsense"), configured),
            Duration::from_millis(19500)
        );
        assert_eq!(
            scrape_budget(Some("-1"), configured),
            Duration::from_millis(19500)
        );
    }

    #[test]
    fn listen_address_forms() {
        assert_eq!(listen_addresses(":9874").unwrap().len(), 2);
        assert_eq!(
            listen_addresses("127.0.0.1:9874").unwrap(),
            vec!["127.0.0.1:9874".parse().unwrap()]
        );
        assert!(listen_addresses("localhost").is_err());
        assert!(listen_addresses(":99999").is_err());
    }
}
