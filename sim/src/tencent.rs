//! The Tencent Cloud API 3.0 protocol as the simulator speaks it: TC3 signature checks with the
//! real error codes, the `Response` envelope, per-account rate limits, then the action.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::Response;
use hyper::http::request::Parts;
use serde_json::{Value, json};

use super::faults::Substitute;
use super::sign::tc3;
use super::{Simulator, json_response, request_id};

/// Signatures older or newer than this are expired, as on the real API.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// A Tencent API action the simulator serves: each API's file declares one, and `lib.rs`
/// routes to it.
pub struct Action {
    /// The credential-scope service, which the signature must name.
    pub service: &'static str,
    pub action: &'static str,
    pub version: &'static str,
    /// Answers a verified, admitted request: the region and the JSON parameters.
    pub handler: fn(&Simulator, &str, &Value) -> Result<Value, ApiFault>,
}

impl Action {
    /// Whether a request names this action (`X-TC-Action` and `X-TC-Version`).
    pub fn matches(&self, parts: &Parts) -> bool {
        parts.uri.path() == "/"
            && header(parts, "x-tc-action") == Some(self.action)
            && header(parts, "x-tc-version") == Some(self.version)
    }
}

/// A Tencent error: code and message, answered with HTTP 200 as the real API does.
#[derive(Debug)]
pub struct ApiFault {
    pub code: &'static str,
    pub message: String,
}

impl ApiFault {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiFault {
            code,
            message: message.into(),
        }
    }
}

/// An injected fault, as the real API would answer it.
pub fn fault(fault: Substitute) -> Response<Full<Bytes>> {
    let (code, message) = match fault {
        Substitute::Throttled => (
            "RequestLimitExceeded",
            "Your current request times equals to `limit`. Please try again later.",
        ),
        Substitute::Malformed => {
            let mut response = json_response(200, &Value::Null);
            *response.body_mut() = Full::new(Bytes::from_static(
                br#"{"Response": {"TotalCount": 3, "TaskSet": [{"TaskId": 1, "StartT"#,
            ));
            return response;
        }
        Substitute::ServerError => (
            "InternalError",
            "An internal error has occurred. Retry your request.",
        ),
    };
    json_response(
        200,
        &json!({
            "Response": {
                "Error": { "Code": code, "Message": message },
                "RequestId": request_id(),
            }
        }),
    )
}

/// Answers a request for `action` (the API `kind`).
pub fn handle(
    sim: &Simulator,
    kind: &'static str,
    action: &Action,
    parts: &Parts,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    respond(answer(sim, kind, action, parts, body))
}

/// Answers a request for an action the simulator does not serve, as the real API does.
pub fn unknown_action(parts: &Parts) -> Response<Full<Bytes>> {
    let fault = match header(parts, "x-tc-action") {
        None => ApiFault::new("MissingParameter", "The request is missing X-TC-Action."),
        Some(action) => ApiFault::new(
            "InvalidAction",
            format!(
                "The action {action} (version {}) does not exist.",
                header(parts, "x-tc-version").unwrap_or_default()
            ),
        ),
    };
    respond(Err(fault))
}

pub(crate) fn respond(result: Result<Value, ApiFault>) -> Response<Full<Bytes>> {
    let request_id = request_id();
    let response = match result {
        Ok(mut value) => {
            value["RequestId"] = json!(request_id);
            json!({ "Response": value })
        }
        Err(fault) => json!({
            "Response": {
                "Error": { "Code": fault.code, "Message": fault.message },
                "RequestId": request_id,
            }
        }),
    };
    json_response(200, &response)
}

pub(crate) fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn answer(
    sim: &Simulator,
    kind: &'static str,
    action: &Action,
    parts: &Parts,
    body: &Bytes,
) -> Result<Value, ApiFault> {
    let account = verify_signature(sim, parts, body, action.service)?;
    if !sim.admit(&account, kind) {
        return Err(ApiFault::new(
            "RequestLimitExceeded",
            "Your current request times equals to `limit`. Please try again later.",
        ));
    }
    let (region, params) = region_and_params(parts, body)?;
    (action.handler)(sim, region, &params)
}

