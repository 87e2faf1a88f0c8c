//! What the Tencent Cloud APIs share: TC3-signed JSON POSTs, the `Response` envelope with its
//! error codes, and zone-less times in China Standard Time.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::{
    ApiError, ApiRequest, ApiResponse, Cloud, Outcome, Page, PageQuery, Provider, clip_message,
    host_header,
};
use crate::cloud::Credentials;
use crate::signing::tc3::{self, Tc3Request};

/// One Tencent Cloud task API, described by its data: every Tencent provider is a value of
/// this type (see `tencent_postgres.rs`), and this file is their one `impl Provider`.
#[derive(Debug)]
pub struct TencentApi {
    /// The config `kind` and the `provider` label value.
    pub kind: &'static str,
    /// The credential-scope service and default host prefix: `postgres`, `cdb`, `redis`.
    pub service: &'static str,
    pub action: &'static str,
    pub version: &'static str,
    /// Requests per second, the action's documented limit.
    pub rate_limit: f64,
    /// The largest `Limit` the action accepts.
    pub page_size: u32,
    /// The action's parameters for one page of one window.
    pub request_body: fn(&PageQuery) -> Value,
    /// Reads the `Response` object of a successful call into a page.
    pub parse_page: fn(&Value) -> Result<Page, String>,
}

impl Provider for TencentApi {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn cloud(&self) -> Cloud {
        Cloud::Tencent
    }

    fn api(&self) -> String {
        format!("{} {}", self.action, self.version)
    }

    fn default_endpoint(&self, region: &str) -> String {
        self.endpoint(region)
    }

    fn default_rate_limit(&self) -> f64 {
        self.rate_limit
    }

    fn max_page_size(&self) -> u32 {
        self.page_size
    }

    fn build_request(&self, query: &PageQuery) -> Result<ApiRequest, ApiError> {
        self.signed_post(query, &(self.request_body)(query))
    }

    fn parse_response(&self, response: &ApiResponse) -> Result<Page, ApiError> {
        parse_response(response, self.parse_page)
    }
}

const CONTENT_TYPE: &str = "application/json";

/// China Standard Time, the zone of every time Tencent sends without one.
#[allow(clippy::expect_used, reason = "a constant offset well within a day")]
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

impl TencentApi {
    /// `https://<service>.tencentcloudapi.com`; finance regions (`ap-shanghai-fsi`, ...) are
    /// isolated and only answer on their own host, `<service>.<region>.tencentcloudapi.com`.
    fn endpoint(&self, region: &str) -> String {
        if region.ends_with("-fsi") {
            format!("https://{}.{region}.tencentcloudapi.com", self.service)
        } else {
            format!("https://{}.tencentcloudapi.com", self.service)
        }
    }

    /// A signed POST of `body` (JSON) to the query's endpoint.
    fn signed_post(&self, query: &PageQuery, body: &Value) -> Result<ApiRequest, ApiError> {
        post(
            &Call {
                endpoint: query.endpoint,
                service: self.service,
                action: self.action,
                version: self.version,
                region: query.region,
                now: query.now,
            },
            Some(query.credentials),
            body,
        )
    }
}

/// One call of a Tencent Cloud API action.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub endpoint: &'a reqwest::Url,
    /// The credential-scope service: `postgres`, `sts`, ...
    pub service: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub region: &'a str,
    /// The signing time.
    pub now: DateTime<Utc>,
}

/// A POST of `body` (JSON) calling `call`, signed with TC3-HMAC-SHA256 by `credentials`, or,
/// without them, unsigned (`Authorization: SKIP`, as STS `AssumeRoleWithWebIdentity` is
/// called).
pub fn post(
    call: &Call,
    credentials: Option<&Credentials>,
    body: &Value,
) -> Result<ApiRequest, ApiError> {
    let host = host_header(call.endpoint)?;
    let payload = serde_json::to_vec(body).map_err(|e| ApiError::Request(e.to_string()))?;
    let timestamp = call.now.timestamp();
    let (authorization, token) = match credentials {
        Some(Credentials::Tencent {
            secret_id,
            secret_key,
            token,
        }) => (
            tc3::authorization(
                secret_id,
                secret_key.expose(),
                &Tc3Request {
                    method: "POST",
                    host: &host,
                    query: "",
                    content_type: CONTENT_TYPE,
                    payload: &payload,
                    service: call.service,
                    timestamp,
                },
            ),
            token.as_ref(),
        ),
        Some(_) => {
            return Err(ApiError::Request(
                "a Tencent API needs Tencent credentials".into(),
            ));
        }
        None => ("SKIP".to_owned(), None),
    };
    let mut headers = vec![
        ("Authorization", authorization),
        ("Content-Type", CONTENT_TYPE.to_owned()),
        ("Host", host),
        ("X-TC-Action", call.action.to_owned()),
        ("X-TC-Version", call.version.to_owned()),
        ("X-TC-Timestamp", timestamp.to_string()),
        ("X-TC-Region", call.region.to_owned()),
        ("X-TC-Language", "en-US".to_owned()),
    ];
    if let Some(token) = token {
        headers.push(("X-TC-Token", token.expose().to_owned()));
    }
    Ok(ApiRequest {
        method: reqwest::Method::POST,
        url: call.endpoint.clone(),
        headers,
        body: payload,
    })
}

