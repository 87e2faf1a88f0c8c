//! Where an account's credentials come from, and keeping temporary ones fresh.
//!
//! An account's [`Source`] is `static` (keys in the config, its files or variables), the SDKs'
//! `environment` variables, or an `instance_role` bound to the VM, fetched from the metadata
//! service. Temporary credentials are held by one [`AccountCredentials`] per account, shared by
//! its targets, and refreshed in the background ahead of their expiry, one refresh in flight
//! at a time: a scrape reads the current ones and waits only for the very first fetch. A
//! failed refresh keeps the old credentials while they are valid and is retried with backoff;
//! once they have expired, the account's requests fail as `auth_error` with one log line naming
//! the account and the source.

pub mod environment;
pub mod instance_role;
pub mod sts;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

pub use crate::cloud::Keys;
use crate::cloud::{Cloud, Credentials};
use crate::providers::{ApiError, Outcome};

/// How an account gets its credentials: the config's `credentials.source`.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Keys in the config, its files or variables; never refreshed.
    Static,
    /// The SDKs' environment variables, read when the config is loaded.
    Environment,
    /// The role bound to the VM, from the metadata service.
    InstanceRole {
        /// The role to ask for; by default the one the metadata service names.
        role_name: Option<String>,
        metadata_endpoint: String,
    },
    /// Tencent TKE workload identity: an OIDC token exchanged at STS. What the config leaves
    /// out is read from the `TKE_*` variables on every refresh, as the SDK does.
    WebIdentity {
        provider_id: Option<String>,
        role_arn: Option<String>,
        token_file: Option<String>,
    },
}

/// Everything about where an account's credentials come from: a [`Source`], and optionally a
/// role to assume with what it gives (`credentials.assume_role`), at `sts_endpoint`.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub source: Source,
    pub assume_role: Option<sts::AssumeRole>,
    /// STS's address, when not the cloud's default.
    pub sts_endpoint: Option<String>,
}

impl Origin {
    /// Whether the credentials come and go: only those are fetched and refreshed.
    pub fn is_temporary(&self) -> bool {
        self.source.is_temporary() || self.assume_role.is_some()
    }

    /// As the landing page and the logs name it: the source, where it asks, and the role
    /// assumed (never a key).
    pub fn describe(&self) -> String {
        match &self.assume_role {
            None => self.source.describe(),
            Some(role) => format!(
                "{} then assume_role {}",
                self.source.describe(),
                role.role_arn
            ),
        }
    }
}

impl Source {
    /// The `credentials.source` value.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Static => "static",
            Source::Environment => "environment",
            Source::InstanceRole { .. } => "instance_role",
            Source::WebIdentity { .. } => "web_identity",
        }
    }

    /// The source as the landing page shows it: its name and where it asks (never a key).
    pub fn describe(&self) -> String {
        match self {
            Source::InstanceRole {
                role_name: Some(role),
                metadata_endpoint,
            } => format!("instance_role {role} from {metadata_endpoint}"),
            Source::InstanceRole {
                role_name: None,
                metadata_endpoint,
            } => format!("instance_role from {metadata_endpoint}"),
            Source::WebIdentity {
                role_arn: Some(role),
                ..
            } => format!("web_identity {role}"),
            other => other.name().to_owned(),
        }
    }

    /// Whether the credentials come and go: only those are fetched and refreshed.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Source::InstanceRole { .. } | Source::WebIdentity { .. }
        )
    }
}

