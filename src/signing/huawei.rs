//! Huawei Cloud API Gateway AK/SK signing, SDK-HMAC-SHA256.
//!
//! The signature is `hex(HMAC-SHA256(SK, string_to_sign))` with no key derivation, over a
//! canonical request whose URI always ends in `/` (though the request's own path does not),
//! whose query is sorted and percent-encoded (only unreserved characters kept), and whose
//! headers are every signed header, lowercased and trimmed. The query is sent in the same
//! encoded form, so what is signed is what is sent.

pub use super::encode;
use super::{hmac_sha256, sha256_hex};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The parts of a request that SDK-HMAC-SHA256 signs.
#[derive(Debug, Clone, Copy)]
pub struct HuaweiRequest<'a> {
    pub method: &'a str,
    /// The request path, without query and without the trailing `/` of the canonical URI.
    pub path: &'a str,
    /// Query parameters, not yet encoded, in any order.
    pub query: &'a [(&'a str, &'a str)],
    /// The headers to sign, `Host` (with its port, if any) and `X-Sdk-Date` among them.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Undoes [`encode`] (and any other `%XX`); `None` for a bad escape or bytes that are not
/// UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A query string as sent (`a=1&b=x%20y`) back into decoded pairs; `None` if an escape is bad.
pub fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(key)?, decode(value)?))
        })
        .collect()
}

/// Each path segment encoded, and a `/` appended.
pub fn canonical_uri(path: &str) -> String {
    let mut uri = path.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// `key=value` pairs sorted by key then value (before encoding, as the SDK sorts), encoded,
/// joined by `&`: the canonical query and also the query string to send.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs = query.to_vec();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The signed header names, lowercased, sorted, `;`-separated.
pub fn signed_headers(headers: &[(&str, &str)]) -> String {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names.join(";")
}

fn canonical_headers(headers: &[(&str, &str)]) -> String {
    let mut lines: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
        .collect();
    lines.sort();
    lines.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

pub fn canonical_request(req: &HuaweiRequest) -> String {
    format!(
        "{method}\n{uri}\n{query}\n{headers}\n{signed}\n{payload}",
        method = req.method,
        uri = canonical_uri(req.path),
        query = canonical_query(req.query),
        headers = canonical_headers(req.headers),
        signed = signed_headers(req.headers),
        payload = sha256_hex(req.body),
    )
}

/// `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(req: &HuaweiRequest, sdk_date: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request(req).as_bytes())
    )
}

/// The hex signature; `sdk_date` is the value of the signed `X-Sdk-Date` header.
pub fn signature(secret_key: &str, req: &HuaweiRequest, sdk_date: &str) -> String {
    hex::encode(hmac_sha256(
        secret_key.as_bytes(),
        string_to_sign(req, sdk_date).as_bytes(),
    ))
}

/// The `Authorization` header value.
pub fn authorization(
    access_key: &str,
    secret_key: &str,
    req: &HuaweiRequest,
    sdk_date: &str,
) -> String {
    format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={signed}, Signature={signature}",
        signed = signed_headers(req.headers),
        signature = signature(secret_key, req, sdk_date),
    )
}

/// `X-Sdk-Date`'s format: UTC `%Y%m%dT%H%M%SZ`.
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The fields of an `Authorization` header, for the simulator's verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization<'a> {
    pub access_key: &'a str,
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
}

pub fn parse_authorization(value: &str) -> Option<ParsedAuthorization<'_>> {
    let rest = value.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut access_key, mut signed, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let (name, value) = field.trim().split_once('=')?;
        match name {
            "Access" => access_key = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    Some(ParsedAuthorization {
        access_key: access_key?,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved() {
        assert_eq!(
            encode("Reboot DB:x/y~a_b-c.d"),
            "Reboot%20DB%3Ax%2Fy~a_b-c.d"
        );
        assert_eq!(encode("名"), "%E5%90%8D");
        assert_eq!(encode("a+b=c&"), "a%2Bb%3Dc%26");
    }

    #[test]
    fn decoding_undoes_encoding() {
        for text in ["Reboot DB:x/y~", "名称", "a+b=c&d%", ""] {
            assert_eq!(decode(&encode(text)).as_deref(), Some(text));
        }
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%4"), None);
        let pairs = [("name", "a b&c"), ("limit", "50")];
        assert_eq!(
            parse_query(&canonical_query(&pairs)),
            Some(vec![
                ("limit".to_owned(), "50".to_owned()),
                ("name".to_owned(), "a b&c".to_owned())
            ])
        );
    }

    #[test]
    fn canonical_uri_always_ends_in_a_slash() {
        assert_eq!(canonical_uri("/v3/p1/tasklist"), "/v3/p1/tasklist/");
        assert_eq!(canonical_uri("/v3/p1/tasklist/"), "/v3/p1/tasklist/");
        assert_eq!(canonical_uri("/"), "/");
    }

    #[test]
    fn query_is_sorted_and_encoded() {
        assert_eq!(
            canonical_query(&[("offset", "0"), ("limit", "50"), ("name", "a b")]),
            "limit=50&name=a%20b&offset=0"
        );
        assert_eq!(canonical_query(&[]), "");
    }

    #[test]
    fn authorization_round_trips() {
        let value = "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=abc";
        assert_eq!(
            parse_authorization(value),
            Some(ParsedAuthorization {
                access_key: "AK1",
                signed_headers: vec!["host", "x-sdk-date"],
                signature: "abc",
            })
        );
        assert_eq!(parse_authorization("TC3-HMAC-SHA256 Credential=x"), None);
        assert_eq!(parse_authorization("SDK-HMAC-SHA256 Access=AK1"), None);
    }
}
