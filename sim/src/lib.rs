//! A simulated cloud on loopback that speaks the providers' task APIs like the real ones:
//! signed requests are verified (and rejected in the provider's own error envelope), pages and
//! their limits, time filters, per-account rate limits, and tasks that start, progress,
//! succeed and fail as wall-clock time passes.
//!
//! `--demo`, the integration tests and the benchmarks all run against it. Each API is a file
//! (`tencent_postgres.rs`, `tencent_mysql.rs`, `tencent_redis.rs`, `huawei_rds.rs`) that
//! declares its [`Route`] and answers its requests, and one line in [`ROUTES`]; each cloud's
//! protocol is shared (`tencent.rs`: TC3 and the `Response` envelope; `huawei.rs`: AK/SK and
//! HTTP-status errors), with request signing checked by its own implementation (`sign/`). The
//! task timeline is shared (`world.rs`) and filled by a seedable generator (`generator.rs`) or
//! by tests. `faults.rs` breaks an API on purpose: error answers, real answers spoilt on the
//! wire (cut short, dripped, huge), hangs and resets. Temporary credentials come from the VMs'
//! metadata services (`metadata.rs`) and from STS (`sts.rs`: Tencent `AssumeRole` and
//! `AssumeRoleWithWebIdentity`, Alibaba `AssumeRole`).
//!
//! It is a second, independent implementation of each wire format: it imports nothing of the
//! exporter's (parsing, time formats, status or task-type tables, signing), but writes each
//! from the API reference and the SDKs, so that a mistake on either side fails an end-to-end
//! test instead of agreeing with itself.

#![allow(
    clippy::indexing_slicing,
    reason = "test and demo infrastructure, indexing its own tables"
)]

mod alibaba;
mod alibaba_mongodb;
mod alibaba_polardb;
mod alibaba_rds;
mod alibaba_redis;
mod faults;
mod generator;
mod huawei;
mod huawei_dds;
mod huawei_gaussdb;
mod huawei_rds;
mod huawei_taurusdb;
mod metadata;
pub mod sign;
mod sts;
mod tencent;
mod tencent_cynosdb;
mod tencent_mysql;
mod tencent_postgres;
mod tencent_redis;
mod world;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use faults::{Body, Injected, Reset, Resettable};
pub use faults::{Faults, Framing, Spoilt};
pub use generator::{Generator, Scenario};
pub use metadata::{InstanceRole, SimCloud};
pub use sts::{StsRole, WebIdentity};
pub use tencent_mysql::CdbShape;
pub use world::{SimOutcome, SimTask, World};

/// How requests reach one API.
pub(crate) enum Api {
    /// A Tencent action, `POST /` with `X-TC-Action` and `X-TC-Version`.
    Tencent(tencent::Action),
    /// A Huawei REST resource, `GET /<version>/{project_id}/<resource>`.
    Huawei(huawei::Resource),
    /// An Alibaba OpenAPI action, `POST /` with `x-acs-action` and `x-acs-version`.
    Alibaba(alibaba::Action),
}

/// One API the simulator serves: the provider kind whose tasks it lists, its route, and what
/// a sample world of it looks like.
pub(crate) struct Route {
    pub kind: &'static str,
    pub api: Api,
    pub sample: Sample,
}

/// A sample world of one API, for `--demo`: two regions, task types as the API writes them.
#[derive(Debug)]
pub struct Sample {
    pub regions: [&'static str; 2],
    /// The API's own task type vocabulary.
    pub task_types: &'static [&'static str],
    /// Instance ids are this prefix, the region's index and a number.
    pub instance_prefix: &'static str,
    /// About one task in this many names two instances; 0 for never.
    pub multi_instance_one_in: usize,
    /// Sets the second region up differently (CDB answers in its other shape there).
    pub second_region: Option<fn(&Simulator, &str)>,
}

