//! The security token services, with which a caller trades its own credentials (or, on
//! Tencent, a web identity token) for temporary credentials of a role: they are new
//! [`SimAccount`](super::SimAccount)s with an expiry, which the task APIs accept until it
//! passes. Written from `docs/sources/credentials.md` §1.3, §1.4, §1.6 and §3.3, §3.6, and
//! checked against the official SDKs (`sim/sdk-check/sts.py`).
//!
//! - Tencent STS `2018-08-13` (`POST /`, `X-TC-Action`, JSON body, errors as HTTP 200
//!   `Response.Error`):
//!   - `AssumeRole`, TC3-signed with credential scope service `sts` by static or temporary
//!     credentials (`X-TC-Token`): `RoleArn`, `RoleSessionName` (2-128 of `[\w+=,.@_-]`),
//!     `DurationSeconds` (default 7200, at most 43200).
//!   - `AssumeRoleWithWebIdentity`, unsigned (`Authorization: SKIP`, no `X-TC-Token`):
//!     `ProviderId`, `WebIdentityToken`, `RoleArn`, `RoleSessionName`, `DurationSeconds`.
//!
//!   Both answer `{"Response": {"Credentials": {"Token", "TmpSecretId", "TmpSecretKey"},
//!   "ExpiredTime": <unix s>, "Expiration": "<ISO 8601 UTC>", "RequestId"}}`.
//! - Alibaba STS `2015-04-01` `AssumeRole` as the official `alibabacloud-sts20150401` SDK sends
//!   it: RPC `POST /` with `x-acs-action`/`x-acs-version`, ACS3-HMAC-SHA256, the parameters in
//!   the query (a form body is read too): `RoleArn`, `RoleSessionName` (2-64 of letters, digits
//!   and `.@-_`), `DurationSeconds` (900 to 43200, default 3600). It answers `{"RequestId",
//!   "AssumedRoleUser": {"Arn", "AssumedRoleId"}, "Credentials": {"AccessKeyId",
//!   "AccessKeySecret", "SecurityToken", "Expiration"}}`, errors in Alibaba's envelope.
//!
//! The credentials issued last [`StsRole::lifetime`], whatever `DurationSeconds` asked (which
//! is still range-checked), so that tests can watch them expire. The codes for a missing
//! parameter, a signed web identity call and an unknown identity provider are the
//! simulator's choice; the others are the documented ones.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::http::request::Parts;
use serde_json::{Value, json};

use super::alibaba::ApiFault as AlibabaFault;
use super::faults::Substitute;
use super::sign::acs3;
use super::tencent::ApiFault as TencentFault;
use super::{SimCloud, Simulator, alibaba, tencent};

/// The name STS requests are counted under (arrivals, faults), apart from every task API.
pub(crate) const KIND: &str = "sts";

const TENCENT_VERSION: &str = "2018-08-13";
const TENCENT_SERVICE: &str = "sts";
const ALIBABA_VERSION: &str = "2015-04-01";
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// A role that STS lets callers assume.
#[derive(Debug, Clone)]
pub struct StsRole {
    pub role_arn: String,
    /// How long the credentials issued last (whatever DurationSeconds asked, so tests run
    /// fast); DurationSeconds is still range-checked.
    pub lifetime: Duration,
    /// Requests per second each set of credentials issued may make per API.
    pub rate_limit: f64,
    /// The access key ids (static or issued) allowed to assume it; empty: any authenticated
    /// caller. Web identity callers are decided by [`WebIdentity`] instead.
    pub trusted: Vec<String>,
}

/// What Tencent's AssumeRoleWithWebIdentity accepts.
#[derive(Debug, Clone)]
pub struct WebIdentity {
    pub provider_id: String,
    pub role_arn: String,
    pub token: String,
}

/// Which STS a request is for, if any: Tencent's two actions or Alibaba's `AssumeRole`, by
/// action and version.
pub(crate) fn matches(parts: &Parts) -> Option<SimCloud> {
    if parts.uri.path() != "/" {
        return None;
    }
    let tencent = tencent::header(parts, "x-tc-action");
    if matches!(tencent, Some("AssumeRole" | "AssumeRoleWithWebIdentity"))
        && tencent::header(parts, "x-tc-version") == Some(TENCENT_VERSION)
    {
        return Some(SimCloud::Tencent);
    }
    if alibaba::header(parts, "x-acs-action") == Some("AssumeRole")
        && alibaba::header(parts, "x-acs-version") == Some(ALIBABA_VERSION)
    {
        return Some(SimCloud::Alibaba);
    }
    None
}

