//! Alibaba Cloud's ACS3-HMAC-SHA256, the scheme the current official SDK
//! (alibabacloud-tea-openapi 0.4.6, `alibabacloud_tea_openapi/utils.py`, `client.py`
//! `do_request`) uses for RPC-style APIs such as `DescribeHistoryTasks`.
//!
//! The request is a `POST /` with every parameter in the query and an empty body. The
//! canonical request is the method, `/`, the query sorted by key with each value
//! percent-encoded (only `A-Z a-z 0-9 - _ . ~` kept; keys as they are), every header the
//! request carries (lower-cased, trimmed, sorted, `name:value` lines), the signed header
//! names, and the hex SHA-256 of the body. The signature is `hex(HMAC-SHA256(secret,
//! "ACS3-HMAC-SHA256\n" + hex(SHA-256(canonical request))))`: no key derivation, no scope.
//! The query is sent in its canonical form, so what is signed is what is sent.

pub use super::encode;
use super::{hmac_sha256, sha256_hex};

pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// `x-acs-date`: UTC to the second, `2024-09-27T05:10:00Z` (`utils.py` `get_timestamp`).
pub const DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The parts of a request that ACS3-HMAC-SHA256 signs.
#[derive(Debug, Clone, Copy)]
pub struct Acs3Request<'a> {
    pub method: &'a str,
    /// `/` for RPC-style APIs.
    pub path: &'a str,
    /// Query parameters, not yet encoded, in any order.
    pub query: &'a [(&'a str, &'a str)],
    /// Every header sent but `Authorization`, `host` (with its port, if any) among them.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// `key=value` pairs sorted by key (by code point, as Python sorts strings), values encoded,
/// keys as they are, joined with `&`.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = query.to_vec();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical header lines (`name:value\n`, names lower-cased and sorted, values
/// trimmed) and the signed header names joined with `;` (`utils.py`
/// `_get_canonicalized_headers`).
pub fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut lowered: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    lowered.sort();
    let lines: String = lowered
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let names = lowered
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (lines, names)
}

pub fn canonical_request(request: &Acs3Request) -> String {
    let (headers, signed) = canonical_headers(request.headers);
    format!(
        "{}\n{}\n{}\n{headers}\n{signed}\n{}",
        request.method,
        request.path,
        canonical_query(request.query),
        sha256_hex(request.body)
    )
}

pub fn string_to_sign(request: &Acs3Request) -> String {
    format!(
        "{ALGORITHM}\n{}",
        sha256_hex(canonical_request(request).as_bytes())
    )
}

pub fn signature(access_key_secret: &str, request: &Acs3Request) -> String {
    hex::encode(hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign(request).as_bytes(),
    ))
}

/// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<names>,Signature=<hex>`, no spaces after
/// the commas.
pub fn authorization(
    access_key_id: &str,
    access_key_secret: &str,
    request: &Acs3Request,
) -> String {
    let (_, signed) = canonical_headers(request.headers);
    format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed},Signature={}",
        signature(access_key_secret, request)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_stay_literal() {
        assert_eq!(encode("a b+c*d~e/f:g"), "a%20b%2Bc%2Ad~e%2Ff%3Ag");
        assert_eq!(encode("实例"), "%E5%AE%9E%E4%BE%8B");
        assert_eq!(encode("Running,Failed"), "Running%2CFailed");
    }

    #[test]
    fn headers_are_lowered_trimmed_and_sorted() {
        let (lines, names) =
            canonical_headers(&[("X-Acs-Date", " d "), ("Host", "h"), ("accept", "a")]);
        assert_eq!(lines, "accept:a\nhost:h\nx-acs-date:d\n");
        assert_eq!(names, "accept;host;x-acs-date");
    }
}