/// Every API the simulator serves; a new one is a file and a line here.
const ROUTES: &[Route] = &[
    tencent_postgres::ROUTE,
    tencent_mysql::ROUTE,
    tencent_redis::ROUTE,
    tencent_cynosdb::ROUTE,
    huawei_rds::ROUTE,
    huawei_gaussdb::ROUTE,
    huawei_taurusdb::ROUTE,
    huawei_dds::ROUTE,
    alibaba_rds::ROUTE,
    alibaba_redis::ROUTE,
    alibaba_mongodb::ROUTE,
    alibaba_polardb::ROUTE,
];

/// The provider kinds the simulator serves, in route order.
pub fn kinds() -> Vec<&'static str> {
    ROUTES.iter().map(|route| route.kind).collect()
}

/// The sample world of the API that lists `kind`'s tasks, if the simulator serves it.
pub fn sample(kind: &str) -> Option<&'static Sample> {
    ROUTES
        .iter()
        .find(|route| route.kind == kind)
        .map(|route| &route.sample)
}

/// Credentials the simulator accepts, with the rate limit it enforces for them per API.
#[derive(Debug, Clone)]
pub struct SimAccount {
    /// Tencent SecretId, Huawei AK or Alibaba AccessKey ID.
    pub id: String,
    pub secret: String,
    /// Required in `X-TC-Token` (Tencent), `X-Security-Token` (Huawei) or
    /// `x-acs-security-token` (Alibaba) when set.
    pub token: Option<String>,
    /// Requests per second per API before the simulator answers with throttling errors.
    pub rate_limit: f64,
    /// Huawei: the account's project id in each region (the path names the project, and the
    /// project decides the region).
    pub projects: BTreeMap<String, String>,
    /// Temporary credentials stop working then: the APIs answer with their expired-token
    /// error.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl SimAccount {
    /// A Tencent account: no token, 1000 requests per second per API.
    pub fn tencent(secret_id: &str, secret_key: &str) -> Self {
        SimAccount {
            id: secret_id.to_owned(),
            secret: secret_key.to_owned(),
            token: None,
            rate_limit: 1000.0,
            projects: BTreeMap::new(),
            expires_at: None,
        }
    }

    /// A Huawei account with its project per region: no token, 1000 requests per second.
    pub fn huawei(access_key: &str, secret_key: &str, projects: &[(&str, &str)]) -> Self {
        SimAccount {
            projects: projects
                .iter()
                .map(|(region, id)| ((*region).to_owned(), (*id).to_owned()))
                .collect(),
            ..SimAccount::tencent(access_key, secret_key)
        }
    }

    /// An Alibaba Cloud AccessKey pair: no STS token, 1000 requests per second per API.
    pub fn alibaba(access_key_id: &str, access_key_secret: &str) -> Self {
        SimAccount::tencent(access_key_id, access_key_secret)
    }

    pub fn with_rate_limit(self, rate_limit: f64) -> Self {
        SimAccount { rate_limit, ..self }
    }

    /// Whether the credentials have expired.
    pub fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= chrono::Utc::now())
    }

    pub fn with_token(self, token: &str) -> Self {
        SimAccount {
            token: Some(token.to_owned()),
            ..self
        }
    }
}

