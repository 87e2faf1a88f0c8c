//! The VMs' instance metadata services of the three clouds, as their official SDKs read them
//! (`docs/sources/credentials.md`): each hands out temporary credentials of the role bound to
//! the VM, new ones on every ask, which the task APIs accept until they expire and then refuse
//! with the cloud's own expired-token error.
//!
//! - Tencent CVM: `GET /latest/meta-data/cam/security-credentials/` names the role,
//!   `.../<role>` gives `{Code, TmpSecretId, TmpSecretKey, Token, ExpiredTime, Expiration}`.
//! - Huawei ECS: `PUT /meta-data/latest/api/token` (with `X-Metadata-Token-Ttl-Seconds`) gives
//!   a session token, which `GET /openstack/latest/securitykey` requires in
//!   `X-Metadata-Token`; it gives `{"credential": {access, secret, securitytoken, expires_at}}`.
//!   Without an agency bound: 401 "Please configure Cloud Service Agency first".
//! - Alibaba ECS: `PUT /latest/api/token` (with `X-aliyun-ecs-metadata-token-ttl-seconds`)
//!   gives a session token, required in `X-aliyun-ecs-metadata-token` by
//!   `GET /latest/meta-data/ram/security-credentials/` (the role) and `.../<role>`
//!   (`{Code, AccessKeyId, AccessKeySecret, SecurityToken, Expiration, LastUpdated}`).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::Response;
use hyper::http::request::Parts;
use serde_json::json;

use super::{SimAccount, Simulator, json_response, random_text};

/// A cloud whose VMs have a metadata service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimCloud {
    Tencent,
    Huawei,
    Alibaba,
}

/// The role bound to the simulated VMs of one cloud.
#[derive(Debug, Clone)]
pub struct InstanceRole {
    pub role: String,
    /// How long the credentials handed out work.
    pub lifetime: Duration,
    /// Requests per second each set of credentials may make per API.
    pub rate_limit: f64,
    /// Huawei: the account's project per region.
    pub projects: BTreeMap<String, String>,
}

const TENCENT_ROLES: &str = "/latest/meta-data/cam/security-credentials/";
const HUAWEI_TOKEN: &str = "/meta-data/latest/api/token";
const HUAWEI_KEY: &str = "/openstack/latest/securitykey";
const ALIBABA_TOKEN: &str = "/latest/api/token";
const ALIBABA_ROLES: &str = "/latest/meta-data/ram/security-credentials/";

/// Whether a request is for a metadata service.
pub fn matches(parts: &Parts) -> bool {
    let path = parts.uri.path();
    path.starts_with(TENCENT_ROLES)
        || path == HUAWEI_TOKEN
        || path == HUAWEI_KEY
        || path == ALIBABA_TOKEN
        || path.starts_with(ALIBABA_ROLES)
}

fn text(status: u16, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.into())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers a metadata request.
pub fn handle(sim: &Simulator, parts: &Parts) -> Response<Full<Bytes>> {
    if sim.metadata_down() {
        return text(503, "Service Unavailable");
    }
    let path = parts.uri.path();
    let put = parts.method == hyper::Method::PUT;
    if let Some(role) = path.strip_prefix(TENCENT_ROLES) {
        return tencent(sim, role);
    }
    if path == HUAWEI_TOKEN && put {
        return session_token(sim, parts, "x-metadata-token-ttl-seconds");
    }
    if path == HUAWEI_KEY {
        return huawei(sim, parts);
    }
    if path == ALIBABA_TOKEN && put {
        return session_token(sim, parts, "x-aliyun-ecs-metadata-token-ttl-seconds");
    }
    if let Some(role) = path.strip_prefix(ALIBABA_ROLES) {
        return alibaba(sim, parts, role);
    }
    text(404, "Not Found")
}

/// A session token for a `PUT` that asks for one with a TTL of 1 to 21600 seconds.
fn session_token(sim: &Simulator, parts: &Parts, ttl_header: &str) -> Response<Full<Bytes>> {
    let ttl = header(parts, ttl_header).and_then(|t| t.parse::<u64>().ok());
    if !ttl.is_some_and(|t| (1..=21_600).contains(&t)) {
        return text(
            400,
            "Bad Request: the token TTL header is missing or out of range",
        );
    }
    let token = random_text("mdtok-", 40);
    sim.remember_metadata_token(&token);
    text(200, token)
}

/// Issues new credentials of `cloud`'s role, valid for its lifetime.
fn issue(
    sim: &Simulator,
    cloud: SimCloud,
    role: &InstanceRole,
) -> (SimAccount, chrono::DateTime<Utc>) {
    sim.issue(cloud, role.lifetime, role.rate_limit, role.projects.clone())
}

fn tencent(sim: &Simulator, asked: &str) -> Response<Full<Bytes>> {
    let Some(role) = sim.instance_role(SimCloud::Tencent) else {
        return text(404, "Not Found");
    };
    if asked.is_empty() {
        return text(200, role.role.clone());
    }
    if asked != role.role {
        return text(404, "Not Found");
    }
    let (account, expires_at) = issue(sim, SimCloud::Tencent, &role);
    json_response(
        200,
        &json!({
            "TmpSecretId": account.id,
            "TmpSecretKey": account.secret,
            "ExpiredTime": expires_at.timestamp(),
            "Expiration": expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "Token": account.token,
            "Code": "Success",
        }),
    )
}

fn huawei(sim: &Simulator, parts: &Parts) -> Response<Full<Bytes>> {
    if !header(parts, "x-metadata-token").is_some_and(|t| sim.knows_metadata_token(t)) {
        return text(
            401,
            "Unauthorized: the metadata token is missing or invalid",
        );
    }
    let Some(role) = sim.instance_role(SimCloud::Huawei) else {
        return text(401, "Please configure Cloud Service Agency first");
    };
    let (account, expires_at) = issue(sim, SimCloud::Huawei, &role);
    json_response(
        200,
        &json!({
            "credential": {
                "access": account.id,
                "secret": account.secret,
                "securitytoken": account.token,
                "expires_at": expires_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            }
        }),
    )
}

fn alibaba(sim: &Simulator, parts: &Parts, asked: &str) -> Response<Full<Bytes>> {
    if !header(parts, "x-aliyun-ecs-metadata-token").is_some_and(|t| sim.knows_metadata_token(t)) {
        return text(401, "Unauthorized");
    }
    let Some(role) = sim.instance_role(SimCloud::Alibaba) else {
        return text(404, "Not Found");
    };
    if asked.is_empty() {
        return text(200, role.role.clone());
    }
    if asked != role.role {
        return text(404, "Not Found");
    }
    let (account, expires_at) = issue(sim, SimCloud::Alibaba, &role);
    json_response(
        200,
        &json!({
            "Code": "Success",
            "AccessKeyId": account.id,
            "AccessKeySecret": account.secret,
            "SecurityToken": account.token,
            "Expiration": expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "LastUpdated": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }),
    )
}
