//! The STS services over loopback: what they issue works on the task APIs (and on STS again)
//! until it expires, expired callers get their cloud's expired-token error, and STS requests
//! are counted apart from every task API. Requests are signed here with the simulator's own
//! signature code (`sign`): this checks the flow, not the wire format, which
//! `sim/sdk-check/sts.py` checks with the official SDKs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cloud_task_simulator::sign::{acs3, tc3};
use cloud_task_simulator::{Faults, SimAccount, SimCloud, Simulator, StsRole, WebIdentity, kinds};
use serde_json::{Value, json};

const TC_ROLE: &str = "qcs::cam::uin/1:roleName/exporter";
const TC_OPEN: &str = "qcs::cam::uin/1:roleName/open";
const ALI_ROLE: &str = "acs:ram::1:role/exporter";
const ALI_OPEN: &str = "acs:ram::1:role/open";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The simulator serving on a runtime of its own, which lives as long as the test.
fn serve(sim: &Simulator) -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = runtime.block_on(sim.start()).unwrap();
    (runtime, addr)
}

/// Sends one HTTP/1.1 request and returns the status and JSON body.
fn send(addr: SocketAddr, path: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

/// Tencent credentials: id, key and token.
type TcCreds = (String, String, Option<String>);

fn tc_static(id: &str, key: &str) -> TcCreds {
    (id.to_owned(), key.to_owned(), None)
}

/// A TC3-signed Tencent call; returns `Response`.
fn tencent(
    addr: SocketAddr,
    (service, action, version): (&str, &str, &str),
    params: &Value,
    creds: &TcCreds,
) -> Value {
    let (id, key, token) = creds;
    let body = params.to_string();
    let host = addr.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let signature = tc3::expected_signature(
        key,
        &tc3::Signed {
            method: "POST",
            host: &host,
            query: "",
            content_type: "application/json",
            payload: body.as_bytes(),
            service,
            timestamp,
        },
    );
    let date = tc3::credential_date(timestamp);
    let mut headers = vec![
        ("host".to_owned(), host.clone()),
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-tc-action".to_owned(), action.to_owned()),
        ("x-tc-version".to_owned(), version.to_owned()),
        ("x-tc-region".to_owned(), "ap-guangzhou".to_owned()),
        ("x-tc-timestamp".to_owned(), timestamp.to_string()),
        (
            "authorization".to_owned(),
            format!(
                "TC3-HMAC-SHA256 Credential={id}/{date}/{service}/tc3_request, \
                 SignedHeaders=content-type;host, Signature={signature}"
            ),
        ),
    ];
    if let Some(token) = token {
        headers.push(("x-tc-token".to_owned(), token.clone()));
    }
    let (status, answer) = send(addr, "/", &headers, body.as_bytes());
    assert_eq!(status, 200);
    answer["Response"].clone()
}

fn assume_role(addr: SocketAddr, role: &str, creds: &TcCreds) -> Value {
    tencent(
        addr,
        ("sts", "AssumeRole", "2018-08-13"),
        &json!({ "RoleArn": role, "RoleSessionName": "test" }),
        creds,
    )
}

fn error_code(response: &Value) -> &str {
    response["Error"]["Code"].as_str().unwrap_or("")
}

fn issued_creds(response: &Value) -> TcCreds {
    let creds = &response["Credentials"];
    let text = |name: &str| creds[name].as_str().unwrap().to_owned();
    (
        text("TmpSecretId"),
        text("TmpSecretKey"),
        Some(text("Token")),
    )
}

fn role(arn: &str, lifetime: Duration, trusted: &[&str]) -> StsRole {
    StsRole {
        role_arn: arn.to_owned(),
        lifetime,
        rate_limit: 50.0,
        trusted: trusted.iter().map(|t| (*t).to_owned()).collect(),
    }
}

#[test]
fn tencent_assume_role_credentials_work_until_they_expire() {
    let sim = Simulator::new();
    sim.add_account(SimAccount::tencent("AKIDstatic", "static-key"));
    sim.allow_assume_role(
        SimCloud::Tencent,
        role(TC_ROLE, Duration::from_secs(2), &["AKIDstatic"]),
    );
    sim.allow_assume_role(
        SimCloud::Tencent,
        role(TC_OPEN, Duration::from_secs(600), &[]),
    );
    let (_runtime, addr) = serve(&sim);
    let caller = tc_static("AKIDstatic", "static-key");

    let answer = assume_role(addr, TC_ROLE, &caller);
    assert_eq!(error_code(&answer), "", "{answer}");
    let expires = answer["ExpiredTime"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now + 1..=now + 3).contains(&expires), "{answer}");
    let creds = issued_creds(&answer);
    let issued = sim.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].id, creds.0);
    assert_eq!(issued[0].rate_limit, 50.0);
    assert_eq!(issued[0].expires_at.unwrap().timestamp(), expires);

    // They work on a task API and on STS again (with their token), not without the token.
    let tasks = tencent(
        addr,
        ("postgres", "DescribeTasks", "2017-03-12"),
        &json!({}),
        &creds,
    );
    assert_eq!(error_code(&tasks), "", "{tasks}");
    assert_eq!(error_code(&assume_role(addr, TC_OPEN, &creds)), "");
    let tokenless = (creds.0.clone(), creds.1.clone(), None);
    assert_eq!(
        error_code(&assume_role(addr, TC_OPEN, &tokenless)),
        "AuthFailure.TokenFailure"
    );
    // The role trusts only the static key.
    assert_eq!(
        error_code(&assume_role(addr, TC_ROLE, &creds)),
        "UnauthorizedOperation"
    );

    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        error_code(&assume_role(addr, TC_OPEN, &creds)),
        "AuthFailure.TokenFailure"
    );
    assert_eq!(
        error_code(&assume_role(addr, TC_ROLE, &caller)),
        "",
        "static credentials do not expire"
    );

    // Six STS requests, one task API request.
    assert_eq!(sim.sts_requests(), 6);
    assert_eq!(sim.requests_of("tencent_postgres"), 1);
    let task_requests: usize = kinds().iter().map(|k| sim.requests_of(k)).sum();
    assert_eq!(task_requests, 1);
}

