//! Alibaba Cloud's OpenAPI as the simulator speaks it, for `DescribeHistoryTasks` of the four
//! database products: ACS3-HMAC-SHA256 verification over the signed headers, per-account
//! rate limits, the parameters in the query, and errors as an HTTP status with
//! `{"RequestId", "HostId", "Code", "Message", "Recommend"}`.
//!
//! Written from the official Python SDK (alibabacloud-tea-openapi 0.4.6 and the product SDKs'
//! `models/_describe_history_tasks_*`): the request fields, `PageSize` 10 to 100, times as
//! `yyyy-MM-ddTHH:mm:ssZ` in UTC, 30 days of history, and the `Items[]` shape. The HTTP
//! statuses of the errors, and the codes the SDK does not name, are the simulator's choice; the
//! exporter reads the codes.

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use http_body_util::Full;
use hyper::Response;
use hyper::http::request::Parts;
use serde_json::{Value, json};

pub(crate) use super::HttpFault as ApiFault;
use super::faults::Substitute;
use super::sign::acs3;
use super::world::{SimState, SimTask};
use super::{SimAccount, Simulator, json_response, query_param, request_id};

/// `x-acs-date` further than this from the server's clock is refused.
const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;
/// How far back `FromStartTime` may go; earlier is read as this far back.
const HISTORY_DAYS: i64 = 30;
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// One product's `DescribeHistoryTasks`: each API's file declares one, and `lib.rs` routes
/// to it by `x-acs-action` and `x-acs-version`.
pub struct Action {
    pub version: &'static str,
    /// `Items[].Product` and `Items[].DbType` as the product writes them.
    pub product: &'static str,
    pub db_type: &'static str,
    /// PolarDB's answer writes `TotalCount` as a string.
    pub total_count_as_string: bool,
}

impl Action {
    pub fn matches(&self, parts: &Parts) -> bool {
        parts.uri.path() == "/"
            && header(parts, "x-acs-action") == Some("DescribeHistoryTasks")
            && header(parts, "x-acs-version") == Some(self.version)
    }
}

impl ApiFault {
    fn signature_mismatch() -> Self {
        ApiFault::new(
            400,
            "SignatureDoesNotMatch",
            "Specified signature does not match our calculation.",
        )
    }
}

pub(crate) fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a request is meant for Alibaba's OpenAPI at all (for an action it does not serve).
pub fn is_alibaba(parts: &Parts) -> bool {
    parts.headers.contains_key("x-acs-action")
}

pub(crate) fn respond(result: Result<Value, ApiFault>) -> Response<Full<Bytes>> {
    let request_id = request_id().to_uppercase();
    let (status, value) = match result {
        Ok(mut value) => {
            value["RequestId"] = json!(request_id);
            (200, value)
        }
        Err(fault) => (
            fault.status,
            json!({
                "RequestId": request_id,
                "HostId": "simulator.aliyuncs.com",
                "Code": fault.code,
                "Message": fault.message,
                "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}", fault.code),
            }),
        ),
    };
    json_response(status, &value)
}

/// An injected fault, as the API would answer it.
pub fn fault(fault: Substitute) -> Response<Full<Bytes>> {
    match fault {
        Substitute::Throttled => respond(Err(ApiFault::new(
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
        ))),
        Substitute::ServerError => respond(Err(ApiFault::new(
            500,
            "InternalError",
            "The request processing has failed due to some unknown error.",
        ))),
        Substitute::Malformed => {
            let mut response = json_response(200, &Value::Null);
            *response.body_mut() = Full::new(Bytes::from_static(
                br#"{"RequestId": "A1", "TotalCount": 3, "Items": [{"TaskId": "t-1", "Sta"#,
            ));
            response
        }
    }
}