/// Whether `name` can be a role name (Tencent CAM, Alibaba RAM): it goes into a metadata URL.
pub fn is_role_name(name: &str) -> bool {
    name.len() <= 128
        // Not `.` or `..`: a path segment that walks up.
        && name.chars().any(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// Credentials that do not live at least this long once received are not worth having (the
/// tests' simulated credentials live 3 s or more).
const MIN_LIFETIME: Duration = Duration::from_secs(1);

/// An expiry at least [`MIN_LIFETIME`] and at most a year away: credentials already expired
/// (a skewed clock on either side) are a failed fetch, retried with backoff, not a success to
/// fetch again every second; and one far away would have the refresher wait for ever.
pub(crate) fn plausible(expires_at: DateTime<Utc>, what: &str) -> Result<DateTime<Utc>, ApiError> {
    let now = Utc::now();
    let soonest = now + chrono::Duration::from_std(MIN_LIFETIME).unwrap_or_default();
    if expires_at < soonest {
        return Err(ApiError::bad_response(
            format!(
                "{what} gives credentials that have expired or expire within {} s (is a clock wrong?)",
                MIN_LIFETIME.as_secs()
            ),
            None,
        ));
    }
    if expires_at > now + chrono::Duration::days(366) {
        return Err(ApiError::bad_response(
            format!("{what} gives an expiry more than a year away"),
            None,
        ));
    }
    Ok(expires_at)
}

/// The longest the refresher sleeps at once: its plan is in wall-clock time, which a suspended
/// VM or a clock step moves while the monotonic clock of its timer does not.
const MAX_NAP: Duration = Duration::from_secs(60);

/// Sleeps until the wall clock reads `at`, waking at least every [`MAX_NAP`] to look.
async fn sleep_until(at: DateTime<Utc>) {
    while let Ok(left) = (at - Utc::now()).to_std() {
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(MAX_NAP)).await;
    }
}

/// Credentials as a source issued them.
#[derive(Debug, Clone)]
pub struct Issued {
    pub credentials: Credentials,
    /// When they stop working; `None` for keys that do not expire.
    pub expires_at: Option<DateTime<Utc>>,
}

/// How long before expiry each cloud's SDK refreshes instance-role credentials (see
/// `docs/sources/credentials.md`): tencentcloud-sdk-python `CVMRoleCredential` with 300 s
/// left, huaweicloudsdkcore `MetadataCredentialProvider` with 2400 s left, and
/// alibabacloud-credentials `EcsRamRoleCredentialProvider` 15 minutes before. The same margin
/// serves the cloud's STS credentials (assumed roles, web identity), whose SDK providers
/// refresh by a share of the lifetime instead. A refresh starts then, or halfway through a
/// lifetime shorter than twice that.
pub fn refresh_margin(cloud: Cloud) -> Duration {
    match cloud {
        Cloud::Tencent => Duration::from_secs(300),
        Cloud::Huawei => Duration::from_secs(2400),
        Cloud::Alibaba => Duration::from_secs(15 * 60),
    }
}

/// The session name of web-identity credentials (the SDK's is `tencentcloud-python-sdk-<time>`).
const WEB_IDENTITY_SESSION: &str = "cloud-task-exporter";
/// How long web-identity credentials are asked for: the SDK's default.
const WEB_IDENTITY_DURATION: Duration = Duration::from_secs(7200);

/// The web identity to exchange: what the config says, the rest from the `TKE_*` variables
/// (tencentcloud-sdk-python-common `DefaultTkeOIDCRoleArnProvider`), read now.
fn web_identity(
    provider_id: &Option<String>,
    role_arn: &Option<String>,
    token_file: &Option<String>,
) -> Result<sts::WebIdentity, ApiError> {
    let pick = |configured: &Option<String>, variable: &str| {
        configured
            .clone()
            .or_else(|| std::env::var(variable).ok().filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                ApiError::Request(format!(
                    "web_identity: neither the config nor {variable} says it"
                ))
            })
    };
    Ok(sts::WebIdentity {
        provider_id: pick(provider_id, "TKE_PROVIDER_ID")?,
        role_arn: pick(role_arn, "TKE_ROLE_ARN")?,
        token_file: pick(token_file, "TKE_WEB_IDENTITY_TOKEN_FILE")?,
        region: std::env::var("TKE_REGION")
            .ok()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "ap-guangzhou".to_owned()),
    })
}

/// The soonest a refresh follows a successful one: only a guard against a spin, since
/// [`plausible`] takes no credentials with less than [`MIN_LIFETIME`] left, whose half is more.
const MIN_REFRESH_PAUSE: Duration = Duration::from_millis(100);