/// Unwraps `{"Response": {...}}`: the `Response` object and its `RequestId`, or the API error
/// it carries.
pub fn parse_envelope(response: &ApiResponse) -> Result<(Value, Option<String>), ApiError> {
    let mut value: Value = match serde_json::from_slice(response.body) {
        Ok(value) => value,
        Err(_) if response.status != 200 => {
            let outcome = ApiError::outcome_of_http_status(response.status);
            return Err(ApiError::Provider {
                outcome,
                code: format!("HTTP{}", response.status),
                message: "non-JSON error response".into(),
                http_status: response.status,
                request_id: None,
            });
        }
        Err(e) => return Err(ApiError::bad_response(format!("not JSON: {e}"), None)),
    };
    let Some(inner) = value.get("Response").filter(|r| r.is_object()) else {
        return Err(ApiError::bad_response("no Response object", None));
    };
    let request_id = inner
        .get("RequestId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(error) = inner.get("Error") {
        let code = error
            .get("Code")
            .and_then(Value::as_str)
            .unwrap_or("UnknownError")
            .to_owned();
        return Err(ApiError::Provider {
            outcome: classify_error(&code),
            message: clip_message(
                error
                    .get("Message")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            code,
            http_status: response.status,
            request_id,
        });
    }
    if response.status != 200 {
        return Err(ApiError::Provider {
            outcome: ApiError::outcome_of_http_status(response.status),
            code: format!("HTTP{}", response.status),
            message: "unexpected HTTP status".into(),
            http_status: response.status,
            request_id,
        });
    }
    // Taken out, not copied: a page of a hundred tasks is a few thousand values.
    Ok((
        value
            .get_mut("Response")
            .map(Value::take)
            .unwrap_or_default(),
        request_id,
    ))
}

/// The `outcome` of a Tencent error code.
pub fn classify_error(code: &str) -> Outcome {
    let family = code.split('.').next().unwrap_or(code);
    match family {
        "AuthFailure" | "UnauthorizedOperation" => Outcome::AuthError,
        "RequestLimitExceeded" | "LimitExceeded" => Outcome::Throttled,
        "InternalError" | "FailedOperation" | "ServiceUnavailable" => Outcome::ServerError,
        _ => Outcome::ClientError,
    }
}

/// Reads a Tencent time: `YYYY-MM-DD HH:MM:SS` in UTC+08:00, or RFC 3339 with its own zone.
/// Empty strings (unfinished tasks) and anything unreadable are `None`.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return beijing()
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc));
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Writes a time the way Tencent's filters expect it: `YYYY-MM-DD HH:MM:SS` in UTC+08:00.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A successful call's page, read by `parse_page` from the `Response` object, with the call's
/// `RequestId`; a page `parse_page` cannot read is a `bad_response` naming that id.
pub fn parse_response(
    response: &ApiResponse,
    parse_page: fn(&Value) -> Result<Page, String>,
) -> Result<Page, ApiError> {
    let (body, request_id) = parse_envelope(response)?;
    let mut page =
        parse_page(&body).map_err(|detail| ApiError::bad_response(detail, request_id.clone()))?;
    page.request_id = request_id;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_less_times_are_beijing_time() {
        let t = parse_time("2024-09-27 13:14:11").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-09-27T05:14:11+00:00");
        assert_eq!(format_time(t), "2024-09-27 13:14:11");
        // An official example writes the Unix epoch this way.
        assert_eq!(parse_time("1970-01-01 08:00:00").unwrap().timestamp(), 0);
        assert_eq!(parse_time("2024-09-27T13:14:11+08:00"), Some(t));
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("0000-00-00 00:00:00"), None);
    }

    #[test]
    fn finance_regions_have_their_own_host() {
        let api = &crate::providers::tencent_mysql::PROVIDER;
        assert_eq!(
            api.default_endpoint("ap-guangzhou"),
            "https://cdb.tencentcloudapi.com"
        );
        assert_eq!(
            api.default_endpoint("ap-shanghai-fsi"),
            "https://cdb.ap-shanghai-fsi.tencentcloudapi.com"
        );
    }

    #[test]
    fn error_codes_map_to_outcomes() {
        for (code, outcome) in [
            ("AuthFailure.SignatureFailure", Outcome::AuthError),
            ("AuthFailure.SecretIdNotFound", Outcome::AuthError),
            ("RequestLimitExceeded", Outcome::Throttled),
            ("RequestLimitExceeded.UinLimitExceeded", Outcome::Throttled),
            ("LimitExceeded", Outcome::Throttled),
            ("InternalError.SystemError", Outcome::ServerError),
            ("FailedOperation.DatabaseAccessError", Outcome::ServerError),
            (
                "InvalidParameterValue.ParameterValueExceedError",
                Outcome::ClientError,
            ),
            ("InvalidParameter", Outcome::ClientError),
            ("UnsupportedRegion", Outcome::ClientError),
        ] {
            assert_eq!(classify_error(code), outcome, "{code}");
        }
    }

    #[test]
    fn error_envelope_becomes_a_typed_error() {
        let body = br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"req-1"}}"#;
        let err = parse_envelope(&ApiResponse {
            status: 200,
            request_id: None,
            body,
        })
        .unwrap_err();
        assert_eq!(err.outcome(), Outcome::AuthError);
        assert_eq!(err.request_id(), Some("req-1"));
        assert_eq!(
            err.to_string(),
            "AuthFailure.SignatureFailure: The provided credentials could not be validated. (HTTP 200, request id req-1)"
        );
    }

    #[test]
    fn gateway_errors_without_json_use_the_http_status() {
        let err = parse_envelope(&ApiResponse {
            status: 502,
            request_id: None,
            body: b"<html>bad gateway</html>",
        })
        .unwrap_err();
        assert_eq!(err.outcome(), Outcome::ServerError);
        let err = parse_envelope(&ApiResponse {
            status: 200,
            request_id: None,
            body: b"{\"Response\": 3}",
        })
        .unwrap_err();
        assert_eq!(err.outcome(), Outcome::BadResponse);
    }
}