/// An injected fault, in the envelope of `cloud`'s STS.
pub(crate) fn fault(cloud: SimCloud, fault: Substitute) -> Response<Full<Bytes>> {
    match cloud {
        SimCloud::Alibaba => alibaba::fault(fault),
        SimCloud::Tencent | SimCloud::Huawei => tencent::fault(fault),
    }
}

/// Answers a request [`matches`] gave to `cloud`.
pub(crate) fn handle(
    sim: &Simulator,
    cloud: SimCloud,
    parts: &Parts,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    match cloud {
        SimCloud::Alibaba => alibaba::respond(alibaba_assume_role(sim, parts, body)),
        SimCloud::Tencent | SimCloud::Huawei => tencent::respond(
            if tencent::header(parts, "x-tc-action") == Some("AssumeRole") {
                tencent_assume_role(sim, parts, body)
            } else {
                tencent_web_identity(sim, parts, body)
            },
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Tencent

/// Tencent's `\w+=,.@_-` (ASCII word characters and those marks).
fn tencent_session_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// A required string parameter, else `MissingParameter`.
fn tencent_string<'a>(params: &'a Value, name: &str) -> Result<&'a str, TencentFault> {
    match params.get(name) {
        Some(Value::String(value)) if !value.is_empty() => Ok(value),
        None | Some(Value::Null) | Some(Value::String(_)) => Err(TencentFault::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{name}`."),
        )),
        Some(_) => Err(TencentFault::new(
            "InvalidParameter.ParamError",
            format!("The parameter `{name}` must be a string."),
        )),
    }
}

/// `RoleSessionName`: 2 to 128 characters of `[\w+=,.@_-]`, else `InvalidParameter.ParamError`.
fn tencent_session_name(params: &Value) -> Result<&str, TencentFault> {
    let name = tencent_string(params, "RoleSessionName")?;
    let length = name.chars().count();
    if !(2..=128).contains(&length) || !name.chars().all(tencent_session_char) {
        return Err(TencentFault::new(
            "InvalidParameter.ParamError",
            format!(
                "RoleSessionName {name:?} must be 2 to 128 characters of letters, digits and +=,.@_-."
            ),
        ));
    }
    Ok(name)
}

/// `DurationSeconds`: default 7200; above 43200 `InvalidParameter.OverTimeError`; not a
/// positive integer `InvalidParameter.ParamError`.
fn tencent_duration(params: &Value) -> Result<i64, TencentFault> {
    let seconds = match params.get("DurationSeconds") {
        None | Some(Value::Null) => return Ok(7200),
        Some(value) => value.as_i64().filter(|s| *s > 0).ok_or_else(|| {
            TencentFault::new(
                "InvalidParameter.ParamError",
                format!("DurationSeconds {value} must be a positive integer."),
            )
        })?,
    };
    if seconds > 43_200 {
        return Err(TencentFault::new(
            "InvalidParameter.OverTimeError",
            format!("DurationSeconds {seconds} exceeds the maximum of 43200."),
        ));
    }
    Ok(seconds)
}

/// The role `role_arn` of Tencent's STS, else `ResourceNotFound.RoleNotFound`.
fn tencent_role(sim: &Simulator, role_arn: &str) -> Result<StsRole, TencentFault> {
    sim.sts_role(SimCloud::Tencent, role_arn).ok_or_else(|| {
        TencentFault::new(
            "ResourceNotFound.RoleNotFound",
            format!("The role {role_arn} does not exist."),
        )
    })
}

/// Issues credentials of `role` and writes the answer both actions give.
fn tencent_credentials(sim: &Simulator, role: &StsRole) -> Value {
    let (account, expires_at) = sim.issue(
        SimCloud::Tencent,
        role.lifetime,
        role.rate_limit,
        Default::default(),
    );
    json!({
        "Credentials": {
            "Token": account.token,
            "TmpSecretId": account.id,
            "TmpSecretKey": account.secret,
        },
        "ExpiredTime": expires_at.timestamp(),
        "Expiration": expires_at.format(TIME_FORMAT).to_string(),
    })
}

fn tencent_assume_role(
    sim: &Simulator,
    parts: &Parts,
    body: &Bytes,
) -> Result<Value, TencentFault> {
    let caller = tencent::verify_signature(sim, parts, body, TENCENT_SERVICE)?;
    let (_region, params) = tencent::region_and_params(parts, body)?;
    let role_arn = tencent_string(&params, "RoleArn")?;
    tencent_session_name(&params)?;
    tencent_duration(&params)?;
    let role = tencent_role(sim, role_arn)?;
    if !trusts(&role, &caller.id) {
        return Err(TencentFault::new(
            "UnauthorizedOperation",
            format!(
                "{} is not authorized to assume the role {role_arn}.",
                caller.id
            ),
        ));
    }
    Ok(tencent_credentials(sim, &role))
}

fn tencent_web_identity(
    sim: &Simulator,
    parts: &Parts,
    body: &Bytes,
) -> Result<Value, TencentFault> {
    if tencent::header(parts, "authorization") != Some("SKIP") {
        return Err(TencentFault::new(
            "AuthFailure.InvalidAuthorization",
            "AssumeRoleWithWebIdentity is called unsigned: Authorization must be SKIP.",
        ));
    }
    if parts.headers.contains_key("x-tc-token") {
        return Err(TencentFault::new(
            "AuthFailure.InvalidAuthorization",
            "AssumeRoleWithWebIdentity takes no X-TC-Token.",
        ));
    }
    let (_region, params) = tencent::region_and_params(parts, body)?;
    let provider_id = tencent_string(&params, "ProviderId")?;
    let token = tencent_string(&params, "WebIdentityToken")?;
    let role_arn = tencent_string(&params, "RoleArn")?;
    tencent_session_name(&params)?;
    tencent_duration(&params)?;
    let identity = sim
        .web_identity()
        .filter(|identity| identity.provider_id == provider_id)
        .ok_or_else(|| {
            TencentFault::new(
                "InvalidParameter.ParamError",
                format!("The identity provider {provider_id} does not exist."),
            )
        })?;
    if identity.token != token {
        return Err(TencentFault::new(
            "InvalidParameter.WebIdentityTokenError",
            "The WebIdentityToken is invalid.",
        ));
    }
    let role = tencent_role(sim, role_arn)?;
    if identity.role_arn != role_arn {
        return Err(TencentFault::new(
            "UnauthorizedOperation",
            format!("The role {role_arn} does not trust the identity provider {provider_id}."),
        ));
    }
    Ok(tencent_credentials(sim, &role))
}

/// Whether `role` lets the caller with access key id `id` assume it.
fn trusts(role: &StsRole, id: &str) -> bool {
    role.trusted.is_empty() || role.trusted.iter().any(|trusted| trusted == id)
}

// ---------------------------------------------------------------------------------------------
// Alibaba

/// A required parameter, else `Missing<Name>` (the gateway's pattern, as `MissingRegionId`).
fn alibaba_required<'a>(
    params: &'a [(String, String)],
    name: &'static str,
    missing: &'static str,
) -> Result<&'a str, AlibabaFault> {
    super::query_param(params, name)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            AlibabaFault::new(
                400,
                missing,
                format!("{name} is mandatory for this action."),
            )
        })
}

/// `RoleSessionName`: 2 to 64 letters, digits and `.@-_`, else
/// `InvalidParameter.RoleSessionName`.
fn alibaba_session_name(params: &[(String, String)]) -> Result<&str, AlibabaFault> {
    let name = alibaba_required(params, "RoleSessionName", "MissingRoleSessionName")?;
    let length = name.chars().count();
    if !(2..=64).contains(&length)
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".@-_".contains(c))
    {
        return Err(AlibabaFault::new(
            400,
            "InvalidParameter.RoleSessionName",
            "The parameter RoleSessionName is wrongly formed.",
        ));
    }
    Ok(name)
}

/// `DurationSeconds`: 900 to 43200, default 3600, else `InvalidParameter.DurationSeconds`.
fn alibaba_duration(params: &[(String, String)]) -> Result<i64, AlibabaFault> {
    let Some(text) = super::query_param(params, "DurationSeconds") else {
        return Ok(3600);
    };
    text.parse::<i64>()
        .ok()
        .filter(|seconds| (900..=43_200).contains(seconds))
        .ok_or_else(|| {
            AlibabaFault::new(
                400,
                "InvalidParameter.DurationSeconds",
                format!("The parameter DurationSeconds {text:?} is out of range: 900 to 43200."),
            )
        })
}

/// The parameters of an RPC call: the query, then a form body if there is one.
fn alibaba_params(parts: &Parts, body: &Bytes) -> Result<Vec<(String, String)>, AlibabaFault> {
    let malformed = || AlibabaFault::new(400, "InvalidParameter", "The parameters are malformed.");
    let mut params =
        acs3::parse_query(parts.uri.query().unwrap_or_default()).ok_or_else(malformed)?;
    let form = alibaba::header(parts, "content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form {
        let text = std::str::from_utf8(body).map_err(|_| malformed())?;
        params.extend(acs3::parse_query(text).ok_or_else(malformed)?);
    }
    Ok(params)
}

/// `AssumedRoleUser.AssumedRoleId`'s number: stable per role, as the real role id is.
fn role_id(role_arn: &str) -> u64 {
    let digest = super::sign::sha256_hex(role_arn.as_bytes());
    u64::from_str_radix(&digest[..15], 16).unwrap_or_default() % 100_000_000_000_000_000
}

fn alibaba_assume_role(
    sim: &Simulator,
    parts: &Parts,
    body: &Bytes,
) -> Result<Value, AlibabaFault> {
    let query = acs3::parse_query(parts.uri.query().unwrap_or_default()).ok_or_else(|| {
        AlibabaFault::new(400, "InvalidParameter", "The query string is malformed.")
    })?;
    let caller = alibaba::authenticate(sim, parts, body, &query)?;
    let params = alibaba_params(parts, body)?;
    let role_arn = alibaba_required(&params, "RoleArn", "MissingRoleArn")?;
    let session = alibaba_session_name(&params)?;
    alibaba_duration(&params)?;
    let role = sim.sts_role(SimCloud::Alibaba, role_arn).ok_or_else(|| {
        AlibabaFault::new(
            404,
            "EntityNotExist.Role",
            format!("The role not exists: {role_arn}."),
        )
    })?;
    if !trusts(&role, &caller.id) {
        return Err(AlibabaFault::new(
            403,
            "NoPermission",
            "You are not authorized to do this action. You should be authorized by RAM.",
        ));
    }
    let (account, expires_at) = sim.issue(
        SimCloud::Alibaba,
        role.lifetime,
        role.rate_limit,
        Default::default(),
    );
    Ok(json!({
        "AssumedRoleUser": {
            // The role name is written lower-case in the assumed identity's ARN.
            "Arn": format!("{}/{session}", role_arn.to_lowercase()),
            "AssumedRoleId": format!("{:017}:{session}", role_id(role_arn)),
        },
        "Credentials": {
            "AccessKeyId": account.id,
            "AccessKeySecret": account.secret,
            "SecurityToken": account.token,
            "Expiration": expires_at.format(TIME_FORMAT).to_string(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn code<T: std::fmt::Debug>(result: Result<T, TencentFault>) -> &'static str {
        result.expect_err("an error").code
    }

    #[test]
    fn tencent_session_names() {
        for good in ["ab", "exporter", "a.b@c_d-e+f=g,h", &"x".repeat(128)] {
            assert!(
                tencent_session_name(&json!({ "RoleSessionName": good })).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "a",
            &"x".repeat(129),
            "has space",
            "slash/",
            "colon:",
            "ünï",
        ] {
            assert_eq!(
                code(tencent_session_name(&json!({ "RoleSessionName": bad }))),
                "InvalidParameter.ParamError",
                "{bad}"
            );
        }
        assert_eq!(code(tencent_session_name(&json!({}))), "MissingParameter");
        assert_eq!(
            code(tencent_session_name(&json!({ "RoleSessionName": 5 }))),
            "InvalidParameter.ParamError"
        );
    }

    #[test]
    fn tencent_durations() {
        assert_eq!(tencent_duration(&json!({})).unwrap(), 7200);
        assert_eq!(
            tencent_duration(&json!({ "DurationSeconds": 43200 })).unwrap(),
            43200
        );
        assert_eq!(
            tencent_duration(&json!({ "DurationSeconds": 1 })).unwrap(),
            1
        );
        assert_eq!(
            code(tencent_duration(&json!({ "DurationSeconds": 43201 }))),
            "InvalidParameter.OverTimeError"
        );
        for bad in [json!(0), json!(-5), json!("3600"), json!(1.5)] {
            assert_eq!(
                code(tencent_duration(&json!({ "DurationSeconds": bad }))),
                "InvalidParameter.ParamError",
                "{bad}"
            );
        }
    }

    #[test]
    fn alibaba_session_names() {
        for good in ["ab", "exporter-1.a@b_c", &"x".repeat(64)] {
            assert!(
                alibaba_session_name(&pairs(&[("RoleSessionName", good)])).is_ok(),
                "{good}"
            );
        }
        for bad in ["a", &"x".repeat(65), "a+b", "a=b", "a,b", "a b"] {
            let fault = alibaba_session_name(&pairs(&[("RoleSessionName", bad)])).unwrap_err();
            assert_eq!(
                (fault.status, fault.code),
                (400, "InvalidParameter.RoleSessionName"),
                "{bad}"
            );
        }
        let fault = alibaba_session_name(&[]).unwrap_err();
        assert_eq!((fault.status, fault.code), (400, "MissingRoleSessionName"));
    }

    #[test]
    fn alibaba_durations() {
        assert_eq!(alibaba_duration(&[]).unwrap(), 3600);
        assert_eq!(
            alibaba_duration(&pairs(&[("DurationSeconds", "900")])).unwrap(),
            900
        );
        assert_eq!(
            alibaba_duration(&pairs(&[("DurationSeconds", "43200")])).unwrap(),
            43200
        );
        for bad in ["899", "43201", "", "1h", "-1"] {
            let fault = alibaba_duration(&pairs(&[("DurationSeconds", bad)])).unwrap_err();
            assert_eq!(
                (fault.status, fault.code),
                (400, "InvalidParameter.DurationSeconds"),
                "{bad}"
            );
        }
    }

    #[test]
    fn trust() {
        let role = |trusted: &[&str]| StsRole {
            role_arn: "qcs::cam::uin/1:roleName/r".into(),
            lifetime: Duration::from_secs(60),
            rate_limit: 10.0,
            trusted: trusted.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(trusts(&role(&[]), "anyone"));
        assert!(trusts(&role(&["a", "b"]), "b"));
        assert!(!trusts(&role(&["a"]), "b"));
    }

    #[test]
    fn assumed_role_ids_are_stable_and_17_digits() {
        let arn = "acs:ram::1234567890123456:role/exporter";
        assert_eq!(role_id(arn), role_id(arn));
        assert_ne!(role_id(arn), role_id("acs:ram::1:role/other"));
        assert!(format!("{:017}", role_id(arn)).len() == 17);
    }

    fn request(headers: &[(&str, &str)]) -> Parts {
        let mut builder = hyper::Request::builder().method("POST").uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn routing() {
        let tc = |action, version| {
            matches(&request(&[
                ("X-TC-Action", action),
                ("X-TC-Version", version),
            ]))
        };
        assert_eq!(tc("AssumeRole", "2018-08-13"), Some(SimCloud::Tencent));
        assert_eq!(
            tc("AssumeRoleWithWebIdentity", "2018-08-13"),
            Some(SimCloud::Tencent)
        );
        assert_eq!(tc("AssumeRole", "2019-01-01"), None);
        assert_eq!(tc("DescribeTasks", "2018-08-13"), None);
        let ali = |action, version| {
            matches(&request(&[
                ("x-acs-action", action),
                ("x-acs-version", version),
            ]))
        };
        assert_eq!(ali("AssumeRole", "2015-04-01"), Some(SimCloud::Alibaba));
        assert_eq!(ali("AssumeRole", "2014-08-15"), None);
    }

    #[test]
    fn alibaba_reads_the_query_and_a_form_body() {
        let parts = hyper::Request::builder()
            .method("POST")
            .uri("/?RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let params = alibaba_params(&parts, &Bytes::from_static(b"RoleSessionName=s1")).unwrap();
        assert_eq!(
            params,
            pairs(&[("RoleArn", "acs:ram::1:role/r"), ("RoleSessionName", "s1")])
        );
    }

    /// The unsigned call is refused before anything else unless it is unsigned.
    #[test]
    fn web_identity_must_be_unsigned() {
        let sim = Simulator::new();
        let body = Bytes::from_static(b"{}");
        for headers in [
            vec![("Authorization", "TC3-HMAC-SHA256 Credential=x")],
            vec![],
            vec![("Authorization", "SKIP"), ("X-TC-Token", "t")],
        ] {
            assert_eq!(
                code(tencent_web_identity(&sim, &request(&headers), &body)),
                "AuthFailure.InvalidAuthorization"
            );
        }
    }

    fn web_identity_call(params: Value) -> Result<Value, TencentFault> {
        let sim = Simulator::new();
        sim.allow_assume_role(
            SimCloud::Tencent,
            StsRole {
                role_arn: "qcs::cam::uin/1:roleName/oidc".into(),
                lifetime: Duration::from_secs(60),
                rate_limit: 5.0,
                trusted: vec!["nobody".into()],
            },
        );
        sim.allow_assume_role(
            SimCloud::Tencent,
            StsRole {
                role_arn: "qcs::cam::uin/1:roleName/other".into(),
                lifetime: Duration::from_secs(60),
                rate_limit: 5.0,
                trusted: vec![],
            },
        );
        sim.set_web_identity(Some(WebIdentity {
            provider_id: "tke-oidc".into(),
            role_arn: "qcs::cam::uin/1:roleName/oidc".into(),
            token: "jwt".into(),
        }));
        let parts = request(&[("Authorization", "SKIP"), ("X-TC-Region", "ap-guangzhou")]);
        let result = tencent_web_identity(&sim, &parts, &Bytes::from(params.to_string()));
        if result.is_ok() {
            let issued = sim.issued();
            assert_eq!(issued.len(), 1);
            assert_eq!(issued[0].rate_limit, 5.0);
        } else {
            assert!(sim.issued().is_empty());
        }
        result
    }

    #[test]
    fn web_identity() {
        let params = |provider: &str, token: &str, role: &str| {
            json!({
                "ProviderId": provider,
                "WebIdentityToken": token,
                "RoleArn": format!("qcs::cam::uin/1:roleName/{role}"),
                "RoleSessionName": "tencentcloud-python-sdk-1700000000123456.0",
                "DurationSeconds": 7200,
            })
        };
        let answer = web_identity_call(params("tke-oidc", "jwt", "oidc")).unwrap();
        assert!(answer["ExpiredTime"].as_i64().unwrap() > chrono::Utc::now().timestamp());
        assert!(answer["Expiration"].as_str().unwrap().ends_with('Z'));
        assert!(
            answer["Credentials"]["TmpSecretId"]
                .as_str()
                .unwrap()
                .starts_with("AKID")
        );
        assert_eq!(
            code(web_identity_call(params("tke-oidc", "other-jwt", "oidc"))),
            "InvalidParameter.WebIdentityTokenError"
        );
        assert_eq!(
            code(web_identity_call(params("elsewhere", "jwt", "oidc"))),
            "InvalidParameter.ParamError"
        );
        assert_eq!(
            code(web_identity_call(params("tke-oidc", "jwt", "missing"))),
            "ResourceNotFound.RoleNotFound"
        );
        assert_eq!(
            code(web_identity_call(params("tke-oidc", "jwt", "other"))),
            "UnauthorizedOperation"
        );
        let mut long = params("tke-oidc", "jwt", "oidc");
        long["DurationSeconds"] = json!(43201);
        assert_eq!(
            code(web_identity_call(long)),
            "InvalidParameter.OverTimeError"
        );
    }
}
