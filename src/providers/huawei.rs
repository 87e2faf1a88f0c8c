//! What the Huawei Cloud APIs share: AK/SK-signed GETs with the project in the path and in
//! `X-Project-Id`, errors as an HTTP status with `{"error_code", "error_msg"}`, and times with
//! a numeric zone offset.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    ApiError, ApiRequest, ApiResponse, Cloud, Outcome, Page, PageQuery, Provider, host_header,
};
use crate::cloud::Credentials;
use crate::signing::huawei::{self as sign, HuaweiRequest};

const CONTENT_TYPE: &str = "application/json";

/// One Huawei Cloud task API, described by its data: every Huawei provider is a value of this
/// type (see `huawei_rds.rs`), and this file is their one `impl Provider`.
#[derive(Debug)]
pub struct HuaweiApi {
    /// The config `kind` and the `provider` label value.
    pub kind: &'static str,
    /// The endpoint's host prefix: `rds` for `rds.<region>.myhuaweicloud.com`.
    pub service: &'static str,
    /// The path of the `GET`, with `{project_id}` where the project goes.
    pub path: &'static str,
    /// Requests per second.
    pub rate_limit: f64,
    /// The largest `limit` the API accepts.
    pub page_size: u32,
    /// The query parameters of one page of one window.
    pub query: fn(&PageQuery) -> Vec<(&'static str, String)>,
    /// Reads the JSON body of a successful call into a page.
    pub parse_page: fn(&Value) -> Result<Page, String>,
}

impl Provider for HuaweiApi {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn cloud(&self) -> Cloud {
        Cloud::Huawei
    }

    fn api(&self) -> String {
        format!("GET {}", self.path)
    }

    /// `https://<service>.<region>.myhuaweicloud.com`; the European region `eu-west-101` is
    /// on `myhuaweicloud.eu`.
    fn default_endpoint(&self, region: &str) -> String {
        let domain = if region == "eu-west-101" {
            "myhuaweicloud.eu"
        } else {
            "myhuaweicloud.com"
        };
        format!("https://{}.{region}.{domain}", self.service)
    }

    fn default_rate_limit(&self) -> f64 {
        self.rate_limit
    }

    fn max_page_size(&self) -> u32 {
        self.page_size
    }

    fn build_request(&self, query: &PageQuery) -> Result<ApiRequest, ApiError> {
        let project = project_id(query.credentials, query.region)?;
        let params = (self.query)(query);
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        build_request(query, &self.path.replace("{project_id}", project), &params)
    }

    fn parse_response(&self, response: &ApiResponse) -> Result<Page, ApiError> {
        let body = parse_body(response)?;
        let request_id = response.request_id.map(str::to_owned);
        let mut page = (self.parse_page)(&body)
            .map_err(|detail| ApiError::bad_response(detail, request_id.clone()))?;
        page.request_id = request_id;
        Ok(page)
    }
}

/// The account's project for `region`: its `project_ids` entry, else `project_id`.
pub fn project_id<'a>(credentials: &'a Credentials, region: &str) -> Result<&'a str, ApiError> {
    let Credentials::Huawei {
        project_id,
        project_ids,
        ..
    } = credentials
    else {
        return Err(ApiError::Request(
            "a Huawei API needs Huawei credentials".into(),
        ));
    };
    project_ids
        .get(region)
        .or(project_id.as_ref())
        .map(String::as_str)
        .ok_or_else(|| ApiError::Request(format!("no project_id for region {region}")))
}

/// A signed `GET <endpoint><path>?<query>`, the query sorted and encoded as it was signed.
pub fn build_request(
    query: &PageQuery,
    path: &str,
    params: &[(&str, &str)],
) -> Result<ApiRequest, ApiError> {
    let Credentials::Huawei {
        access_key,
        secret_key,
        token,
        ..
    } = query.credentials
    else {
        return Err(ApiError::Request(
            "a Huawei API needs Huawei credentials".into(),
        ));
    };
    let project = project_id(query.credentials, query.region)?;
    let host = host_header(query.endpoint)?;
    let full_path = format!("{}{path}", query.endpoint.path().trim_end_matches('/'));
    let sdk_date = query.now.format(sign::DATE_FORMAT).to_string();
    let mut headers = vec![
        ("Content-Type", CONTENT_TYPE.to_owned()),
        ("Host", host),
        ("X-Project-Id", project.to_owned()),
        ("X-Sdk-Date", sdk_date.clone()),
    ];
    if let Some(token) = token {
        headers.push(("X-Security-Token", token.expose().to_owned()));
    }
    let signed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let request = HuaweiRequest {
        method: "GET",
        path: &full_path,
        query: params,
        headers: &signed,
        body: b"",
    };
    let authorization = sign::authorization(access_key, secret_key.expose(), &request, &sdk_date);
    let mut url = query.endpoint.clone();
    url.set_path(&full_path);
    let query_string = sign::canonical_query(params);
    url.set_query((!query_string.is_empty()).then_some(query_string.as_str()));
    headers.push(("Authorization", authorization));
    Ok(ApiRequest {
        method: reqwest::Method::GET,
        url,
        headers,
        body: Vec::new(),
    })
}

