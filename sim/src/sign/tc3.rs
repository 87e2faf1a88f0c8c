//! Tencent Cloud API 3.0 signature, `TC3-HMAC-SHA256`, as the official Python SDK computes it
//! (tencentcloud-sdk-python-common 3.1.195, `tencentcloud/common/abstract_client.py`
//! `AbstractClient._get_tc3_signature` and `tencentcloud/common/sign.py` `Sign.sign_tc3`).

use super::{auth_fields, hmac_sha256, sha256_hex, strip_algorithm};

/// The algorithm name that opens the Authorization header and the string to sign.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The headers the SDK signs, always exactly these two (`_get_tc3_signature`: `signed_headers =
/// 'content-type;host'`; the current docs may also sign `x-tc-action`, which this does not model).
pub const SIGNED_HEADERS: &str = "content-type;host";

/// What a TC3 request carried, as the verifier saw it on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// HTTP method as sent (`POST`, `GET`); put in the canonical request verbatim.
    pub method: &'a str,
    /// The `Host` header value, port included when the endpoint has one.
    pub host: &'a str,
    /// The raw query string (no `?`); only signed for GET, like the SDK does.
    pub query: &'a str,
    /// The `Content-Type` header value, byte for byte.
    pub content_type: &'a str,
    /// The request body; only signed for non-GET methods (GET signs the empty payload).
    pub payload: &'a [u8],
    /// The service named in the credential scope (`postgres`, `cdb`, `redis`, ...).
    pub service: &'a str,
    /// The `X-TC-Timestamp` header value (Unix seconds).
    pub timestamp: i64,
}

/// The parts of a `TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
/// SignedHeaders=<h>, Signature=<hex>` header (format of `_build_req_with_tc3_signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The SecretId the client claims to sign with.
    pub secret_id: &'a str,
    /// The credential-scope date, `YYYY-MM-DD`.
    pub date: &'a str,
    /// The credential-scope service.
    pub service: &'a str,
    /// The `SignedHeaders` value as written (`content-type;host` from the SDK).
    pub signed_headers: &'a str,
    /// The `Signature` value as written.
    pub signature: &'a str,
}

/// Parses a TC3 Authorization header; `None` if it is not exactly the three fields above with a
/// four-part credential ending in `tc3_request` and a `YYYY-MM-DD` date.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let params = strip_algorithm(header, ALGORITHM)?;
    let [credential, signed_headers, signature] =
        auth_fields(params, ["Credential", "SignedHeaders", "Signature"])?;
    let mut parts = credential.split('/');
    let (secret_id, date, service, terminator) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let well_formed = parts.next().is_none()
        && terminator == "tc3_request"
        && !secret_id.is_empty()
        && !service.is_empty()
        && is_iso_date(date);
    well_formed.then_some(Authorization {
        secret_id,
        date,
        service,
        signed_headers,
        signature,
    })
}