#[test]
fn tencent_web_identity_and_faults() {
    let sim = Simulator::new();
    sim.allow_assume_role(
        SimCloud::Tencent,
        role(TC_ROLE, Duration::from_secs(600), &["nobody"]),
    );
    let (_runtime, addr) = serve(&sim);
    let call = |token: &str| {
        let body = json!({
            "ProviderId": "oidc",
            "WebIdentityToken": token,
            "RoleArn": TC_ROLE,
            "RoleSessionName": "tencentcloud-python-sdk-1",
        })
        .to_string();
        let headers: Vec<(String, String)> = [
            ("host", addr.to_string()),
            ("content-type", "application/json".to_owned()),
            ("x-tc-action", "AssumeRoleWithWebIdentity".to_owned()),
            ("x-tc-version", "2018-08-13".to_owned()),
            ("x-tc-region", "ap-guangzhou".to_owned()),
            ("x-tc-timestamp", chrono::Utc::now().timestamp().to_string()),
            ("authorization", "SKIP".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        send(addr, "/", &headers, body.as_bytes()).1["Response"].clone()
    };
    assert_eq!(error_code(&call("jwt")), "InvalidParameter.ParamError");
    sim.set_web_identity(Some(WebIdentity {
        provider_id: "oidc".into(),
        role_arn: TC_ROLE.into(),
        token: "jwt".into(),
    }));
    assert_eq!(
        error_code(&call("other")),
        "InvalidParameter.WebIdentityTokenError"
    );
    let answer = call("jwt");
    assert_eq!(error_code(&answer), "", "{answer}");
    // The web identity credentials sign a task API call.
    let tasks = tencent(
        addr,
        ("postgres", "DescribeTasks", "2017-03-12"),
        &json!({}),
        &issued_creds(&answer),
    );
    assert_eq!(error_code(&tasks), "", "{tasks}");

    sim.set_faults(
        "sts",
        Faults {
            throttle_next: 1,
            ..Faults::default()
        },
    );
    assert_eq!(error_code(&call("jwt")), "RequestLimitExceeded");
    assert_eq!(error_code(&call("jwt")), "");
    assert_eq!(sim.sts_requests(), 5);
    assert_eq!(sim.issued().len(), 2);
}

/// `application/x-www-form-urlencoded`-style percent-encoding of everything but unreserved
/// characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An ACS3-signed Alibaba `AssumeRole` with the parameters in the query, as the SDK sends it.
fn alibaba_assume_role(
    addr: SocketAddr,
    role: &str,
    duration: &str,
    (id, secret, token): &TcCreds,
) -> (u16, Value) {
    let query = [
        ("DurationSeconds", duration),
        ("RoleArn", role),
        ("RoleSessionName", "test"),
    ];
    let host = addr.to_string();
    let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let nonce = format!("{:032x}", nonce());
    let mut headers: Vec<(&str, &str)> = vec![
        ("host", &host),
        ("x-acs-action", "AssumeRole"),
        ("x-acs-content-sha256", EMPTY_SHA256),
        ("x-acs-date", &date),
        ("x-acs-signature-nonce", &nonce),
        ("x-acs-version", "2015-04-01"),
    ];
    if let Some(token) = token {
        headers.push(("x-acs-security-token", token));
    }
    let signature = acs3::expected_signature(
        secret,
        &acs3::Signed {
            method: "POST",
            path: "/",
            query: &query,
            headers: &headers,
            body: b"",
        },
    );
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let mut sent: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    sent.push((
        "authorization".to_owned(),
        format!(
            "ACS3-HMAC-SHA256 Credential={id},SignedHeaders={},Signature={signature}",
            names.join(";")
        ),
    ));
    let path = format!(
        "/?{}",
        query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    );
    send(addr, &path, &sent, b"")
}

fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn alibaba_assume_role_credentials_expire() {
    let sim = Simulator::new();
    sim.add_account(SimAccount::alibaba("LTAIstatic", "static-secret"));
    sim.allow_assume_role(
        SimCloud::Alibaba,
        role(ALI_ROLE, Duration::from_secs(2), &[]),
    );
    sim.allow_assume_role(
        SimCloud::Alibaba,
        role(ALI_OPEN, Duration::from_secs(600), &["LTAIstatic"]),
    );
    let (_runtime, addr) = serve(&sim);
    let caller = tc_static("LTAIstatic", "static-secret");

    let (status, answer) = alibaba_assume_role(addr, ALI_ROLE, "3600", &caller);
    assert_eq!(status, 200, "{answer}");
    let creds = &answer["Credentials"];
    let text = |name: &str| creds[name].as_str().unwrap().to_owned();
    let issued = (
        text("AccessKeyId"),
        text("AccessKeySecret"),
        Some(text("SecurityToken")),
    );
    assert_eq!(
        answer["AssumedRoleUser"]["Arn"],
        format!("{ALI_ROLE}/test").as_str()
    );
    assert_eq!(sim.issued()[0].id, issued.0);
    assert_eq!(
        sim.issued()[0]
            .expires_at
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        text("Expiration")
    );

    let (status, answer) = alibaba_assume_role(addr, ALI_OPEN, "3600", &issued);
    assert_eq!(
        (status, answer["Code"].as_str()),
        (403, Some("NoPermission"))
    );
    let (status, answer) = alibaba_assume_role(addr, ALI_OPEN, "899", &caller);
    assert_eq!(
        (status, answer["Code"].as_str()),
        (400, Some("InvalidParameter.DurationSeconds"))
    );
    std::thread::sleep(Duration::from_millis(2100));
    let (status, answer) = alibaba_assume_role(addr, ALI_ROLE, "3600", &issued);
    assert_eq!(
        (status, answer["Code"].as_str()),
        (403, Some("InvalidSecurityToken.Expired"))
    );
    assert_eq!(sim.sts_requests(), 4);
}
