//! The HTTP server: `/metrics` (gzip when asked), the landing page `/`, `/-/healthy`,
//! `/-/ready` and `POST /-/reload`.
//!
//! A scrape's deadline is Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` (else the
//! configured `scrape_timeout`) less a margin for encoding and the network; the engine
//! answers by then whatever the cloud does. On shutdown the server stops accepting and gives
//! the requests in flight [`DRAIN_TIMEOUT`] to finish.
//!
//! Clients are not trusted either: at most [`Limits::max_connections`] connections are served
//! at once (more wait in the kernel's queue), a request's headers must arrive within
//! [`HEADER_READ_TIMEOUT`] (which also closes idle keep-alive connections), and at most one
//! bcrypt password check runs at a time, so a flood of wrong passwords cannot starve the
//! scrapes of a Prometheus whose login is already remembered.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;

use crate::exporter::Exporter;
use crate::metrics;
use crate::web_config;

/// Never plan to answer later than this before Prometheus gives up.
const MAX_MARGIN: Duration = Duration::from_millis(500);

/// The longest scrape timeout believed from Prometheus's header, the same as the longest
/// `scrape_timeout` the config allows.
pub const MAX_SCRAPE_TIMEOUT: Duration = crate::config::SCRAPE_TIMEOUT_RANGE.1;

/// The time a scrape may take: the header's timeout (or the configured one, and never more
/// than [`MAX_SCRAPE_TIMEOUT`]) less a margin of a tenth, at most half a second.
pub fn scrape_budget(header: Option<&str>, configured: Duration) -> Duration {
    let timeout = header
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(MAX_SCRAPE_TIMEOUT.as_secs_f64())))
        .unwrap_or(configured)
        .min(MAX_SCRAPE_TIMEOUT);
    timeout - (timeout / 10).min(MAX_MARGIN)
}

/// A request's headers must be complete this long after the connection is ready for them;
/// an idle keep-alive connection is closed after it too.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers larger than this are refused (431).
const MAX_HEADER_BYTES: usize = 64 << 10;
/// A password check waits at most this long for its turn, then the request is answered 503.
const PASSWORD_CHECK_WAIT: Duration = Duration::from_secs(2);

/// One bcrypt check at a time: each costs tens of milliseconds of CPU by design.
static PASSWORD_CHECKS: Semaphore = Semaphore::const_new(1);

/// New logins in the password path at once, checked or waiting. Beyond this, a new login is
/// answered 503 at once, so a flood of wrong passwords cannot hold connection slots for the
/// whole [`PASSWORD_CHECK_WAIT`] and keep a remembered login from being accepted.
const PASSWORD_QUEUE: usize = 16;
static PASSWORD_QUEUE_SLOTS: Semaphore = Semaphore::const_new(PASSWORD_QUEUE);

/// What the server allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once (`--web.max-connections`); more wait to be accepted.
    pub max_connections: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Half of systemd's default soft limit of 1,024 file descriptors, leaving the rest for the
/// connections to the clouds.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 512;

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
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1) as usize));
    let mut at_limit_logged = false;
    tokio::pin!(shutdown);
    loop {
        // A connection slot first: beyond the limit, connections wait in the kernel's queue
        // instead of taking descriptors and memory here.
        let slot = match connections.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if !at_limit_logged {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                    at_limit_logged = true;
                }
                tokio::select! {
                    slot = connections.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
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
            let _slot = slot;
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
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .quality(tower_http::compression::CompressionLevel::Fastest),
        )
        .service_fn(move |req| {
            let exporter = exporter.clone();
            async move { Ok::<_, Infallible>(handle(&exporter, req).await) }
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    let _ = watcher.watch(connection).await;
}

async fn handle<B>(exporter: &Arc<Exporter>, req: Request<B>) -> Response<Full<Bytes>> {
    // The request is served by the generation in force when it arrived, even if a reload
    // lands meanwhile.
    let generation = exporter.current();
    if let Err(response) = authorize(&generation.web, &req).await {
        return response;
    }
    let path = req.uri().path();
    let scrape = path == exporter.telemetry_path || path == "/probe";
    if scrape && req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed("GET", "Only GET is allowed here.\n");
    }
    let deadline = || {
        let header = req
            .headers()
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok());
        let budget = scrape_budget(header, generation.config.global.scrape_timeout);
        let now = tokio::time::Instant::now();
        now.checked_add(budget).unwrap_or(now)
    };
    let format =
        metrics::Format::negotiate(req.headers().get("accept").and_then(|v| v.to_str().ok()));
    if path == exporter.telemetry_path {
        let reports = generation.engine.collect(deadline()).await;
        let expiries = generation.engine.credential_expiries();
        // Tens of milliseconds of CPU at a million tasks: off the async workers, so that
        // other requests (health checks, probes) are not held up meanwhile.
        let encoder = exporter.clone();
        let encoded = tokio::task::spawn_blocking(move || {
            encoder.metrics().encode(&reports, &expiries, format)
        })
        .await;
        return match encoded {
            Ok(body) => exposition(body, format),
            Err(error) => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Encoding the exposition failed: {error}\n"),
            ),
        };
    }
    if path == "/probe" {
        let target = match probe_target(&generation.engine, req.uri().query()) {
            Ok(target) => target,
            Err(message) => return plain(StatusCode::BAD_REQUEST, message),
        };
        let report = target.report(deadline()).await;
        return exposition(
            exporter
                .metrics()
                .encode_target(&target.id, &report, format),
            format,
        );
    }
    match path {
        "/" => html(crate::landing::render(exporter)),
        "/sd" => json(service_discovery(
            &generation.engine,
            req.headers().get(hyper::header::HOST),
        )),
        "/-/healthy" => text(StatusCode::OK, "Healthy.\n"),
        "/-/ready" => text(StatusCode::OK, "Ready.\n"),
        "/-/reload" if req.method() == Method::POST => reload(exporter).await,
        "/-/reload" => method_not_allowed("POST", "Only POST is allowed here.\n"),
        _ => text(StatusCode::NOT_FOUND, "Not found.\n"),
    }
}

