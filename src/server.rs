//! The HTTP server: `/metrics` (gzip when asked), the landing page `/`, `/-/healthy` and
//! `/-/ready`.
//!
//! A scrape's deadline is Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` (else the
//! configured `scrape_timeout`) less a margin for encoding and the network; the engine
//! answers by then whatever the cloud does.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;

use crate::metrics::{self, Metrics};
use crate::sweep::Engine;

/// What the server serves from.
pub struct App {
    pub engine: Engine,
    pub metrics: Arc<Metrics>,
    pub telemetry_path: String,
    pub scrape_timeout: Duration,
    /// Shown on the landing page.
    pub config_source: String,
}

impl App {
    /// Builds the engine and the metrics for `config`.
    pub fn new(
        config: &crate::config::Config,
        telemetry_path: String,
        config_source: String,
    ) -> Result<App, crate::sweep::EngineError> {
        let metrics = Arc::new(Metrics::new(
            &config.global.histogram_buckets,
            config.global.labels.instance_id,
        ));
        metrics.config_reloaded(true, chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
        Ok(App {
            engine: Engine::new(config, metrics.clone())?,
            metrics,
            telemetry_path,
            scrape_timeout: config.global.scrape_timeout,
            config_source,
        })
    }
}

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

/// Serves until `shutdown` completes.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = ServiceBuilder::new()
                .layer(CompressionLayer::new().gzip(true))
                .service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(&app, req).await) }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
        });
    }
}

async fn handle<B>(app: &App, req: Request<B>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if path == app.telemetry_path {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "Only GET is allowed here.\n",
            );
        }
        let header = req
            .headers()
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok());
        let deadline = tokio::time::Instant::now() + scrape_budget(header, app.scrape_timeout);
        let reports = app.engine.collect(deadline).await;
        let openmetrics = app.metrics.encode(&reports);
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
        "/" => html(crate::landing::render(app)),
        "/-/healthy" => text(StatusCode::OK, "Healthy.\n"),
        "/-/ready" => text(StatusCode::OK, "Ready.\n"),
        _ => text(StatusCode::NOT_FOUND, "Not found.\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
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
