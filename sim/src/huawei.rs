//! The Huawei Cloud API Gateway as the simulator speaks it: SDK-HMAC-SHA256 verification over
//! the signed headers, the project in the path checked against the account, per-account rate
//! limits, and errors as an HTTP status with `{"error_code", "error_msg", "request_id"}` and
//! the request id also in `X-Request-Id`.

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, Utc};
use http_body_util::Full;
use hyper::Response;
use hyper::http::request::Parts;
use serde_json::{Value, json};

pub(crate) use super::HttpFault as ApiFault;
use super::faults::Substitute;
use super::sign::huawei as sign;
use super::{SimAccount, Simulator, json_response, query_param};

/// `X-Sdk-Date` further than this from the gateway's clock is rejected.
const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// A request's query parameters, decoded, in the order sent.
pub type Query = [(String, String)];

/// A Huawei REST resource the simulator serves, `GET /<version>/{project_id}/<resource>`:
/// each API's file declares one, and `lib.rs` routes to it.
pub struct Resource {
    pub version: &'static str,
    pub resource: &'static str,
    /// Answers a verified, admitted request: the region (from the project) and the decoded
    /// query parameters.
    pub handler: fn(&Simulator, &str, &Query) -> Result<Value, ApiFault>,
}

impl Resource {
    /// Whether a request's path is this resource's, for any project.
    pub fn matches(&self, parts: &Parts) -> bool {
        let mut segments = parts.uri.path().trim_matches('/').split('/');
        segments.next() == Some(self.version)
            && segments.next().is_some()
            && segments.next() == Some(self.resource)
            && segments.next().is_none()
    }
}

impl ApiFault {
    fn unauthenticated(message: &str) -> Self {
        ApiFault::new(
            401,
            "APIGW.0301",
            format!("Incorrect IAM authentication information: {message}"),
        )
    }
}

/// An authenticated request: whose, and for which region (from the project in its path).
pub struct Caller {
    pub account: SimAccount,
    pub region: String,
}

/// An injected fault, as the gateway or the service would answer it.
pub fn fault(fault: Substitute) -> Response<Full<Bytes>> {
    let error = match fault {
        Substitute::Throttled => ApiFault::new(
            429,
            "APIGW.0308",
            "The throttling threshold has been reached: policy user over ratelimit",
        ),
        Substitute::Malformed => {
            let mut response = json_response(200, &Value::Null);
            *response.body_mut() = Full::new(Bytes::from_static(
                br#"{"total_count": 3, "tasks": [{"id": "a", "na"#,
            ));
            return response;
        }
        Substitute::ServerError => ApiFault::new(500, "DBS.200000", "Internal server error"),
    };
    respond(Err(error))
}

/// Answers a request for `resource` (the API `kind`).
pub fn handle(
    sim: &Simulator,
    kind: &'static str,
    resource: &Resource,
    parts: &Parts,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    respond(answer(sim, kind, resource, parts, body))
}

/// Answers a path the simulator does not serve, as the gateway does.
pub fn not_found() -> Response<Full<Bytes>> {
    respond(Err(ApiFault::new(
        404,
        "APIGW.0101",
        "The API does not exist or has not been published in the environment",
    )))
}