/// Answers an action the simulator does not serve.
pub fn unknown_action(parts: &Parts) -> Response<Full<Bytes>> {
    respond(Err(ApiFault::new(
        404,
        "InvalidAction.NotFound",
        format!(
            "Specified api {} ({}) is not found, please check your url and method.",
            header(parts, "x-acs-action").unwrap_or_default(),
            header(parts, "x-acs-version").unwrap_or_default()
        ),
    )))
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

fn answer(
    sim: &Simulator,
    kind: &'static str,
    action: &Action,
    parts: &Parts,
    body: &Bytes,
) -> Result<Value, ApiFault> {
    let query = acs3::parse_query(parts.uri.query().unwrap_or_default())
        .ok_or_else(|| ApiFault::new(400, "InvalidParameter", "The query string is malformed."))?;
    let account = authenticate(sim, parts, body, &query)?;
    if !sim.admit(&account, kind) {
        return Err(ApiFault::new(
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
        ));
    }
    describe_history_tasks(sim, kind, action, &query)
}

/// Checks the signature, the date, the payload hash and the token; returns the account.
pub(crate) fn authenticate(
    sim: &Simulator,
    parts: &Parts,
    body: &Bytes,
    query: &[(String, String)],
) -> Result<SimAccount, ApiFault> {
    let authorization = header(parts, "authorization")
        .ok_or_else(|| ApiFault::new(400, "MissingAuthorization", "Authorization is mandatory."))?;
    let parsed = acs3::parse_authorization(authorization).ok_or_else(|| {
        ApiFault::new(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    })?;
    let account = sim.account(parsed.access_key_id).ok_or_else(|| {
        ApiFault::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    })?;
    for required in [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        if !parsed.signed_headers.contains(&required) {
            return Err(ApiFault::new(
                400,
                "IncompleteSignature",
                format!("{required} must be signed."),
            ));
        }
    }
    let date = header(parts, "x-acs-date").unwrap_or_default();
    let signed_at = NaiveDateTime::parse_from_str(date, TIME_FORMAT)
        .map_err(|_| ApiFault::new(400, "InvalidTimeStamp.Format", "x-acs-date is malformed."))?
        .and_utc();
    if (Utc::now() - signed_at).num_seconds().abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(ApiFault::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    // The payload hash is signed; it must also be the body's.
    if header(parts, "x-acs-content-sha256") != Some(super::sign::sha256_hex(body).as_str()) {
        return Err(ApiFault::new(
            400,
            "InvalidParameter.ContentSHA256",
            "x-acs-content-sha256 is not the SHA-256 of the body.",
        ));
    }
    if let Some(token) = &account.token
        && header(parts, "x-acs-security-token") != Some(token.as_str())
    {
        return Err(ApiFault::new(
            400,
            "InvalidSecurityToken.Mismatch",
            "Specified security token is not valid.",
        ));
    }
    if account.expired() {
        return Err(ApiFault::new(
            403,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        ));
    }
    if account.token.is_some() && !parsed.signed_headers.contains(&"x-acs-security-token") {
        return Err(ApiFault::new(
            400,
            "IncompleteSignature",
            "x-acs-security-token must be signed.",
        ));
    }
    let mut headers = Vec::new();
    for name in &parsed.signed_headers {
        let value = header(parts, name).ok_or_else(ApiFault::signature_mismatch)?;
        headers.push((*name, value));
    }
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected = acs3::expected_signature(
        &account.secret,
        &acs3::Signed {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: &query,
            headers: &headers,
            body,
        },
    );
    if parsed.signature != expected {
        return Err(ApiFault::signature_mismatch());
    }
    if let Some(token) = &account.token
        && header(parts, "x-acs-security-token") != Some(token.as_str())
    {
        return Err(ApiFault::new(
            400,
            "InvalidSecurityToken.Mismatch",
            "Specified security token is not valid.",
        ));
    }
    Ok(account)
}

fn time_param(query: &[(String, String)], name: &str) -> Result<DateTime<Utc>, ApiFault> {
    let text = query_param(query, name).ok_or_else(|| {
        ApiFault::new(
            400,
            "MissingParameter",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    })?;
    NaiveDateTime::parse_from_str(text, TIME_FORMAT)
        .map(|t| t.and_utc())
        .map_err(|_| {
            ApiFault::new(
                400,
                "InvalidParameter",
                format!("The specified parameter \"{name}\" is not valid: {text:?}."),
            )
        })
}

fn int_param(
    query: &[(String, String)],
    name: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiFault> {
    let Some(text) = query_param(query, name) else {
        return Ok(default);
    };
    text.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiFault::new(
                400,
                "InvalidParameter",
                format!(
                    "The specified parameter \"{name}\" is not valid: {text:?} (from {} to {}).",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn describe_history_tasks(
    sim: &Simulator,
    kind: &'static str,
    action: &Action,
    query: &[(String, String)],
) -> Result<Value, ApiFault> {
    let region = query_param(query, "RegionId")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            ApiFault::new(
                400,
                "MissingRegionId",
                "RegionId is mandatory for this action.",
            )
        })?;
    let now = Utc::now();
    // Older than the history kept is read as the start of it.
    let from = time_param(query, "FromStartTime")?.max(now - chrono::Duration::days(HISTORY_DAYS));
    let to = time_param(query, "ToStartTime")?;
    let page_size = int_param(query, "PageSize", 10, 10..=100)? as usize;
    let page_number = int_param(query, "PageNumber", 1, 1..=i64::from(i32::MAX))? as usize;
    let world = sim.world();
    let matching = world.started(kind, region, from..=to, now, true);
    let items: Vec<Value> = matching
        .iter()
        .skip((page_number - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|(task, state)| render(task, *state, action, region, now))
        .collect();
    let total = matching.len();
    Ok(json!({
        "TotalCount": if action.total_count_as_string { json!(total.to_string()) } else { json!(total) },
        "PageNumber": page_number,
        "PageSize": page_size,
        "Items": items,
    }))
}

fn render(
    task: &SimTask,
    state: SimState,
    action: &Action,
    region: &str,
    now: DateTime<Utc>,
) -> Value {
    let (status, progress, end) = match state {
        SimState::Running { progress } => ("Running", progress, None),
        // The API has no pause: a task waiting to go on is `Waiting`.
        SimState::Paused { progress } => ("Waiting", progress, None),
        SimState::Succeeded { end } => ("Succeed", 1.0, Some(end)),
        SimState::Failed { end } => ("Failed", task.stuck_progress, Some(end)),
    };
    let remain = match (end, task.planned_end()) {
        (None, Some(planned)) => (planned - now).num_seconds().max(0),
        _ => 0,
    };
    json!({
        "TaskId": format!("t-{:016x}", task.id),
        "TaskType": task.task_type,
        "InstanceId": task.instance_id(),
        "InstanceName": format!("name-{}", task.instance_id()),
        "InstanceType": "Instance",
        "Status": status,
        "Progress": (progress * 1000.0).round() / 10.0,
        "StartTime": task.start.format(TIME_FORMAT).to_string(),
        "EndTime": end.map(|t| t.format(TIME_FORMAT).to_string()).unwrap_or_default(),
        "RemainTime": remain,
        "CurrentStepName": if end.is_some() { "" } else { "do_task" },
        "ReasonCode": match state {
            SimState::Failed { .. } => task.message.clone().unwrap_or_else(|| "TaskFailed".into()),
            _ => String::new(),
        },
        "TaskDetail": "{}",
        "ActionInfo": "{}",
        "CallerSource": "User",
        "CallerUid": "1234567890123456",
        "DbType": action.db_type,
        "Product": action.product,
        "RegionId": region,
        "Uid": "1234567890123456",
    })
}