/// Whether `s` has the shape `DDDD-DD-DD`.
fn is_iso_date(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// The credential-scope date of a timestamp: its UTC calendar date `YYYY-MM-DD`
/// (`_build_req_with_tc3_signature`: `datetime.utcfromtimestamp(timestamp).strftime('%Y-%m-%d')`),
/// not the Beijing date.
pub fn credential_date(timestamp: i64) -> String {
    let (year, month, day) = civil_from_days(timestamp.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The canonical request (`_get_tc3_signature`): URI always `/`; for GET the query string as
/// sent and the hash of an empty payload, for other methods an empty query and the hash of the
/// body; headers `content-type` and `host` with their values unchanged.
fn canonical_request(request: &Signed) -> String {
    let (query, payload): (&str, &[u8]) = if request.method == "GET" {
        (request.query, b"")
    } else {
        ("", request.payload)
    };
    format!(
        "{}\n/\n{}\ncontent-type:{}\nhost:{}\n\n{}\n{}",
        request.method,
        query,
        request.content_type,
        request.host,
        SIGNED_HEADERS,
        sha256_hex(payload)
    )
}

/// The string to sign (`_get_tc3_signature`): algorithm, timestamp, credential scope
/// `<date>/<service>/tc3_request`, hex SHA-256 of the canonical request.
fn string_to_sign(timestamp: i64, date: &str, service: &str, hashed_canonical: &str) -> String {
    format!("{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{hashed_canonical}")
}

/// The derived signing key (`sign.py` `Sign.sign_tc3` `_get_signature_key`):
/// HMAC chain over `"TC3" + SecretKey`, date, service, `tc3_request`. Returns all three steps.
fn derived_keys(secret_key: &str, date: &str, service: &str) -> [[u8; 32]; 3] {
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    [k_date, k_service, k_signing]
}

/// Hex signature of a string to sign under the derived key (`Sign.sign_tc3`).
fn sign(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let [_, _, k_signing] = derived_keys(secret_key, date, service);
    hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// The hex signature the SDK would have sent for `request` under `secret_key`, signing
/// [`SIGNED_HEADERS`] with the credential date derived from the timestamp.
pub fn expected_signature(secret_key: &str, request: &Signed) -> String {
    let date = credential_date(request.timestamp);
    let hashed = sha256_hex(canonical_request(request).as_bytes());
    let sts = string_to_sign(request.timestamp, &date, request.service, &hashed);
    sign(secret_key, &date, request.service, &sts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn load(name: &str) -> Value {
        let path = format!(
            "{}/../tests/fixtures/signing/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn s<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key].as_str().unwrap_or_else(|| panic!("{key} missing"))
    }

    /// Every SDK vector: the intermediate values (canonical request, string to sign, keys).
    #[test]
    fn intermediates_match_sdk_vectors() {
        let mut checked = 0;
        for (file, exp_key) in [
            ("tc3_vectors.json", "expected"),
            ("reference_tc3_vectors.json", "intermediate"),
        ] {
            for v in load(file)["vectors"].as_array().unwrap() {
                let (i, e) = (&v["inputs"], &v[exp_key]);
                let req = Signed {
                    method: s(i, "http_method"),
                    host: s(i, "host"),
                    query: s(i, "query_string"),
                    content_type: s(i, "content_type"),
                    payload: s(i, "payload").as_bytes(),
                    service: s(i, "service"),
                    timestamp: i["timestamp"].as_i64().unwrap(),
                };
                let name = s(v, "name");
                let canonical = canonical_request(&req);
                assert_eq!(canonical, s(e, "canonical_request"), "{name}");
                let date = credential_date(req.timestamp);
                let sts = string_to_sign(
                    req.timestamp,
                    &date,
                    req.service,
                    &sha256_hex(canonical.as_bytes()),
                );
                assert_eq!(sts, s(e, "string_to_sign"), "{name}");
                let keys = derived_keys(s(i, "secret_key"), &date, req.service).map(hex::encode);
                assert_eq!(keys[0], s(e, "secret_date_hex"), "{name}");
                assert_eq!(keys[1], s(e, "secret_service_hex"), "{name}");
                assert_eq!(keys[2], s(e, "secret_signing_hex"), "{name}");
                checked += 1;
            }
        }
        assert_eq!(checked, 12);
    }

    /// The official doc example that also signs `x-tc-action` cannot go through
    /// [`expected_signature`]; its key chain and final HMAC still must match.
    #[test]
    fn official_example_with_x_tc_action_key_chain() {
        let doc = load("reference_tc3_vectors.json");
        let ex = &doc["official_doc_examples"][0];
        assert_eq!(s(ex, "signed_headers"), "content-type;host;x-tc-action");
        let ts = ex["timestamp"].as_i64().unwrap();
        let date = credential_date(ts);
        let keys = derived_keys(s(ex, "secret_key"), &date, s(ex, "service")).map(hex::encode);
        assert_eq!(keys[0], s(ex, "secret_date_hex"));
        assert_eq!(keys[1], s(ex, "secret_service_hex"));
        assert_eq!(keys[2], s(ex, "secret_signing_hex"));
        let sts = string_to_sign(
            ts,
            &date,
            s(ex, "service"),
            s(ex, "hashed_canonical_request"),
        );
        let sig = sign(s(ex, "secret_key"), &date, s(ex, "service"), &sts);
        assert_eq!(sig, s(ex, "signature"));
    }

    #[test]
    fn credential_date_edges() {
        assert_eq!(credential_date(0), "1970-01-01");
        assert_eq!(credential_date(-1), "1969-12-31");
        assert_eq!(credential_date(951_782_400), "2000-02-29");
        assert_eq!(credential_date(1_727_462_700), "2024-09-27");
        assert_eq!(credential_date(1_735_689_599), "2024-12-31");
        assert_eq!(credential_date(1_735_689_600), "2025-01-01");
        assert_eq!(credential_date(4_107_542_400), "2100-03-01");
        let _ = credential_date(i64::MAX);
        let _ = credential_date(i64::MIN);
    }

    #[test]
    fn get_ignores_body_and_post_ignores_query() {
        let mut req = Signed {
            method: "GET",
            host: "h",
            query: "A=1",
            content_type: "application/x-www-form-urlencoded",
            payload: b"",
            service: "redis",
            timestamp: 0,
        };
        let get = canonical_request(&req);
        req.payload = b"ignored";
        assert_eq!(canonical_request(&req), get);
        req.method = "POST";
        req.query = "";
        let post = canonical_request(&req);
        req.query = "A=1";
        assert_eq!(canonical_request(&req), post);
    }
}