/// The JSON body of a successful call, or the error the status and body describe.
pub fn parse_body(response: &ApiResponse) -> Result<Value, ApiError> {
    let header_id = response.request_id.map(str::to_owned);
    let value: Option<Value> = serde_json::from_slice(response.body).ok();
    if !(200..300).contains(&response.status) {
        let field = |names: &[&str]| {
            names.iter().find_map(|name| {
                value
                    .as_ref()
                    .and_then(|v| v.get(*name))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        };
        let code = field(&["error_code", "errorCode", "code"])
            .unwrap_or_else(|| format!("HTTP{}", response.status));
        return Err(ApiError::Provider {
            outcome: classify_error(response.status, &code),
            message: field(&["error_msg", "errorMsg", "message"])
                .unwrap_or_else(|| "error response without a message".into()),
            code,
            http_status: response.status,
            request_id: field(&["request_id"]).or(header_id),
        });
    }
    match value {
        Some(value @ Value::Object(_)) => Ok(value),
        Some(_) => Err(ApiError::bad_response("not a JSON object", header_id)),
        None => Err(ApiError::bad_response("not JSON", header_id)),
    }
}

/// The `outcome` of an error response: the gateway's throttling and authentication codes
/// first, then the HTTP status.
pub fn classify_error(status: u16, code: &str) -> Outcome {
    match code {
        "APIGW.0308" | "APIG.0308" => Outcome::Throttled,
        "APIGW.0301" | "APIGW.0303" | "APIG.0301" | "APIG.0303" => Outcome::AuthError,
        _ => ApiError::outcome_of_http_status(status),
    }
}

/// Reads `2020-07-15T07:46:10+0000` (an offset without a colon), or RFC 3339. Empty and
/// unreadable are `None`.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &[u8], header: Option<&str>) -> ApiError {
        parse_body(&ApiResponse {
            status,
            request_id: header,
            body,
        })
        .unwrap_err()
    }

    #[test]
    fn times_with_and_without_a_colon_in_the_offset() {
        let t = parse_time("2020-07-15T07:46:10+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2020-07-15T07:46:10+00:00");
        assert_eq!(parse_time("2020-07-15T15:46:10+0800"), Some(t));
        assert_eq!(parse_time("2020-07-15T15:46:10+08:00"), Some(t));
        assert_eq!(parse_time("2020-07-15T07:46:10Z"), Some(t));
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn errors_by_status_and_gateway_code() {
        let e = error(
            401,
            br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"r1"}"#,
            None,
        );
        assert_eq!(e.outcome(), Outcome::AuthError);
        assert_eq!(e.request_id(), Some("r1"));
        assert_eq!(
            e.to_string(),
            "APIGW.0301: Incorrect IAM authentication information (HTTP 401, request id r1)"
        );
        let e = error(
            429,
            br#"{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}"#,
            Some("hdr"),
        );
        assert_eq!(e.outcome(), Outcome::Throttled);
        assert_eq!(e.request_id(), Some("hdr"));
        // The code alone says throttled, whatever the status.
        assert_eq!(
            error(400, br#"{"errorCode":"APIG.0308","errorMsg":"x"}"#, None).outcome(),
            Outcome::Throttled
        );
        assert_eq!(
            error(403, br#"{"code":"DBS.280001","message":"x"}"#, None).outcome(),
            Outcome::AuthError
        );
        assert_eq!(
            error(
                400,
                br#"{"error_code":"DBS.200001","error_msg":"bad limit"}"#,
                None
            )
            .outcome(),
            Outcome::ClientError
        );
        assert_eq!(
            error(503, b"<html>unavailable</html>", None).outcome(),
            Outcome::ServerError
        );
    }

    #[test]
    fn a_success_that_is_not_an_object_is_a_bad_response() {
        for body in [&b"[]"[..], b"oops"] {
            let e = parse_body(&ApiResponse {
                status: 200,
                request_id: Some("h"),
                body,
            })
            .unwrap_err();
            assert_eq!(e.outcome(), Outcome::BadResponse);
            assert_eq!(e.request_id(), Some("h"));
        }
    }
}
