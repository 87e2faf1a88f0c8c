//! Alibaba Cloud API signature V3, `ACS3-HMAC-SHA256`, as the official Python SDK computes it
//! (alibabacloud-tea-openapi 0.4.6, `alibabacloud_tea_openapi/utils.py`
//! `get_canonical_query_string`, `get_canonicalized_headers`, `Utils.get_authorization`, and
//! `alibabacloud_tea_openapi/client.py` `Client.do_request`, the default path of `call_api`).
//!
//! Unlike TC3 there is no derived key and no date or region scope: the string to sign is the
//! algorithm and the hash of the canonical request, signed with the access key secret itself.

use std::collections::BTreeMap;

pub use super::parse_query;
use super::{auth_fields, hmac_sha256, python_strip, quote, sha256_hex, strip_algorithm};

/// The algorithm name that opens the Authorization header and the string to sign
/// (`do_request`: `self._signature_algorithm or 'ACS3-HMAC-SHA256'`).
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// What an ACS3 request carried, as the verifier saw it.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// HTTP method as sent (`POST` for the RPC APIs); put in the canonical request verbatim.
    pub method: &'a str,
    /// The request path as sent, still percent-encoded, without the query (`/` for the RPC
    /// APIs); an empty path is signed as `/`.
    pub path: &'a str,
    /// The query as decoded (name, value) pairs, in any order (see [`parse_query`]).
    pub query: &'a [(&'a str, &'a str)],
    /// The signed headers (names as listed in `SignedHeaders`, any case) with their values as
    /// received.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body (empty for the RPC APIs, whose fields all travel in the query).
    pub body: &'a [u8],
}

/// The parts of `ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b>,Signature=<hex>`
/// (`Utils.get_authorization`; the SDK writes no space after the commas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key ID the client claims to sign with (the whole `Credential` value: ACS3
    /// has no credential scope).
    pub access_key_id: &'a str,
    /// The signed header names, in the order written (the SDK writes them lower-case and
    /// sorted).
    pub signed_headers: Vec<&'a str>,
    /// The `Signature` value as written.
    pub signature: &'a str,
}

/// Parses an `ACS3-HMAC-SHA256` Authorization header; `None` unless it has exactly the fields
/// `Credential`, `SignedHeaders` and `Signature` (any order, optional spaces after the commas),
/// with `SignedHeaders` a non-empty `;`-separated list of distinct (case-insensitively) names.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let params = strip_algorithm(header, ALGORITHM)?;
    let [access_key_id, signed, signature] =
        auth_fields(params, ["Credential", "SignedHeaders", "Signature"])?;
    let signed_headers: Vec<&str> = signed.split(';').collect();
    let mut seen: Vec<String> = Vec::with_capacity(signed_headers.len());
    for name in &signed_headers {
        let lower = name.to_ascii_lowercase();
        if name.is_empty() || seen.contains(&lower) {
            return None;
        }
        seen.push(lower);
    }
    Some(Authorization {
        access_key_id,
        signed_headers,
        signature,
    })
}

/// The canonical query (`get_canonical_query_string`): pairs sorted by name (Python's code-point
/// order, which is UTF-8 byte order), each written `name=quote(value)` with the name *not*
/// encoded, joined by `&`; empty for no query. The SDK's query is a dict, so it never repeats
/// a name; repeated names received here are ordered by value too, for a deterministic result.
fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut sorted = query.to_vec();
    sorted.sort_unstable();
    let mut out = String::new();
    for (index, (name, value)) in sorted.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&quote(value));
    }
    out
}

/// The canonical headers and the signed-header list (`get_canonicalized_headers`): names
/// lower-cased (HTTP header names are ASCII), values stripped; values under one name sorted and
/// joined by `,`; one `name:value\n` line per name in sorted order; the names joined by `;`.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut grouped: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, value) in headers {
        grouped
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(python_strip(value));
    }
    let mut lines = String::new();
    let mut names: Vec<&str> = Vec::with_capacity(grouped.len());
    for (name, values) in &mut grouped {
        values.sort_unstable();
        lines.push_str(name);
        lines.push(':');
        lines.push_str(&values.join(","));
        lines.push('\n');
        names.push(name);
    }
    (lines, names.join(";"))
}

/// The canonical request (`Utils.get_authorization`): method, path (`/` if empty), canonical
/// query, canonical headers (each line already ends in `\n`, and one more `\n` follows), signed
/// header names, and the hex SHA-256 of the body (`do_request`'s `hashed_request_payload`, the
/// value it also sends as `x-acs-content-sha256`).
fn canonical_request(request: &Signed) -> String {
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let (header_lines, signed_headers) = canonical_headers(request.headers);
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        path,
        canonical_query(request.query),
        header_lines,
        signed_headers,
        sha256_hex(request.body)
    )
}

