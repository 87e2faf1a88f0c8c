//! `source: instance_role`: the temporary credentials of the role bound to the VM, from the
//! cloud's metadata service, as the official SDKs fetch them (sources in
//! `docs/sources/credentials.md`):
//!
//! - Tencent CVM: `GET /latest/meta-data/cam/security-credentials/` names the role,
//!   `GET .../<role>` gives `TmpSecretId`, `TmpSecretKey`, `Token` and `ExpiredTime` (Unix
//!   seconds).
//! - Huawei ECS: `PUT /meta-data/latest/api/token` (`X-Metadata-Token-Ttl-Seconds`) gives a
//!   session token, sent as `X-Metadata-Token` with `GET /openstack/latest/securitykey`, which
//!   gives `credential.access`, `.secret`, `.securitytoken` and `.expires_at` (RFC 3339).
//! - Alibaba ECS: `PUT /latest/api/token` (`X-aliyun-ecs-metadata-token-ttl-seconds`) gives a
//!   session token, sent as `X-aliyun-ecs-metadata-token` with
//!   `GET /latest/meta-data/ram/security-credentials/` (the role) and `.../<role>`, which gives
//!   `AccessKeyId`, `AccessKeySecret`, `SecurityToken` and `Expiration` (RFC 3339), with `Code`
//!   `Success`.
//!
//! Every request has its own timeout and a bounded answer; nothing an answer holds reaches a
//! message but its field names and the HTTP status.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Issued, plausible};
use crate::cloud::{Cloud, Credentials, Keys};
use crate::http;
use crate::providers::{ApiError, ApiRequest, Outcome};
use crate::secret::Secret;

/// No metadata request waits longer: the service is on the VM's own link.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
/// The session token's lifetime asked for, as the SDKs ask (six hours).
const SESSION_TOKEN_TTL: &str = "21600";

/// The metadata service's address on `cloud`'s VMs.
pub fn default_endpoint(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Tencent => "http://metadata.tencentyun.com",
        Cloud::Huawei => "http://169.254.169.254",
        Cloud::Alibaba => "http://100.100.100.200",
    }
}

/// The role's credentials now, completing `base` (the account's settings) with their keys.
pub async fn fetch(
    client: &reqwest::Client,
    cloud: Cloud,
    endpoint: &str,
    role_name: Option<&str>,
    base: &Credentials,
) -> Result<Issued, ApiError> {
    let metadata = Metadata { client, endpoint };
    let (keys, expires_at) = match cloud {
        Cloud::Tencent => tencent(&metadata, role_name).await?,
        Cloud::Huawei => huawei(&metadata).await?,
        Cloud::Alibaba => alibaba(&metadata, role_name).await?,
    };
    Ok(Issued {
        credentials: base.with_keys(keys),
        expires_at: Some(expires_at),
    })
}

struct Metadata<'a> {
    client: &'a reqwest::Client,
    endpoint: &'a str,
}

