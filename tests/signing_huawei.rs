//! SDK-HMAC-SHA256 (Huawei Cloud AK/SK) against vectors produced by the official
//! huaweicloudsdkcore signer.
//!
//! `fixtures/signing/huawei_vectors.json` is ours, made by `fixtures/signing/gen_huawei_vectors.py`
//! from `huawei_inputs.json`; `reference_huawei_vectors.json` is the project's shared reference
//! set (../shared/reference), which also holds the worked example of Huawei's signing guide.

use cloud_task_exporter::signing::huawei::{self, HuaweiRequest};
use serde_json::Value;

fn load(file: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/signing/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What one vector expects of the signer.
struct Expected<'a> {
    canonical_request: &'a str,
    authorization: &'a str,
    query_string: Option<&'a str>,
}

fn check(
    name: &str,
    (ak, sk): (&str, &str),
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    expected: Expected,
) {
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (&**k, &**v)).collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&**k, &**v)).collect();
    let sdk_date = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-sdk-date"))
        .map(|(_, v)| *v)
        .expect("an X-Sdk-Date header");
    let req = HuaweiRequest {
        method,
        path,
        query: &query,
        headers: &headers,
        body: b"",
    };
    assert_eq!(
        huawei::canonical_request(&req),
        expected.canonical_request,
        "{name}: canonical request"
    );
    if let Some(query_string) = expected.query_string {
        assert_eq!(
            huawei::canonical_query(&query),
            query_string,
            "{name}: query string"
        );
    }
    assert_eq!(
        huawei::authorization(ak, sk, &req, sdk_date),
        expected.authorization,
        "{name}: Authorization header"
    );
}

#[test]
fn matches_vectors_generated_with_the_official_sdk() {
    let doc = load("huawei_vectors.json");
    let vectors = doc["vectors"].as_array().expect("a vectors array");
    assert!(vectors.len() >= 3);
    for v in vectors {
        let name = v["name"].as_str().unwrap_or("?");
        let query: Vec<(String, String)> = v["query"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|pair| (text(&pair[0]), text(&pair[1])))
            .collect();
        let mut headers: Vec<(String, String)> = v["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        headers.push(("Host".into(), text(&v["host"])));
        check(
            name,
            (v["ak"].as_str().unwrap(), v["sk"].as_str().unwrap()),
            v["method"].as_str().unwrap(),
            v["path"].as_str().unwrap(),
            &query,
            &headers,
            Expected {
                canonical_request: v["canonical_request"].as_str().unwrap(),
                authorization: v["authorization"].as_str().unwrap(),
                query_string: v["query_string"].as_str(),
            },
        );
    }
}

#[test]
fn matches_the_shared_reference_vectors() {
    let doc = load("reference_huawei_vectors.json");
    let vectors = doc["vectors"].as_array().expect("a vectors array");
    for v in vectors {
        let name = v["name"].as_str().unwrap_or("?");
        let inputs = &v["inputs"];
        // The request as the SDK sent it: its URL and its headers, less the signature.
        let url = v["final_url"]
            .as_str()
            .or(v["sent_url"].as_str())
            .map(|u| reqwest::Url::parse(u).expect("a URL"))
            .unwrap_or_else(|| {
                let mut url = reqwest::Url::parse(&format!(
                    "https://{}{}",
                    inputs["host"].as_str().unwrap(),
                    inputs["path"].as_str().unwrap()
                ))
                .unwrap();
                for pair in inputs["query_params_in_order_given"].as_array().unwrap() {
                    url.query_pairs_mut()
                        .append_pair(&text(&pair[0]), &text(&pair[1]));
                }
                url
            });
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let sent = v["final_headers"]
            .as_object()
            .or(v["sent_headers"].as_object())
            .expect("the headers sent");
        let headers: Vec<(String, String)> = sent
            .iter()
            .filter(|(k, _)| *k != "Authorization")
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        check(
            name,
            (
                inputs["ak"].as_str().unwrap(),
                inputs["sk"].as_str().unwrap(),
            ),
            inputs["method"].as_str().unwrap(),
            url.path(),
            &query,
            &headers,
            Expected {
                canonical_request: v["intermediate"]["canonical_request"].as_str().unwrap(),
                authorization: v["authorization"].as_str().unwrap(),
                query_string: v["intermediate"]["canonical_query_string"].as_str(),
            },
        );
    }
}

#[test]
fn matches_the_worked_example_of_the_signing_guide() {
    let doc = load("reference_huawei_vectors.json");
    let example = &doc["official_doc_example"];
    let s = |key: &str| example[key].as_str().expect(key).to_owned();
    let url = reqwest::Url::parse(&format!(
        "https://{}{}?{}",
        s("host"),
        s("path"),
        s("query")
    ))
    .unwrap();
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers = [
        ("Content-Type".to_owned(), s("content_type")),
        ("Host".to_owned(), s("host")),
        ("X-Sdk-Date".to_owned(), s("x_sdk_date")),
    ];
    check(
        "official_doc_example",
        (&s("ak"), &s("sk")),
        &s("method"),
        &s("path"),
        &query,
        &headers,
        Expected {
            canonical_request: &s("canonical_request"),
            authorization: &s("authorization"),
            query_string: Some(&s("query")),
        },
    );
}

#[test]
fn the_simulator_reads_what_the_signer_writes() {
    let value = huawei::authorization(
        "AK",
        "SK",
        &HuaweiRequest {
            method: "GET",
            path: "/v3/p/tasklist",
            query: &[],
            headers: &[("Host", "h"), ("X-Sdk-Date", "20240102T030405Z")],
            body: b"",
        },
        "20240102T030405Z",
    );
    let parsed = huawei::parse_authorization(&value).expect("parses");
    assert_eq!(parsed.access_key, "AK");
    assert_eq!(parsed.signed_headers, ["host", "x-sdk-date"]);
    assert_eq!(parsed.signature.len(), 64);
}
