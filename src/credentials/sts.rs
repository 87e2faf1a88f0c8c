//! Security Token Service calls that turn one set of credentials (or, for Tencent's TKE, an
//! OIDC token) into temporary credentials of a role, as the official SDKs make them (sources
//! in `docs/sources/credentials.md` §1.3, §1.4 and §3.3):
//!
//! - Tencent `AssumeRole` and `AssumeRoleWithWebIdentity` (STS `2018-08-13`): TC3-signed JSON
//!   POSTs with the credential scope `sts`, the web-identity one unsigned
//!   (`Authorization: SKIP`); the answer's `Credentials{TmpSecretId, TmpSecretKey, Token}` and
//!   `ExpiredTime` (Unix seconds).
//! - Alibaba `AssumeRole` (STS `2015-04-01`), as alibabacloud-sts20150401 calls it: an RPC
//!   POST signed with ACS3-HMAC-SHA256; the answer's `Credentials{AccessKeyId,
//!   AccessKeySecret, SecurityToken, Expiration}` (UTC).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Issued, plausible};
use crate::cloud::{Credentials, Keys};
use crate::http;
use crate::providers::{ApiError, ApiRequest, alibaba, tencent};
use crate::secret::Secret;

/// No STS request waits longer (the SDKs: Tencent 60 s, Alibaba 5 s to connect and 10 s to
/// read).
const STS_TIMEOUT: Duration = Duration::from_secs(15);

/// Tencent STS's default host, region and version (tencentcloud-sdk-python-common
/// `credential.py`: `STSAssumeRoleCredential`).
pub const TENCENT_ENDPOINT: &str = "https://sts.tencentcloudapi.com";
const TENCENT_REGION: &str = "ap-guangzhou";
const TENCENT_VERSION: &str = "2018-08-13";
/// Alibaba STS's default host and version (alibabacloud-credentials `ram_role_arn.py`).
pub const ALIBABA_ENDPOINT: &str = "https://sts.aliyuncs.com";
const ALIBABA_VERSION: &str = "2015-04-01";

/// The role to assume and how (`credentials.assume_role`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration: Duration,
}

/// Tencent's TKE workload identity: the OIDC provider, the role and the token file, and the
/// region STS is asked in.
#[derive(Debug, Clone, PartialEq)]
pub struct WebIdentity {
    pub provider_id: String,
    pub role_arn: String,
    pub token_file: String,
    pub region: String,
}

async fn send(client: &reqwest::Client, request: ApiRequest) -> Result<http::Answer, ApiError> {
    let host = request.url.host_str().unwrap_or_default().to_owned();
    tokio::time::timeout(STS_TIMEOUT, http::exchange(client, request))
        .await
        .map_err(|_| {
            ApiError::Slow(format!(
                "STS at {host} did not answer within {} s",
                STS_TIMEOUT.as_secs()
            ))
        })?
}

/// Credentials of `role`, assumed with `caller`'s (Tencent).
pub async fn tencent_assume_role(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    caller: &Credentials,
    role: &AssumeRole,
    base: &Credentials,
) -> Result<Issued, ApiError> {
    let body = json!({
        "RoleArn": role.role_arn,
        "RoleSessionName": role.session_name,
        "DurationSeconds": role.duration.as_secs(),
    });
    tencent_call(
        client,
        endpoint,
        "AssumeRole",
        TENCENT_REGION,
        Some(caller),
        &body,
        base,
    )
    .await
}