/// The string to sign (`Utils.get_authorization`): `ACS3-HMAC-SHA256\n<hex sha256 of the
/// canonical request>`.
fn string_to_sign(canonical: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical.as_bytes()))
}

/// The hex signature the SDK would have sent for `request`: HMAC-SHA256 keyed with the
/// access key secret itself over the string to sign (`signature_method`, no key derivation).
pub fn expected_signature(access_key_secret: &str, request: &Signed) -> String {
    let sts = string_to_sign(&canonical_request(request));
    hex::encode(hmac_sha256(access_key_secret.as_bytes(), sts.as_bytes()))
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

    /// A JSON scalar as the SDK stringifies a query value (`str(value)`).
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The SDK's canonical query, headers, request and string to sign, for every vector, built
    /// from its unencoded inputs and the headers it sent.
    #[test]
    fn intermediates_match_sdk_vectors() {
        let doc = load("alibaba_vectors.json");
        let vectors = doc["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 8);
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let (inputs, expected) = (&v["inputs"], &v["expected"]);
            let params: Vec<(String, String)> = inputs["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, val)| (k.clone(), scalar(val)))
                .collect();
            let query: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, val)| (k.as_str(), val.as_str()))
                .collect();
            let headers: Vec<(&str, &str)> = v["request"]["headers"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "Authorization" | "Content-Length"))
                .map(|(k, val)| (k.as_str(), val.as_str().unwrap()))
                .collect();
            let req = Signed {
                method: inputs["http_method"].as_str().unwrap(),
                path: inputs["pathname"].as_str().unwrap(),
                query: &query,
                headers: &headers,
                body: b"",
            };
            let exp = |key: &str| expected[key].as_str().unwrap();
            assert_eq!(
                canonical_query(&query),
                exp("canonical_query_string"),
                "{name}"
            );
            let (lines, signed) = canonical_headers(&headers);
            assert_eq!(lines, exp("canonical_headers"), "{name}");
            assert_eq!(signed, exp("signed_headers"), "{name}");
            let canonical = canonical_request(&req);
            assert_eq!(canonical, exp("canonical_request"), "{name}");
            assert_eq!(
                sha256_hex(canonical.as_bytes()),
                exp("hashed_canonical_request"),
                "{name}"
            );
            assert_eq!(string_to_sign(&canonical), exp("string_to_sign"), "{name}");
            let secret = inputs["access_key_secret"].as_str().unwrap();
            assert_eq!(expected_signature(secret, &req), exp("signature"), "{name}");
        }
    }

    #[test]
    fn quote_is_python_quote_with_tilde_safe() {
        assert_eq!(quote(""), "");
        assert_eq!(quote("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(
            quote("a b+c*d/e:f,g=h&i;j%k"),
            "a%20b%2Bc%2Ad%2Fe%3Af%2Cg%3Dh%26i%3Bj%25k"
        );
        assert_eq!(quote("名\u{7f}\n"), "%E5%90%8D%7F%0A");
    }

    #[test]
    fn canonical_query_sorts_by_name_and_leaves_names_unencoded() {
        let q = [
            ("b", "2"),
            ("a b", "x y"),
            ("B", "*"),
            ("a", ""),
            ("é", "1"),
        ];
        assert_eq!(canonical_query(&q), "B=%2A&a=&a b=x%20y&b=2&é=1");
        assert_eq!(canonical_query(&[("k", "2"), ("k", "1")]), "k=1&k=2");
        assert_eq!(canonical_query(&[]), "");
    }

    #[test]
    fn headers_lowercased_stripped_grouped_and_sorted() {
        let headers = [
            ("X-Acs-Date", " 2024-09-27T05:10:00Z\t"),
            ("Host", "h\u{1f}"),
            ("x-acs-b", "2"),
            ("X-ACS-B", "1 "),
        ];
        let (lines, signed) = canonical_headers(&headers);
        assert_eq!(
            lines,
            "host:h\nx-acs-b:1,2\nx-acs-date:2024-09-27T05:10:00Z\n"
        );
        assert_eq!(signed, "host;x-acs-b;x-acs-date");
        assert_eq!(python_strip("\u{85}\u{a0} v \u{3000}\u{1c}"), "v");
    }

    #[test]
    fn empty_path_is_root() {
        let base = Signed {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[("host", "h")],
            body: b"",
        };
        let empty = Signed { path: "", ..base };
        assert_eq!(canonical_request(&empty), canonical_request(&base));
        assert_eq!(
            canonical_request(&base),
            "POST\n/\n\nhost:h\n\nhost\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
