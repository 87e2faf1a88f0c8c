//! Huawei Cloud APIG AK/SK signature, `SDK-HMAC-SHA256`, as the official Python SDK computes it
//! (huaweicloudsdkcore 3.1.219, `huaweicloudsdkcore/signer/signer.py` class `Signer`).

pub use super::parse_query;
use super::{
    auth_fields, hex_digit, hmac_sha256, python_strip, quote, sha256_hex, strip_algorithm,
};

/// The algorithm name that opens the Authorization header and the string to sign
/// (`Signer._ALGORITHM`).
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The `strftime` format of the `X-Sdk-Date` header (`Signer._BASIC_DATE_FORMAT`), e.g.
/// `20240102T030405Z`, always UTC.
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// What the SDK hashes when there is no body (`Signer._EMPTY_HASH`, SHA-256 of "").
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The header whose value replaces the body hash when present (`Signer._HEADER_CONTENT`; the SDK
/// sets it to `UNSIGNED-PAYLOAD` for non-JSON bodies in `_process_content_header`).
const CONTENT_HASH_HEADER: &str = "x-sdk-content-sha256";

/// What a Huawei request carried, as the verifier saw it.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// HTTP method (upper-cased for signing, `_process_canonical_request`).
    pub method: &'a str,
    /// The request path as sent, still percent-encoded, without the query.
    pub path: &'a str,
    /// The query as decoded (name, value) pairs, in any order (see [`parse_query`]).
    pub query: &'a [(&'a str, &'a str)],
    /// The signed headers (names from `SignedHeaders`) with their values as received.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body.
    pub body: &'a [u8],
}

/// The parts of `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>`
/// (`Signer._process_auth_header_value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key (AK) the client claims to sign with.
    pub access_key: &'a str,
    /// The signed header names, in the order written.
    pub signed_headers: Vec<&'a str>,
    /// The `Signature` value as written.
    pub signature: &'a str,
}

/// Parses an `SDK-HMAC-SHA256` Authorization header; `None` unless it has exactly the fields
/// Access, SignedHeaders (non-empty `;`-separated names) and Signature.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let params = strip_algorithm(header, ALGORITHM)?;
    let [access_key, signed, signature] =
        auth_fields(params, ["Access", "SignedHeaders", "Signature"])?;
    let signed_headers: Vec<&str> = signed.split(';').collect();
    if signed_headers.iter().any(|h| h.is_empty()) {
        return None;
    }
    Some(Authorization {
        access_key,
        signed_headers,
        signature,
    })
}

/// Lenient percent-decoding of a path, like Python's `urllib.parse.unquote` that the SDK uses
/// in `_process_canonical_uri`: a `%` not followed by two hex digits is kept as is, and invalid
/// UTF-8 becomes U+FFFD.
fn unquote(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex_digit(h).zip(hex_digit(l)),
            _ => None,
        };
        if let Some((hi, lo)) = escaped {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical URI (`_process_canonical_uri`): the path decoded, split on `/`, each segment
/// re-encoded, joined, and a `/` appended unless it already ends in one. An encoded `%2F` thus
/// becomes a separator.
fn canonical_uri(path: &str) -> String {
    let decoded = unquote(path);
    let mut uri = decoded.split('/').map(quote).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query (`_process_canonical_query_string`): pairs sorted by decoded name, then
/// decoded value (Python tuple order; UTF-8 byte order equals code point order), each
/// `encode(name)=encode(value)`, joined by `&`.
fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs = query.to_vec();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", quote(name), quote(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request (`Signer._process_canonical_request`): upper-cased method, canonical
/// URI, canonical query, `name:value\n` per header (lower-case name, stripped value, sorted by
/// name), the sorted names joined by `;`, and the payload hash.
fn canonical_request(request: &Signed) -> String {
    let mut headers: Vec<(String, &str)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), python_strip(value)))
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.path),
        canonical_query(request.query),
        canonical_headers,
        signed_headers,
        payload_hash(request.body, &headers)
    )
}