/// Credentials of the web identity's role, for its current token (the file is read on every
/// call, as the SDK does: the platform rotates it).
pub async fn tencent_web_identity(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    identity: &WebIdentity,
    session_name: &str,
    duration: Duration,
    base: &Credentials,
) -> Result<Issued, ApiError> {
    let token = crate::files::read_text(
        std::path::Path::new(&identity.token_file),
        crate::files::MAX_SECRET_BYTES,
    )
    .map_err(|e| {
        ApiError::Request(format!(
            "cannot read the web identity token file {}: {e}",
            identity.token_file
        ))
    })?;
    let body = json!({
        "ProviderId": identity.provider_id,
        "WebIdentityToken": token.trim_end_matches(['\r', '\n']),
        "RoleArn": identity.role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": duration.as_secs(),
    });
    tencent_call(
        client,
        endpoint,
        "AssumeRoleWithWebIdentity",
        &identity.region,
        None,
        &body,
        base,
    )
    .await
}

async fn tencent_call(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    action: &str,
    region: &str,
    caller: Option<&Credentials>,
    body: &Value,
    base: &Credentials,
) -> Result<Issued, ApiError> {
    let request = tencent::post(
        &tencent::Call {
            endpoint,
            service: "sts",
            action,
            version: TENCENT_VERSION,
            region,
            now: Utc::now(),
        },
        caller,
        body,
    )?;
    let answer = send(client, request).await?;
    let (response, request_id) = tencent::parse_envelope(&answer.as_response())?;
    let answer = Answer {
        action,
        body: &response,
        request_id,
    };
    let expires_at = response
        .get("ExpiredTime")
        .and_then(Value::as_i64)
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| answer.missing("ExpiredTime"))?;
    answer.issued(["TmpSecretId", "TmpSecretKey", "Token"], expires_at, base)
}

/// Credentials of `role`, assumed with `caller`'s (Alibaba).
pub async fn alibaba_assume_role(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    caller: &Credentials,
    role: &AssumeRole,
    base: &Credentials,
) -> Result<Issued, ApiError> {
    let nonce = format!("{:032x}", fastrand::u128(..));
    let request = alibaba::rpc(
        &alibaba::Call {
            endpoint,
            action: "AssumeRole",
            version: ALIBABA_VERSION,
            now: Utc::now(),
            nonce: &nonce,
        },
        caller,
        &[
            ("RoleArn", role.role_arn.clone()),
            ("RoleSessionName", role.session_name.clone()),
            ("DurationSeconds", role.duration.as_secs().to_string()),
        ],
    )?;
    let answer = send(client, request).await?;
    let body = alibaba::parse_json(&answer.as_response())?;
    let answer = Answer {
        action: "AssumeRole",
        request_id: body
            .get("RequestId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        body: &body,
    };
    let expiration = answer.credential("Expiration")?;
    let expires_at = DateTime::parse_from_rfc3339(&expiration)
        .map_err(|_| answer.missing("a readable Expiration"))?
        .with_timezone(&Utc);
    answer.issued(
        ["AccessKeyId", "AccessKeySecret", "SecurityToken"],
        expires_at,
        base,
    )
}

/// An STS answer that should hold credentials under `Credentials`.
struct Answer<'a> {
    action: &'a str,
    body: &'a Value,
    request_id: Option<String>,
}

impl Answer<'_> {
    fn missing(&self, name: &str) -> ApiError {
        ApiError::bad_response(
            format!("{} answered without {name}", self.action),
            self.request_id.clone(),
        )
    }

    /// A text field of `Credentials`, not empty.
    fn credential(&self, name: &str) -> Result<String, ApiError> {
        self.body
            .get("Credentials")
            .and_then(|c| c.get(name))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| self.missing(name))
    }

    /// The credentials named `[id, secret, token]`, expiring at `expires_at` (if plausible),
    /// completing `base`.
    fn issued(
        &self,
        [id, secret, token]: [&str; 3],
        expires_at: DateTime<Utc>,
        base: &Credentials,
    ) -> Result<Issued, ApiError> {
        let expires_at = plausible(expires_at, self.action)?;
        Ok(Issued {
            credentials: base.with_keys(Keys {
                id: self.credential(id)?,
                secret: Secret::new(self.credential(secret)?),
                token: Some(Secret::new(self.credential(token)?)),
            }),
            expires_at: Some(expires_at),
        })
    }
}