/// How long until refreshing credentials with `left` to live: until `margin` is left, or
/// halfway when they live less than twice that. Never at or after the expiry: a floor of a
/// second here once let credentials with 1.2 s left (Tencent's whole-second `ExpiredTime`
/// takes up to a second off a lifetime) expire before their refresh.
fn refresh_in(left: Duration, margin: Duration) -> Duration {
    left.saturating_sub(margin.min(left / 2))
        .max(MIN_REFRESH_PAUSE)
}

/// Backoff after the n-th failed refresh in a row (from 0): 1 s doubling to a minute.
fn retry_after(failures: u32) -> Duration {
    Duration::from_secs(1)
        .saturating_mul(2u32.saturating_pow(failures.min(6)))
        .min(Duration::from_secs(60))
}

/// What an account's credentials do, for the metrics.
pub trait Observer: Send + Sync {
    /// A fetch of `account`'s temporary credentials ended with `outcome`.
    fn credentials_refreshed(&self, account: &str, outcome: Outcome);
}

/// The state every reader of an account's credentials sees.
#[derive(Debug, Clone, Default)]
struct State {
    issued: Option<Arc<Issued>>,
    /// Why the last refresh failed, while it has not succeeded since.
    last_error: Option<String>,
    /// Whether the first fetch has ended (well or not).
    settled: bool,
}

/// One account's credentials: fixed, or fetched and kept fresh by a background task that lives
/// as long as this value.
pub struct AccountCredentials {
    account: String,
    cloud: Cloud,
    origin: Origin,
    state: watch::Receiver<State>,
    sender: Arc<watch::Sender<State>>,
    /// The keys a temporary source's credentials are completed with (Huawei's projects).
    base: Credentials,
    client: reqwest::Client,
    observer: Arc<dyn Observer>,
    refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether the expiry of the credentials has been logged, so it is logged once.
    expiry_logged: AtomicBool,
    /// Whether the refresher has been started (the fast path of [`AccountCredentials::start`]).
    started: AtomicBool,
}