/// The simulated cloud. Cheap to clone; all clones share one world.
#[derive(Clone, Default)]
pub struct Simulator {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    accounts: Mutex<Vec<SimAccount>>,
    world: Mutex<World>,
    limiters: Mutex<HashMap<(String, &'static str), Arc<governor::DefaultDirectRateLimiter>>>,
    /// Regions whose CDB answers in the integer-code shape.
    cdb_code_regions: Mutex<HashSet<String>>,
    faults: Mutex<HashMap<&'static str, Faults>>,
    rng: Mutex<Option<fastrand::Rng>>,
    requests: AtomicU64,
    /// Requests being answered now, and the most there have been at once.
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    /// When each request of each API arrived, for rate checks.
    arrivals: Mutex<HashMap<&'static str, Vec<std::time::Instant>>>,
    /// The role bound to the VMs of each cloud, for the metadata services.
    roles: Mutex<HashMap<SimCloud, InstanceRole>>,
    /// The session tokens the metadata services handed out.
    metadata_tokens: Mutex<HashSet<String>>,
    /// Whether the metadata services answer 503.
    metadata_down: std::sync::atomic::AtomicBool,
    /// The roles STS lets callers assume, per cloud and role ARN.
    sts_roles: Mutex<HashMap<(SimCloud, String), StsRole>>,
    /// What Tencent's `AssumeRoleWithWebIdentity` accepts.
    web_identity: Mutex<Option<WebIdentity>>,
}

/// One request being answered, from its arrival until its answer is made or it is dropped.
struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    fn enter(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        inner.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(inner)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Simulator {
    pub fn new() -> Self {
        Simulator::default()
    }

    pub fn add_account(&self, account: SimAccount) {
        lock(&self.inner.accounts).push(account);
    }

    /// Binds `role` to the simulated VMs of `cloud`: its metadata service hands out its
    /// credentials. `None` unbinds it.
    pub fn bind_instance_role(&self, cloud: SimCloud, role: Option<InstanceRole>) {
        let mut roles = lock(&self.inner.roles);
        match role {
            Some(role) => roles.insert(cloud, role),
            None => roles.remove(&cloud),
        };
    }

    /// Lets STS of `cloud` hand out credentials of `role` (replacing a role of the same ARN).
    /// Huawei has no STS here: its roles are kept but never assumed.
    pub fn allow_assume_role(&self, cloud: SimCloud, role: StsRole) {
        lock(&self.inner.sts_roles).insert((cloud, role.role_arn.clone()), role);
    }

    /// Sets the one identity provider, token and role Tencent's `AssumeRoleWithWebIdentity`
    /// accepts (the role must also be allowed with [`Simulator::allow_assume_role`]); `None`
    /// refuses every call.
    pub fn set_web_identity(&self, identity: Option<WebIdentity>) {
        *lock(&self.inner.web_identity) = identity;
    }

    /// STS requests received so far (every cloud, valid or not).
    pub fn sts_requests(&self) -> usize {
        self.requests_of(sts::KIND)
    }

    fn sts_role(&self, cloud: SimCloud, role_arn: &str) -> Option<StsRole> {
        lock(&self.inner.sts_roles)
            .get(&(cloud, role_arn.to_owned()))
            .cloned()
    }

    fn web_identity(&self) -> Option<WebIdentity> {
        lock(&self.inner.web_identity).clone()
    }

    /// Issues new temporary credentials of `cloud` that work for `lifetime` (the metadata
    /// services' and STS's alike): adds them to the accounts and returns them with their
    /// expiry.
    fn issue(
        &self,
        cloud: SimCloud,
        lifetime: std::time::Duration,
        rate_limit: f64,
        projects: BTreeMap<String, String>,
    ) -> (SimAccount, chrono::DateTime<chrono::Utc>) {
        let expires_at = chrono::Utc::now()
            + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1));
        let prefix = match cloud {
            SimCloud::Tencent => "AKIDtmp",
            SimCloud::Huawei => "HWTMP",
            SimCloud::Alibaba => "STS.tmp",
        };
        let account = SimAccount {
            id: random_text(prefix, 24),
            secret: random_text("", 40),
            token: Some(random_text("tok-", 80)),
            rate_limit,
            projects,
            expires_at: Some(expires_at),
        };
        self.add_account(account.clone());
        (account, expires_at)
    }

    /// The temporary credentials the metadata services and STS have handed out so far.
    pub fn issued(&self) -> Vec<SimAccount> {
        lock(&self.inner.accounts)
            .iter()
            .filter(|a| a.expires_at.is_some())
            .cloned()
            .collect()
    }

    /// Makes every metadata service answer 503 (down) or serve again.
    pub fn set_metadata_down(&self, down: bool) {
        self.inner.metadata_down.store(down, Ordering::Relaxed);
    }