/// The payload hash (`Signer._process_hash_payload`): the empty hash for no body, else the
/// `X-Sdk-Content-Sha256` header's value when that header is present, else SHA-256 of the body.
fn payload_hash(body: &[u8], headers: &[(String, &str)]) -> String {
    if body.is_empty() {
        return EMPTY_HASH.to_owned();
    }
    match headers.iter().find(|(name, _)| name == CONTENT_HASH_HEADER) {
        Some((_, value)) if !value.is_empty() => (*value).to_owned(),
        _ => sha256_hex(body),
    }
}

/// The string to sign (`Signer._process_string_to_sign`):
/// `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256 of the canonical request>`.
fn string_to_sign(canonical: &str, sdk_date: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical.as_bytes())
    )
}

/// The hex signature the SDK would have sent: HMAC-SHA256 under the SK itself, no key derivation
/// (`Signer._sign_string_to_sign`), over the string to sign for `request` dated `sdk_date`
/// (the `X-Sdk-Date` value, [`DATE_FORMAT`]).
pub fn expected_signature(secret_key: &str, request: &Signed, sdk_date: &str) -> String {
    let sts = string_to_sign(&canonical_request(request), sdk_date);
    hex::encode(hmac_sha256(secret_key.as_bytes(), sts.as_bytes()))
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

    /// The SDK's canonical request and string to sign, for every generated vector.
    #[test]
    fn intermediates_match_sdk_vectors() {
        let doc = load("huawei_vectors.json");
        let vectors = doc["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 7);
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let query: Vec<(&str, &str)> = v["query"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap()))
                .collect();
            let mut headers: Vec<(&str, &str)> = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, val)| (k.as_str(), val.as_str().unwrap()))
                .collect();
            headers.push(("Host", v["host"].as_str().unwrap()));
            let req = Signed {
                method: v["method"].as_str().unwrap(),
                path: v["path"].as_str().unwrap(),
                query: &query,
                headers: &headers,
                body: v["body"].as_str().unwrap().as_bytes(),
            };
            let canonical = canonical_request(&req);
            assert_eq!(
                canonical,
                v["canonical_request"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                canonical_query(&query),
                v["query_string"].as_str().unwrap(),
                "{name}"
            );
            let date = v["headers"]["X-Sdk-Date"].as_str().unwrap();
            assert_eq!(
                string_to_sign(&canonical, date),
                v["string_to_sign"].as_str().unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn canonical_uri_rules() {
        assert_eq!(canonical_uri("/v3/p/tasklist"), "/v3/p/tasklist/");
        assert_eq!(canonical_uri("/v3/p/tasklist/"), "/v3/p/tasklist/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a b/%7Ex"), "/a%20b/~x/");
        assert_eq!(canonical_uri("/a%20b/c"), "/a%20b/c/");
        assert_eq!(canonical_uri("/a%2Fb"), "/a/b/");
        assert_eq!(canonical_uri("/a%zz/%4"), "/a%25zz/%254/");
        assert_eq!(canonical_uri("/%E5%90%8D"), "/%E5%90%8D/");
        assert_eq!(canonical_uri("/%FF"), "/%EF%BF%BD/");
        assert_eq!(canonical_uri("/a%C3%28b"), "/a%EF%BF%BD%28b/");
        assert_eq!(canonical_uri("/%F0%9F%93"), "/%EF%BF%BD/");
    }

    #[test]
    fn canonical_query_sorts_decoded_pairs_then_encodes() {
        let q = [("b", "2"), ("a", "y"), ("a", "x"), ("é", "1"), ("Z", "*")];
        assert_eq!(canonical_query(&q), "Z=%2A&a=x&a=y&b=2&%C3%A9=1");
        assert_eq!(canonical_query(&[]), "");
    }

    #[test]
    fn headers_lowercased_stripped_sorted_and_content_hash_header() {
        let req = Signed {
            method: "post",
            path: "/x",
            query: &[],
            headers: &[
                ("X-Sdk-Date", " 20240102T030405Z\t"),
                ("Host", "h"),
                ("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"),
            ],
            body: b"a=1",
        };
        assert_eq!(
            canonical_request(&req),
            "POST\n/x/\n\nhost:h\nx-sdk-content-sha256:UNSIGNED-PAYLOAD\n\
             x-sdk-date:20240102T030405Z\n\nhost;x-sdk-content-sha256;x-sdk-date\nUNSIGNED-PAYLOAD"
        );
        assert_eq!(python_strip("\u{1f} v \u{3000}"), "v");
    }
}
