//! The simulator's own implementation of the three request-signing schemes, with which it
//! *verifies* what the exporter signs: written apart from the exporter's signer, so that a
//! mistake in it cannot agree with itself.
//!
//! - [`tc3`]: Tencent Cloud API 3.0, `TC3-HMAC-SHA256` (rules from tencentcloud-sdk-python-common
//!   `tencentcloud/common/abstract_client.py` and `tencentcloud/common/sign.py`).
//! - [`acs3`]: Alibaba Cloud OpenAPI V3, `ACS3-HMAC-SHA256` (rules from alibabacloud-tea-openapi
//!   0.4.6 `alibabacloud_tea_openapi/utils.py` and `client.py` `do_request`).
//! - [`huawei`]: Huawei Cloud APIG AK/SK, `SDK-HMAC-SHA256` (rules from huaweicloudsdkcore
//!   `huaweicloudsdkcore/signer/signer.py`).
//!
//! All are pure functions over what the request carried; tests check them against vectors
//! captured from the official SDKs.

pub mod acs3;
pub mod huawei;
pub mod tc3;

/// Lower-case hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// HMAC-SHA256 of `msg` under `key`.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC accepts keys of any length, so this never takes the error branch; a
    // zero tag would then simply fail to verify.
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(msg);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// Splits the part of an Authorization header after the algorithm name into the values of
/// exactly the fields `names` (`Name=value` items separated by commas, optional spaces), in
/// the order of `names`. Both SDKs write `A=x, B=y, C=z`
/// (tencentcloud `abstract_client.py` `_build_req_with_tc3_signature`, huaweicloudsdkcore
/// `signer.py` `_process_auth_header_value`); any order is accepted here, but a missing,
/// repeated, unknown or empty field, or whitespace inside a value, is malformed.
fn auth_fields<'a>(params: &'a str, names: [&str; 3]) -> Option<[&'a str; 3]> {
    let mut values: [Option<&'a str>; 3] = [None; 3];
    for item in params.split(',') {
        let (name, value) = item.trim_matches(' ').split_once('=')?;
        if value.is_empty() || value.contains(char::is_whitespace) {
            return None;
        }
        let slot = names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get_mut(i))?;
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let [a, b, c] = values;
    Some([a?, b?, c?])
}

/// The text after `algorithm` and at least one space, or `None` if the header names
/// another algorithm.
fn strip_algorithm<'a>(header: &'a str, algorithm: &str) -> Option<&'a str> {
    let rest = header.strip_prefix(algorithm)?;
    let params = rest.trim_start_matches(' ');
    (params.len() < rest.len()).then_some(params)
}

/// Splits a raw query string (no `?`) into decoded (name, value) pairs in order: items split on
/// `&` (empty items skipped), name and value at the first `=` (no `=`: empty value), `+` read as
/// a space and `%XX` decoded, as in `application/x-www-form-urlencoded`. `None` if an escape is
/// not two hex digits or the bytes are not UTF-8. Alibaba's SDK sends its query with
/// `urllib.parse.urlencode` (darabonba-core `core.py`), so a space arrives as `+`; a client that
/// sends `%20` decodes to the same pairs. Huawei's SDK sends the canonical query, where both
/// are escaped.
pub fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            Some((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

/// The value of one ASCII hex digit, either case.
fn hex_digit(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Form-decodes one query component for [`parse_query`]: `+` is a space, `%XX` a byte, and
/// the result must be UTF-8.
fn form_decode(raw: &str) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(byte) = bytes.next() {
        out.push(match byte {
            b'+' => b' ',
            b'%' => {
                let high = hex_digit(bytes.next()?)?;
                let low = hex_digit(bytes.next()?)?;
                (high << 4) | low
            }
            other => other,
        });
    }
    String::from_utf8(out).ok()
}

/// Python's `urllib.parse.quote(value, safe='~', encoding='utf-8')`, as both SDKs apply it
/// (Alibaba's `get_canonical_query_string`, Huawei's `Signer._url_encode`): every UTF-8 byte
/// except `A-Z a-z 0-9 - _ . ~` becomes `%XX` with upper-case hex (a space is `%20`, never `+`).
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What Python's `str.strip()` removes from a header value, as both SDKs strip them: the
/// characters for which `str.isspace()` holds, which are Rust's whitespace plus the separators
/// U+001C..=U+001F.
fn python_strip(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}