    fn metadata_down(&self) -> bool {
        self.inner.metadata_down.load(Ordering::Relaxed)
    }

    fn instance_role(&self, cloud: SimCloud) -> Option<InstanceRole> {
        lock(&self.inner.roles).get(&cloud).cloned()
    }

    fn remember_metadata_token(&self, token: &str) {
        lock(&self.inner.metadata_tokens).insert(token.to_owned());
    }

    fn knows_metadata_token(&self, token: &str) -> bool {
        lock(&self.inner.metadata_tokens).contains(token)
    }

    /// Gives tests and the generator the task timeline to change.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.inner.world)
    }

    /// Chooses the `Items[]` shape CDB's `DescribeTasks` answers with in `region` (default:
    /// [`CdbShape::Names`]).
    pub fn set_cdb_shape(&self, region: &str, shape: CdbShape) {
        let mut regions = lock(&self.inner.cdb_code_regions);
        match shape {
            CdbShape::Codes => regions.insert(region.to_owned()),
            CdbShape::Names => regions.remove(region),
        };
    }

    fn cdb_shape(&self, region: &str) -> CdbShape {
        if lock(&self.inner.cdb_code_regions).contains(region) {
            CdbShape::Codes
        } else {
            CdbShape::Names
        }
    }

    /// Sets the faults of one API kind (`tencent_postgres`, ...), replacing earlier ones.
    pub fn set_faults(&self, kind: &'static str, faults: Faults) {
        lock(&self.inner.faults).insert(kind, faults);
    }

    /// When each request of `kind` arrived, oldest first.
    pub fn arrivals(&self, kind: &str) -> Vec<std::time::Instant> {
        lock(&self.inner.arrivals)
            .get(kind)
            .cloned()
            .unwrap_or_default()
    }

    /// Requests of `kind` received so far, valid or not.
    pub fn requests_of(&self, kind: &str) -> usize {
        lock(&self.inner.arrivals).get(kind).map_or(0, Vec::len)
    }

    /// Records a request of `kind` and decides which fault, if any, it meets.
    fn arrive(&self, kind: &'static str) -> (std::time::Duration, Option<faults::Injected>) {
        lock(&self.inner.arrivals)
            .entry(kind)
            .or_default()
            .push(std::time::Instant::now());
        let mut all = lock(&self.inner.faults);
        let Some(faults) = all.get_mut(kind) else {
            return (std::time::Duration::ZERO, None);
        };
        let mut rng = lock(&self.inner.rng);
        let rng = rng.get_or_insert_with(|| fastrand::Rng::with_seed(0x5eed));
        (faults.latency, faults.roll(rng))
    }

    /// The most requests that were being answered at once (latency included), valid or not.
    pub fn peak_in_flight(&self) -> u64 {
        self.inner.peak_in_flight.load(Ordering::Relaxed)
    }

    /// Requests received so far, valid or not.
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    fn account(&self, id: &str) -> Option<SimAccount> {
        lock(&self.inner.accounts)
            .iter()
            .find(|a| a.id == id)
            .cloned()
    }

    /// Whether `account` may make one more request of `api` now.
    fn admit(&self, account: &SimAccount, api: &'static str) -> bool {
        let limiter = lock(&self.inner.limiters)
            .entry((account.id.clone(), api))
            .or_insert_with(|| {
                let per_second =
                    std::num::NonZeroU32::new(account.rate_limit.ceil().max(1.0) as u32)
                        .unwrap_or(std::num::NonZeroU32::MIN);
                Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
                    per_second,
                )))
            })
            .clone();
        limiter.check().is_ok()
    }

    /// Binds `127.0.0.1:0` and serves in the background; returns the address.
    pub async fn start(&self) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(self.clone().serve(listener));
        Ok(addr)
    }

    /// Serves HTTP/1 on `listener` until the runtime stops.
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let simulator = self.clone();
            tokio::spawn(async move {
                let (stream, reset) = Resettable::new(stream);
                let service = hyper::service::service_fn(move |req| {
                    let simulator = simulator.clone();
                    let reset = reset.clone();
                    async move {
                        // An error from the service makes hyper drop the connection unanswered.
                        simulator.handle(req).await.inspect_err(|_| reset.trip())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Response<Body>, Reset> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight::enter(&self.inner);
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Bytes::new(),
        };
        if metadata::matches(&parts) {
            self.arrive("metadata");
            return Ok(faults::whole(metadata::handle(self, &parts)));
        }
        let target = match sts::matches(&parts) {
            Some(cloud) => Target::Sts(cloud),
            None => {
                let route = ROUTES.iter().find(|route| match &route.api {
                    Api::Tencent(action) => action.matches(&parts),
                    Api::Huawei(resource) => resource.matches(&parts),
                    Api::Alibaba(action) => action.matches(&parts),
                });
                let Some(route) = route else {
                    // Tencent's APIs are all POSTs to `/`; anything else is a REST path.
                    return Ok(faults::whole(if alibaba::is_alibaba(&parts) {
                        alibaba::unknown_action(&parts)
                    } else if parts.uri.path() == "/" {
                        tencent::unknown_action(&parts)
                    } else {
                        huawei::not_found()
                    }));
                };
                Target::Task(route)
            }
        };
        let (latency, fault) = self.arrive(target.kind());
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mut spoilt = None;
        match fault {
            Some(Injected::Hang) => std::future::pending::<()>().await,
            Some(Injected::Reset) => return Err(Reset),
            Some(Injected::Instead(fault)) => return Ok(faults::whole(target.fault(fault))),
            Some(Injected::Spoilt(how)) => spoilt = Some(how),
            None => {}
        }
        let answer = target.answer(self, &parts, &body);
        Ok(match spoilt {
            Some(how) => faults::spoil(answer, how).await,
            None => faults::whole(answer),
        })
    }
}

/// What a request (other than a metadata one) is for: a task API, or the STS of a cloud.
enum Target<'a> {
    Task(&'a Route),
    Sts(SimCloud),
}

impl Target<'_> {
    /// The name its arrivals and faults are kept under.
    fn kind(&self) -> &'static str {
        match self {
            Target::Task(route) => route.kind,
            Target::Sts(_) => sts::KIND,
        }
    }

    /// An injected fault in its protocol's envelope.
    fn fault(&self, fault: faults::Substitute) -> Response<Full<Bytes>> {
        match self {
            Target::Task(route) => match route.api {
                Api::Tencent(_) => tencent::fault(fault),
                Api::Huawei(_) => huawei::fault(fault),
                Api::Alibaba(_) => alibaba::fault(fault),
            },
            Target::Sts(cloud) => sts::fault(*cloud, fault),
        }
    }

    fn answer(&self, sim: &Simulator, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        match self {
            Target::Task(route) => match &route.api {
                Api::Tencent(action) => tencent::handle(sim, route.kind, action, parts, body),
                Api::Huawei(resource) => huawei::handle(sim, route.kind, resource, parts, body),
                Api::Alibaba(action) => alibaba::handle(sim, route.kind, action, parts, body),
            },
            Target::Sts(cloud) => sts::handle(sim, *cloud, parts, body),
        }
    }
}

/// An error answer of an API that puts it in the HTTP status (Huawei's and Alibaba's): status,
/// code and message; each protocol writes it in its own envelope.
#[derive(Debug)]
pub(crate) struct HttpFault {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl HttpFault {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        HttpFault {
            status,
            code,
            message: message.into(),
        }
    }
}

/// The value of query parameter `name`, decoded; the first if it is repeated.
fn query_param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn json_response(status: u16, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// `prefix` and then `len` random letters and digits.
fn random_text(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..len)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect();
    format!("{prefix}{tail}")
}

/// A request id in the providers' UUID format.
fn request_id() -> String {
    let n = fastrand::u128(..);
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