/// Basic auth, when the web config asks for it: a remembered login passes at once; a new one
/// waits its turn for bcrypt, and is answered 503 if the turn does not come soon.
async fn authorize<B>(
    web: &Arc<web_config::WebConfig>,
    req: &Request<B>,
) -> Result<(), Response<Full<Bytes>>> {
    let authorization = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    let attempt = match web.check_remembered(authorization) {
        web_config::Check::Accepted => return Ok(()),
        web_config::Check::Refused => return Err(unauthorized()),
        web_config::Check::NeedsPassword(attempt) => attempt,
    };
    let Ok(_in_queue) = PASSWORD_QUEUE_SLOTS.try_acquire() else {
        return Err(too_many_password_checks());
    };
    let Ok(Ok(_checking)) =
        tokio::time::timeout(PASSWORD_CHECK_WAIT, PASSWORD_CHECKS.acquire()).await
    else {
        return Err(too_many_password_checks());
    };
    let web = web.clone();
    let authorized = tokio::task::spawn_blocking(move || web.check_password(&attempt))
        .await
        .unwrap_or(false);
    if authorized {
        Ok(())
    } else {
        Err(unauthorized())
    }
}

fn too_many_password_checks() -> Response<Full<Bytes>> {
    tracing::debug!("too many password checks at once; answered 503");
    let mut response = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many password checks at once; try again.\n",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn unauthorized() -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized.\n");
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(web_config::WWW_AUTHENTICATE),
    );
    response
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
        Err(error) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Reload failed; the running configuration stays in force.\n{error}\n"),
        ),
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

/// An exposition in the format the scraper asked for.
fn exposition(body: String, format: metrics::Format) -> Response<Full<Bytes>> {
    let content_type = format.content_type();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The target `/probe?target=ACCOUNT/KIND/REGION` names, or the 400's message saying why
/// there is none.
fn probe_target<'e>(
    engine: &'e crate::sweep::Engine,
    query: Option<&str>,
) -> Result<&'e Arc<crate::sweep::Target>, String> {
    let query = query.unwrap_or_default();
    let url = reqwest::Url::parse(&format!("http://probe/?{query}"))
        .map_err(|_| "the query string is not a query string\n".to_owned())?;
    let mut targets = url
        .query_pairs()
        .filter(|(name, _)| name == "target")
        .map(|(_, value)| value.into_owned());
    let (Some(name), None) = (targets.next(), targets.next()) else {
        return Err(
            "give exactly one target: /probe?target=ACCOUNT/KIND/REGION (see /sd)\n".to_owned(),
        );
    };
    // Quoted with Debug, so that whatever was sent cannot forge lines of the answer.
    let shown: String = name.chars().take(200).collect();
    if crate::sweep::TargetId::parse(&name).is_none() {
        return Err(format!(
            "target {shown:?} is not ACCOUNT/KIND/REGION (see /sd)\n"
        ));
    }
    engine.target(&name).ok_or_else(|| {
        let shard = engine.shard();
        if shard.total > 1 {
            format!(
                "unknown target {shown:?}: not a target of this exporter's config in its shard {} of {} (see /sd)\n",
                shard.ordinal, shard.total
            )
        } else {
            format!("unknown target {shown:?}: not a target of this exporter's config (see /sd)\n")
        }
    })
}

/// Prometheus HTTP service discovery: one entry per target of this exporter (its shard), to
/// be scraped at `/probe` on the address the discovery was asked at (the `Host` header, when
/// it is a plain host and port).
fn service_discovery(engine: &crate::sweep::Engine, host: Option<&HeaderValue>) -> String {
    let host = host
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .unwrap_or("localhost:9874");
    let entries: Vec<serde_json::Value> = engine
        .targets()
        .iter()
        .map(|target| {
            let id = &target.id;
            serde_json::json!({
                "targets": [host],
                "labels": {
                    "__metrics_path__": "/probe",
                    "__param_target": id.to_string(),
                    "account": id.account,
                    "provider": id.kind,
                    "region": id.region,
                },
            })
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

fn json(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
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