fn respond(result: Result<Value, ApiFault>) -> Response<Full<Bytes>> {
    let request_id = format!("{:032x}", fastrand::u128(..));
    let (status, value) = match result {
        Ok(value) => (200, value),
        Err(fault) => (
            fault.status,
            json!({
                "error_code": fault.code,
                "error_msg": fault.message,
                "request_id": request_id,
            }),
        ),
    };
    let mut response = json_response(status, &value);
    if let Ok(id) = hyper::header::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn answer(
    sim: &Simulator,
    kind: &'static str,
    resource: &Resource,
    parts: &Parts,
    body: &Bytes,
) -> Result<Value, ApiFault> {
    // `matches` has checked the shape: version, project, resource.
    let project = parts
        .uri
        .path()
        .trim_matches('/')
        .split('/')
        .nth(1)
        .unwrap_or_default();
    if parts.method != hyper::Method::GET {
        return Err(ApiFault::new(405, "APIGW.0101", "Method not allowed"));
    }
    let query = sign::parse_query(parts.uri.query().unwrap_or_default())
        .ok_or_else(|| ApiFault::new(400, "APIGW.0106", "The query string is malformed"))?;
    let caller = authenticate(sim, parts, body, project, &query)?;
    if !sim.admit(&caller.account, kind) {
        return Err(ApiFault::new(
            429,
            "APIGW.0308",
            "The throttling threshold has been reached: policy user over ratelimit",
        ));
    }
    (resource.handler)(sim, &caller.region, &query)
}

/// Checks the signature, the date, the token and the project; returns the caller.
fn authenticate(
    sim: &Simulator,
    parts: &Parts,
    body: &Bytes,
    project: &str,
    query: &[(String, String)],
) -> Result<Caller, ApiFault> {
    let authorization = header(parts, "authorization")
        .ok_or_else(|| ApiFault::unauthenticated("Authorization not found in request"))?;
    let parsed = sign::parse_authorization(authorization)
        .ok_or_else(|| ApiFault::unauthenticated("Authorization format incorrect"))?;
    let account = sim
        .account(parsed.access_key)
        .ok_or_else(|| ApiFault::unauthenticated("ak not found"))?;
    let sdk_date = header(parts, "x-sdk-date")
        .ok_or_else(|| ApiFault::unauthenticated("X-Sdk-Date not found in request"))?;
    let signed_at = NaiveDateTime::parse_from_str(sdk_date, sign::DATE_FORMAT)
        .map_err(|_| ApiFault::unauthenticated("X-Sdk-Date format incorrect"))?
        .and_utc();
    if (Utc::now() - signed_at).num_seconds().abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(ApiFault::new(
            401,
            "APIGW.0303",
            "Incorrect app authentication information: request expired",
        ));
    }
    if !parsed.signed_headers.contains(&"host") || !parsed.signed_headers.contains(&"x-sdk-date") {
        return Err(ApiFault::unauthenticated(
            "host and x-sdk-date must be signed",
        ));
    }
    let mut headers = Vec::new();
    for name in &parsed.signed_headers {
        let value = header(parts, name).ok_or_else(|| {
            ApiFault::unauthenticated("a signed header is missing from the request")
        })?;
        headers.push((*name, value));
    }
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected = sign::expected_signature(
        &account.secret,
        &sign::Signed {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: &query,
            headers: &headers,
            body,
        },
        sdk_date,
    );
    if parsed.signature != expected {
        return Err(ApiFault::unauthenticated("verify aksk signature fail"));
    }
    if let Some(token) = &account.token
        && header(parts, "x-security-token") != Some(token.as_str())
    {
        return Err(ApiFault::unauthenticated(
            "the security token is invalid or expired",
        ));
    }
    if account.expired() {
        return Err(ApiFault::unauthenticated("the security token has expired"));
    }
    if header(parts, "x-project-id").is_some_and(|p| p != project) {
        return Err(ApiFault::new(
            400,
            "APIGW.0106",
            "X-Project-Id does not match the project in the path",
        ));
    }
    let region = account
        .projects
        .iter()
        .find(|(_, id)| id.as_str() == project)
        .map(|(region, _)| region.clone())
        .ok_or_else(|| {
            ApiFault::new(
                403,
                "APIGW.0302",
                "The IAM user is not authorized to access the API: unknown project",
            )
        })?;
    Ok(Caller { account, region })
}

/// A parameter error, as the database services answer one.
pub fn invalid(message: String) -> ApiFault {
    ApiFault::new(400, "DBS.200001", message)
}

/// An integer parameter within `range`, `default` when absent.
pub fn int(
    query: &Query,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ApiFault> {
    let Some(text) = query_param(query, name) else {
        return Ok(default);
    };
    text.parse::<usize>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            invalid(format!(
                "Invalid parameter {name}={text:?}: must be an integer in [{}, {}].",
                range.start(),
                range.end()
            ))
        })
}

/// A time parameter in UTC milliseconds, if given.
pub fn millis(query: &Query, name: &str) -> Result<Option<DateTime<Utc>>, ApiFault> {
    query_param(query, name)
        .map(|text| {
            text.parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_millis)
                .ok_or_else(|| {
                    invalid(format!(
                        "Invalid parameter {name}={text:?}: not a UTC timestamp in milliseconds."
                    ))
                })
        })
        .transpose()
}

/// The time format of the newer database APIs, `yyyy-mm-ddThh:mm:ssZ` with `Z` an offset
/// such as `+0800`.
const ZONED: &str = "%Y-%m-%dT%H:%M:%S%z";

/// A time parameter in [`ZONED`] form, if given; `code` is the service's error for a bad one.
pub fn zoned(
    query: &Query,
    name: &str,
    code: &'static str,
) -> Result<Option<DateTime<Utc>>, ApiFault> {
    query_param(query, name)
        .map(|text| {
            DateTime::parse_from_str(text, ZONED)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiFault::new(
                        400,
                        code,
                        format!(
                            "Invalid parameter {name}={text:?}: expected yyyy-mm-ddThh:mm:ssZ."
                        ),
                    )
                })
        })
        .transpose()
}

/// `time` written in [`ZONED`] form at `hours` east of UTC, as a service in that zone does.
pub fn write_zoned(time: DateTime<Utc>, hours: i32) -> String {
    let zone = FixedOffset::east_opt(hours * 3600).unwrap_or(Utc.fix());
    time.with_timezone(&zone).format(ZONED).to_string()
}