/// The region (`X-TC-Region`, required) and the JSON object of parameters of a request.
pub(crate) fn region_and_params<'a>(
    parts: &'a Parts,
    body: &Bytes,
) -> Result<(&'a str, Value), ApiFault> {
    let region = header(parts, "x-tc-region")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiFault::new("MissingParameter", "The request is missing X-TC-Region."))?;
    let params: Value = serde_json::from_slice(body).map_err(|e| {
        ApiFault::new(
            "InvalidParameter",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    if !params.is_object() {
        return Err(ApiFault::new(
            "InvalidParameter",
            "The request body must be a JSON object.",
        ));
    }
    Ok((region, params))
}

/// Checks the TC3 signature (and the token of temporary credentials) and returns the account
/// it was made with.
pub(crate) fn verify_signature(
    sim: &Simulator,
    parts: &Parts,
    body: &Bytes,
    service: &str,
) -> Result<super::SimAccount, ApiFault> {
    let authorization = header(parts, "authorization").ok_or_else(|| {
        ApiFault::new("AuthFailure.SignatureFailure", "The request is not signed.")
    })?;
    let parsed = tc3::parse_authorization(authorization).ok_or_else(|| {
        ApiFault::new(
            "AuthFailure.InvalidAuthorization",
            "Authorization header is malformed.",
        )
    })?;
    let account = sim.account(parsed.secret_id).ok_or_else(|| {
        ApiFault::new(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        )
    })?;
    let timestamp: i64 = header(parts, "x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            ApiFault::new("AuthFailure.SignatureFailure", "X-TC-Timestamp is missing.")
        })?;
    if (Utc::now().timestamp() - timestamp).abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(ApiFault::new(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time cannot differ by more than five minutes.",
        ));
    }
    if parsed.signed_headers != tc3::SIGNED_HEADERS || parsed.service != service {
        return Err(ApiFault::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    let expected = tc3::expected_signature(
        &account.secret,
        &tc3::Signed {
            method: parts.method.as_str(),
            host: header(parts, "host").unwrap_or_default(),
            query: parts.uri.query().unwrap_or_default(),
            content_type: header(parts, "content-type").unwrap_or_default(),
            payload: body,
            service,
            timestamp,
        },
    );
    if parsed.date != tc3::credential_date(timestamp) || parsed.signature != expected {
        return Err(ApiFault::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    if let Some(token) = &account.token
        && header(parts, "x-tc-token") != Some(token.as_str())
    {
        return Err(ApiFault::new(
            "AuthFailure.TokenFailure",
            "Token is invalid or expired.",
        ));
    }
    if account.expired() {
        return Err(ApiFault::new(
            "AuthFailure.TokenFailure",
            "The token has expired.",
        ));
    }
    Ok(account)
}

/// Tencent writes and reads times as `YYYY-MM-DD HH:MM:SS` in Beijing time (UTC+08:00) with
/// no zone, as every example in the API reference shows (seeds 000 to 003).
const BEIJING_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `time` as Tencent writes it: shifted to UTC+08:00 and written without a zone.
pub fn beijing_time(time: DateTime<Utc>) -> String {
    (time + chrono::Duration::hours(8))
        .naive_utc()
        .format(BEIJING_FORMAT)
        .to_string()
}

/// A Tencent time parameter, read back to UTC.
fn parse_beijing_time(text: &str) -> Option<DateTime<Utc>> {
    let wall = chrono::NaiveDateTime::parse_from_str(text, BEIJING_FORMAT).ok()?;
    Some(wall.and_utc() - chrono::Duration::hours(8))
}

/// An optional time parameter (`YYYY-MM-DD HH:MM:SS`, Beijing time), else
/// `InvalidParameterValue`.
pub fn time_param(params: &Value, name: &str) -> Result<Option<DateTime<Utc>>, ApiFault> {
    match params.get(name).and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(text) => parse_beijing_time(text).map(Some).ok_or_else(|| {
            ApiFault::new(
                "InvalidParameterValue",
                format!("{name} {text:?} is not a time."),
            )
        }),
    }
}

/// An optional integer parameter within `range`, else `InvalidParameterValue`.
pub fn int_param(
    params: &Value,
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiFault> {
    let value = match params.get(name) {
        None | Some(Value::Null) => return Ok(default),
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiFault::new(
                "InvalidParameterValue",
                format!("{name} must be an integer."),
            )
        })?,
    };
    if !range.contains(&value) {
        return Err(ApiFault::new(
            "InvalidParameterValue",
            format!(
                "{name}={value} is out of range [{}, {}].",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(value)
}