impl Metadata<'_> {
    /// The body of `method path` with `headers`, or the error its status means.
    async fn ask(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<bytes::Bytes, ApiError> {
        let url = format!("{}{path}", self.endpoint);
        let request = ApiRequest {
            method,
            url: reqwest::Url::parse(&url)
                .map_err(|e| ApiError::Request(format!("metadata URL {url}: {e}")))?,
            headers,
            body: Vec::new(),
        };
        let answer = tokio::time::timeout(METADATA_TIMEOUT, http::exchange(self.client, request))
            .await
            .map_err(|_| {
                ApiError::Slow(format!(
                    "the metadata service at {} did not answer {path} within {} s",
                    self.endpoint,
                    METADATA_TIMEOUT.as_secs()
                ))
            })??;
        if !(200..300).contains(&answer.status) {
            let outcome = match answer.status {
                // No role bound, or not this one.
                401 | 403 | 404 => Outcome::AuthError,
                status => ApiError::outcome_of_http_status(status),
            };
            return Err(ApiError::Provider {
                outcome,
                code: format!("HTTP{}", answer.status),
                message: format!("the metadata service answered {path} with an error"),
                http_status: answer.status,
                request_id: None,
            });
        }
        Ok(answer.body)
    }

    async fn text(
        &self,
        path: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, ApiError> {
        let body = self.ask(reqwest::Method::GET, path, headers).await?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_response(format!("{path} is not text"), None))?;
        Ok(text.trim().to_owned())
    }

    async fn json(
        &self,
        path: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<Value, ApiError> {
        let body = self.ask(reqwest::Method::GET, path, headers).await?;
        serde_json::from_slice(&body)
            .map_err(|_| ApiError::bad_response(format!("{path} is not JSON"), None))
    }

    /// A session token from `PUT path` with `ttl_header`. `Ok(None)` when the service does
    /// not hand them out: it answered one of `without` (the statuses after which the SDK goes
    /// on without a token), or, with `lenient`, failed in any way.
    async fn session_token(
        &self,
        path: &str,
        ttl_header: &'static str,
        without: &[u16],
        lenient: bool,
    ) -> Result<Option<String>, ApiError> {
        let answer = self
            .ask(
                reqwest::Method::PUT,
                path,
                vec![(ttl_header, SESSION_TOKEN_TTL.to_owned())],
            )
            .await;
        let body = match answer {
            Ok(body) => body,
            Err(ApiError::Provider { http_status, .. }) if without.contains(&http_status) => {
                return Ok(None);
            }
            Err(_) if lenient => return Ok(None),
            Err(error) => return Err(error),
        };
        let token = std::str::from_utf8(&body).unwrap_or_default().trim();
        if token.is_empty() || token.len() > 4096 {
            return Err(ApiError::bad_response(
                format!("{path} gave no usable session token"),
                None,
            ));
        }
        Ok(Some(token.to_owned()))
    }

    /// The role to ask for: `role_name`, or the first the service lists at `path`.
    async fn role(
        &self,
        path: &str,
        role_name: Option<&str>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, ApiError> {
        if let Some(role) = role_name {
            return Ok(role.to_owned());
        }
        let listed = self.text(path, headers).await?;
        let role = listed.lines().next().unwrap_or_default().trim();
        if role.is_empty() || !super::is_role_name(role) {
            return Err(ApiError::Provider {
                outcome: Outcome::AuthError,
                code: "NoRole".into(),
                message: format!("the metadata service lists no usable role at {path}"),
                http_status: 200,
                request_id: None,
            });
        }
        Ok(role.to_owned())
    }
}

/// Tencent's and Alibaba's answers say `Code: Success`; anything else is a failure, as the
/// SDKs treat it.
fn success(answer: &Value, path: &str) -> Result<(), ApiError> {
    if answer.get("Code").and_then(Value::as_str) == Some("Success") {
        return Ok(());
    }
    Err(ApiError::Provider {
        outcome: Outcome::AuthError,
        code: "NotSuccess".into(),
        message: format!("{path} did not answer Code Success"),
        http_status: 200,
        request_id: None,
    })
}

/// A required text field of a credentials answer.
fn field(value: &Value, path: &str, name: &str) -> Result<String, ApiError> {
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_response(format!("{path} has no {name}"), None))
}

fn rfc3339(value: &Value, path: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    let text = field(value, path, name)?;
    let at = DateTime::parse_from_rfc3339(&text).map_err(|_| {
        ApiError::bad_response(format!("{path}: {name} is not an RFC 3339 time"), None)
    })?;
    plausible(at.with_timezone(&Utc), path)
}

async fn tencent(
    metadata: &Metadata<'_>,
    role_name: Option<&str>,
) -> Result<(Keys, DateTime<Utc>), ApiError> {
    const ROLES: &str = "/latest/meta-data/cam/security-credentials/";
    let role = metadata.role(ROLES, role_name, Vec::new()).await?;
    let path = format!("{ROLES}{role}");
    let answer = metadata.json(&path, Vec::new()).await?;
    success(&answer, &path)?;
    let expired = answer
        .get("ExpiredTime")
        .and_then(Value::as_i64)
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| ApiError::bad_response(format!("{path} has no ExpiredTime"), None))?;
    Ok((
        Keys {
            id: field(&answer, &path, "TmpSecretId")?,
            secret: Secret::new(field(&answer, &path, "TmpSecretKey")?),
            token: Some(Secret::new(field(&answer, &path, "Token")?)),
        },
        plausible(expired, &path)?,
    ))
}

async fn huawei(metadata: &Metadata<'_>) -> Result<(Keys, DateTime<Utc>), ApiError> {
    const PATH: &str = "/openstack/latest/securitykey";
    // huaweicloudsdkcore goes on without a token only after 404, 405 or 503.
    let token = metadata
        .session_token(
            "/meta-data/latest/api/token",
            "X-Metadata-Token-Ttl-Seconds",
            &[404, 405, 503],
            false,
        )
        .await?;
    let headers = token
        .map(|t| vec![("X-Metadata-Token", t)])
        .unwrap_or_default();
    let answer = metadata.json(PATH, headers).await?;
    let credential = answer
        .get("credential")
        .ok_or_else(|| ApiError::bad_response(format!("{PATH} has no credential"), None))?;
    Ok((
        Keys {
            id: field(credential, PATH, "access")?,
            secret: Secret::new(field(credential, PATH, "secret")?),
            token: Some(Secret::new(field(credential, PATH, "securitytoken")?)),
        },
        rfc3339(credential, PATH, "expires_at")?,
    ))
}

async fn alibaba(
    metadata: &Metadata<'_>,
    role_name: Option<&str>,
) -> Result<(Keys, DateTime<Utc>), ApiError> {
    const ROLES: &str = "/latest/meta-data/ram/security-credentials/";
    // alibabacloud-credentials falls back to asking without a token when getting one fails;
    // a token it gets but cannot use (empty, or absurdly long) is an error here.
    let token = metadata
        .session_token(
            "/latest/api/token",
            "X-aliyun-ecs-metadata-token-ttl-seconds",
            &[],
            true,
        )
        .await?;
    let headers = || {
        token
            .clone()
            .map(|t| vec![("X-aliyun-ecs-metadata-token", t)])
            .unwrap_or_default()
    };
    let role = metadata.role(ROLES, role_name, headers()).await?;
    let path = format!("{ROLES}{role}");
    let answer = metadata.json(&path, headers()).await?;
    success(&answer, &path)?;
    Ok((
        Keys {
            id: field(&answer, &path, "AccessKeyId")?,
            secret: Secret::new(field(&answer, &path, "AccessKeySecret")?),
            token: Some(Secret::new(field(&answer, &path, "SecurityToken")?)),
        },
        rfc3339(&answer, &path, "Expiration")?,
    ))
}
