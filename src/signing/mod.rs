//! Request signing, one file per scheme. Pure functions over the request's parts: no clock, no
//! I/O, so the official SDKs' vectors test them byte for byte.

pub mod acs3;
pub mod huawei;
pub mod tc3;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9 - _ . ~`, with
/// upper-case hex, over UTF-8 bytes: Python's `quote(text, safe='~')`, as Huawei's signer
/// applies it to path segments and query keys and values, and Alibaba's to query values.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    #[allow(
        clippy::expect_used,
        reason = "HMAC accepts keys of any length: new_from_slice cannot fail"
    )]
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use crate::cloud::{Cloud, Signing};

    #[test]
    fn each_cloud_names_the_scheme_its_signer_writes() {
        assert_eq!(Cloud::Tencent.signing(), Signing::Tc3HmacSha256);
        assert_eq!(Signing::Tc3HmacSha256.name(), super::tc3::ALGORITHM);
        assert_eq!(Cloud::Huawei.signing(), Signing::SdkHmacSha256);
        assert_eq!(Signing::SdkHmacSha256.name(), super::huawei::ALGORITHM);
    }
}
