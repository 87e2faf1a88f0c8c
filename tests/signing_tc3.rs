//! TC3-HMAC-SHA256 against vectors produced by Tencent Cloud's official Python SDK.
//!
//! `fixtures/signing/tc3_vectors.json` is ours, made by `fixtures/signing/gen_tc3_vectors.py`
//! from `tc3_inputs.json`; `reference_tc3_vectors.json` is the project's shared reference set
//! (../shared/reference), made the same way with another SDK build.

use cloud_task_exporter::signing::tc3::{self, Tc3Request};
use serde_json::Value;

fn check_vectors(file: &str, expected_key: &str) -> usize {
    let path = format!(
        "{}/tests/fixtures/signing/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("vector file is JSON");
    let vectors = doc["vectors"].as_array().expect("a vectors array");
    for vector in vectors {
        let name = vector["name"].as_str().unwrap_or("?");
        let input = &vector["inputs"];
        let s = |key: &str| input[key].as_str().unwrap_or_default().to_owned();
        let (method, host, query, content_type, payload, service) = (
            s("http_method"),
            s("host"),
            s("query_string"),
            s("content_type"),
            s("payload"),
            s("service"),
        );
        let req = Tc3Request {
            method: &method,
            host: &host,
            query: &query,
            content_type: &content_type,
            payload: payload.as_bytes(),
            service: &service,
            timestamp: input["timestamp"].as_i64().expect("timestamp"),
        };
        let expected = &vector[expected_key];
        assert_eq!(
            tc3::canonical_request(&req),
            expected["canonical_request"].as_str().unwrap(),
            "{name}: canonical request"
        );
        assert_eq!(
            tc3::string_to_sign(&req),
            expected["string_to_sign"].as_str().unwrap(),
            "{name}: string to sign"
        );
        let key = tc3::signing_key(
            &s("secret_key"),
            &tc3::credential_date(req.timestamp),
            &service,
        );
        assert_eq!(
            hex::encode(key),
            expected["secret_signing_hex"].as_str().unwrap(),
            "{name}: signing key"
        );
        let authorization = expected
            .get("authorization")
            .or(vector.get("authorization"))
            .and_then(Value::as_str)
            .expect("an authorization");
        assert_eq!(
            tc3::authorization(&s("secret_id"), &s("secret_key"), &req),
            authorization,
            "{name}: Authorization header"
        );
    }
    vectors.len()
}

#[test]
fn matches_vectors_generated_with_the_official_sdk() {
    assert!(check_vectors("tc3_vectors.json", "expected") >= 3);
}

#[test]
fn matches_the_shared_reference_vectors() {
    assert!(check_vectors("reference_tc3_vectors.json", "intermediate") >= 4);
}