impl AccountCredentials {
    /// Credentials from `source`; for a static or environment source, `credentials` are the
    /// keys themselves, for a temporary one the account's settings that go with the keys.
    /// A temporary source starts fetching at once when there is a runtime to do it on.
    pub fn new(
        account: &str,
        cloud: Cloud,
        origin: Origin,
        credentials: Credentials,
        client: reqwest::Client,
        observer: Arc<dyn Observer>,
    ) -> Arc<Self> {
        let initial = if origin.is_temporary() {
            State::default()
        } else {
            State {
                issued: Some(Arc::new(Issued {
                    credentials: credentials.clone(),
                    expires_at: None,
                })),
                last_error: None,
                settled: true,
            }
        };
        let (sender, state) = watch::channel(initial);
        let this = Arc::new(AccountCredentials {
            account: account.to_owned(),
            cloud,
            origin,
            state,
            sender: Arc::new(sender),
            base: credentials,
            client,
            observer,
            refresher: Mutex::new(None),
            expiry_logged: AtomicBool::new(false),
            started: AtomicBool::new(false),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            this.start();
        }
        this
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// When the current credentials expire, if they do and have been issued.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.state.borrow().issued.as_ref()?.expires_at
    }

    /// Whether `other` gets its credentials from the same place with the same settings, so
    /// that what it fetched is valid here.
    pub fn same_as(&self, other: &AccountCredentials) -> bool {
        other.is(&self.account, &self.origin, &self.base)
    }

    /// Whether these are `account`'s credentials from `origin` with `base`'s settings.
    pub fn is(&self, account: &str, origin: &Origin, base: &Credentials) -> bool {
        self.account == account && self.origin == *origin && self.base == *base
    }

    /// Starts the background refresh, once; static credentials have none.
    fn start(self: &Arc<Self>) {
        if !self.origin.is_temporary() || self.started.load(Ordering::Acquire) {
            return;
        }
        let mut refresher = self.refresher.lock().unwrap_or_else(|p| p.into_inner());
        if refresher.is_none() {
            let task = Refresher {
                account: self.account.clone(),
                cloud: self.cloud,
                origin: self.origin.clone(),
                base: self.base.clone(),
                client: self.client.clone(),
                observer: self.observer.clone(),
                sender: self.sender.clone(),
            };
            *refresher = Some(tokio::spawn(task.run()));
            self.started.store(true, Ordering::Release);
        }
    }

    /// Credentials valid now, waiting (until `deadline`) only for a first fetch still in
    /// flight. Expired or never issued credentials are an `auth_error` naming the account and
    /// the source.
    pub async fn current(self: &Arc<Self>, deadline: Instant) -> Result<Arc<Issued>, ApiError> {
        self.start();
        let mut state = self.state.clone();
        let snapshot = match tokio::time::timeout_at(deadline, state.wait_for(|s| s.settled)).await
        {
            Ok(Ok(settled)) => settled.clone(),
            // The refresher is gone (it never is while this value lives), or the deadline.
            Ok(Err(_)) | Err(_) => return Err(ApiError::Timeout),
        };
        match &snapshot.issued {
            Some(issued) if issued.expires_at.is_none_or(|at| at > Utc::now()) => {
                self.expiry_logged.store(false, Ordering::Relaxed);
                Ok(issued.clone())
            }
            issued => {
                let why = snapshot
                    .last_error
                    .as_deref()
                    .unwrap_or("no refresh has succeeded");
                let message = match issued.as_ref().and_then(|i| i.expires_at) {
                    Some(at) => format!(
                        "the credentials of account {} from {} expired at {}: {why}",
                        self.account,
                        self.origin.describe(),
                        at.format("%Y-%m-%dT%H:%M:%SZ")
                    ),
                    None => format!(
                        "account {} has no credentials from {}: {why}",
                        self.account,
                        self.origin.describe()
                    ),
                };
                if !self.expiry_logged.swap(true, Ordering::Relaxed) {
                    tracing::error!(account = %self.account, source = %self.origin.describe(), "{message}");
                }
                Err(ApiError::Credentials(message))
            }
        }
    }
}

impl Drop for AccountCredentials {
    fn drop(&mut self) {
        if let Some(task) = self
            .refresher
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// The background refresh of one account's temporary credentials.
struct Refresher {
    account: String,
    cloud: Cloud,
    origin: Origin,
    base: Credentials,
    client: reqwest::Client,
    observer: Arc<dyn Observer>,
    sender: Arc<watch::Sender<State>>,
}

impl Refresher {
    async fn run(self) {
        let mut failures = 0;
        loop {
            let pause = match self.fetch().await {
                Ok(issued) => {
                    failures = 0;
                    self.observer
                        .credentials_refreshed(&self.account, Outcome::Ok);
                    let Some(expires_at) = issued.expires_at else {
                        self.publish(Some(Arc::new(issued)), None);
                        return;
                    };
                    let pause = self.until_refresh(expires_at);
                    self.publish(Some(Arc::new(issued)), None);
                    pause
                }
                Err(error) => {
                    self.observer
                        .credentials_refreshed(&self.account, error.outcome());
                    let valid_until = self
                        .sender
                        .borrow()
                        .issued
                        .as_ref()
                        .and_then(|i| i.expires_at);
                    let retry_in_s = retry_after(failures).as_secs();
                    let valid_until =
                        valid_until.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                    // The first failure of a streak is a warning; its retries are debug.
                    if failures == 0 {
                        tracing::warn!(
                            account = %self.account,
                            source = %self.origin.describe(),
                            valid_until,
                            retry_in_s,
                            "refreshing credentials failed: {error}"
                        );
                    } else {
                        tracing::debug!(
                            account = %self.account,
                            source = %self.origin.describe(),
                            valid_until,
                            retry_in_s,
                            "refreshing credentials failed again: {error}"
                        );
                    }
                    let previous = self.sender.borrow().issued.clone();
                    self.publish(previous, Some(error.to_string()));
                    let pause = retry_after(failures);
                    failures = failures.saturating_add(1);
                    pause
                }
            };
            let at = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
            sleep_until(at).await;
        }
    }

    async fn fetch(&self) -> Result<Issued, ApiError> {
        let cloud = self.cloud;
        let sts_endpoint = || {
            let default = match cloud {
                Cloud::Alibaba => sts::ALIBABA_ENDPOINT,
                _ => sts::TENCENT_ENDPOINT,
            };
            let text = self.origin.sts_endpoint.as_deref().unwrap_or(default);
            reqwest::Url::parse(text)
                .map_err(|e| ApiError::Request(format!("sts_endpoint {text}: {e}")))
        };
        let issued = match &self.origin.source {
            Source::InstanceRole {
                role_name,
                metadata_endpoint,
            } => {
                instance_role::fetch(
                    &self.client,
                    cloud,
                    metadata_endpoint,
                    role_name.as_deref(),
                    &self.base,
                )
                .await?
            }
            Source::WebIdentity {
                provider_id,
                role_arn,
                token_file,
            } => {
                let identity = web_identity(provider_id, role_arn, token_file)?;
                sts::tencent_web_identity(
                    &self.client,
                    &sts_endpoint()?,
                    &identity,
                    WEB_IDENTITY_SESSION,
                    WEB_IDENTITY_DURATION,
                    &self.base,
                )
                .await?
            }
            Source::Static | Source::Environment => Issued {
                credentials: self.base.clone(),
                expires_at: None,
            },
        };
        let Some(role) = &self.origin.assume_role else {
            return Ok(issued);
        };
        let endpoint = sts_endpoint()?;
        match cloud {
            Cloud::Tencent => {
                sts::tencent_assume_role(
                    &self.client,
                    &endpoint,
                    &issued.credentials,
                    role,
                    &self.base,
                )
                .await
            }
            Cloud::Alibaba => {
                sts::alibaba_assume_role(
                    &self.client,
                    &endpoint,
                    &issued.credentials,
                    role,
                    &self.base,
                )
                .await
            }
            Cloud::Huawei => Err(ApiError::Request(
                "assume_role is not available for Huawei accounts".into(),
            )),
        }
    }

    /// How long to wait before refreshing credentials that expire at `expires_at`: until the
    /// cloud's margin before it, or halfway there when the lifetime is shorter.
    fn until_refresh(&self, expires_at: DateTime<Utc>) -> Duration {
        let left = (expires_at - Utc::now()).to_std().unwrap_or_default();
        refresh_in(left, refresh_margin(self.cloud))
    }

    /// What every reader sees from now on: the credentials to use, and why the last refresh
    /// failed, if it did.
    fn publish(&self, issued: Option<Arc<Issued>>, error: Option<String>) {
        self.sender.send_replace(State {
            issued,
            last_error: error,
            settled: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_start_at_the_margin_or_halfway() {
        let s = Duration::from_secs;
        // Six hours of Huawei credentials: with 40 minutes left.
        assert_eq!(refresh_in(s(6 * 3600), s(2400)), s(6 * 3600 - 2400));
        // Ten minutes of Tencent credentials: five minutes left is also halfway.
        assert_eq!(refresh_in(s(600), s(300)), s(300));
        // Three seconds (the tests): halfway.
        assert_eq!(refresh_in(s(3), s(300)), Duration::from_millis(1500));
        assert_eq!(refresh_in(s(30), s(300)), s(15));
        // A second and a bit (a whole-second expiry cut off most of two): halfway, not
        // after they expire.
        assert_eq!(
            refresh_in(Duration::from_millis(1200), s(300)),
            Duration::from_millis(600)
        );
        // Already expired (never taken, see `plausible`): soon, never in a spin.
        assert_eq!(refresh_in(Duration::ZERO, s(300)), MIN_REFRESH_PAUSE);
    }

    #[test]
    fn only_plausible_expiries_are_taken() {
        let now = Utc::now();
        assert!(plausible(now + chrono::Duration::hours(6), "x").is_ok());
        assert!(plausible(now + chrono::Duration::seconds(30), "x").is_ok());
        for odd in [
            now - chrono::Duration::hours(1),
            now + chrono::Duration::milliseconds(500),
            now - chrono::Duration::days(2),
            now + chrono::Duration::days(400),
        ] {
            let err = plausible(odd, "the metadata service").unwrap_err();
            assert_eq!(err.outcome(), Outcome::BadResponse);
        }
    }

    #[test]
    fn retries_back_off_to_a_minute() {
        let pauses: Vec<u64> = (0..9).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
