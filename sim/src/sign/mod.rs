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
