//! The Tencent Cloud API 3.0 protocol as the simulator speaks it: TC3 signature checks with the
//! real error codes, the `Response` envelope, per-account rate limits, then the action.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::Response;
use hyper::http::request::Parts;
use serde_json::{Value, json};

use super::faults::Substitute;
use super::{Simulator, json_response, request_id, tencent_mysql, tencent_postgres, tencent_redis};
use crate::providers::tencent::parse_time;
use crate::signing::tc3::{self, Tc3Request};

/// Signatures older or newer than this are expired, as on the real API.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// A Tencent API the simulator serves.
struct Action {
    action: &'static str,
    version: &'static str,
    service: &'static str,
    /// The provider kind whose tasks it lists.
    kind: &'static str,
    handler: fn(&Simulator, &str, &Value) -> Result<Value, ApiFault>,
}

const ACTIONS: &[Action] = &[
    Action {
        action: "DescribeTasks",
        version: "2017-03-12",
        service: "postgres",
        kind: "tencent_postgres",
        handler: tencent_postgres::describe_tasks,
    },
    Action {
        action: "DescribeTasks",
        version: "2017-03-20",
        service: "cdb",
        kind: "tencent_mysql",
        handler: tencent_mysql::describe_tasks,
    },
    Action {
        action: "DescribeTaskList",
        version: "2018-04-12",
        service: "redis",
        kind: "tencent_redis",
        handler: tencent_redis::describe_task_list,
    },
];

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

/// The provider kind an action request is for, if it names one the simulator serves.
pub fn kind_of(parts: &Parts) -> Option<&'static str> {
    let action = header(parts, "x-tc-action")?;
    let version = header(parts, "x-tc-version")?;
    ACTIONS
        .iter()
        .find(|a| a.action == action && a.version == version)
        .map(|a| a.kind)
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

pub fn handle(sim: &Simulator, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
    let request_id = request_id();
    let result = answer(sim, parts, body);
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

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn answer(sim: &Simulator, parts: &Parts, body: &Bytes) -> Result<Value, ApiFault> {
    let action_name = header(parts, "x-tc-action")
        .ok_or_else(|| ApiFault::new("MissingParameter", "The request is missing X-TC-Action."))?;
    let version = header(parts, "x-tc-version").unwrap_or_default();
    let action = ACTIONS
        .iter()
        .find(|a| a.action == action_name && a.version == version)
        .ok_or_else(|| {
            ApiFault::new(
                "InvalidAction",
                format!("The action {action_name} (version {version}) does not exist."),
            )
        })?;
    let account = verify_signature(sim, parts, body, action.service)?;
    if !sim.admit(&account, action.kind) {
        return Err(ApiFault::new(
            "RequestLimitExceeded",
            "Your current request times equals to `limit`. Please try again later.",
        ));
    }
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
    (action.handler)(sim, region, &params)
}

/// Checks the TC3 signature and returns the account it was made with.
fn verify_signature(
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
    let expected = tc3::signature(
        &account.secret,
        &Tc3Request {
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
    Ok(account)
}

/// An optional time parameter (`YYYY-MM-DD HH:MM:SS`, Beijing time), else
/// `InvalidParameterValue`.
pub fn time_param(params: &Value, name: &str) -> Result<Option<DateTime<Utc>>, ApiFault> {
    match params.get(name).and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(text) => parse_time(text).map(Some).ok_or_else(|| {
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
