//! Tencent Cloud API 3.0 signing, TC3-HMAC-SHA256.
//!
//! Signs `content-type;host`, as the official SDKs do. The credential date is the UTC date of
//! the timestamp (not the Beijing date), and the session token travels unsigned in `X-TC-Token`.

use chrono::DateTime;

use super::{hmac_sha256, sha256_hex};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const SIGNED_HEADERS: &str = "content-type;host";

/// The parts of a request that TC3 signs.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Request<'a> {
    pub method: &'a str,
    /// The `Host` header exactly as sent (with the port, if the endpoint has one).
    pub host: &'a str,
    /// The query string exactly as sent; empty for POST.
    pub query: &'a str,
    pub content_type: &'a str,
    pub payload: &'a [u8],
    /// The service name of the credential scope: `postgres`, `cdb`, `redis`.
    pub service: &'a str,
    /// Unix seconds, also sent as `X-TC-Timestamp`.
    pub timestamp: i64,
}

/// `YYYY-MM-DD` of the timestamp in UTC, the date of the credential scope.
pub fn credential_date(timestamp: i64) -> String {
    DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

pub fn canonical_request(req: &Tc3Request) -> String {
    format!(
        "{method}\n/\n{query}\ncontent-type:{content_type}\nhost:{host}\n\n{SIGNED_HEADERS}\n{payload}",
        method = req.method,
        query = req.query,
        content_type = req.content_type,
        host = req.host,
        payload = sha256_hex(req.payload),
    )
}

pub fn string_to_sign(req: &Tc3Request) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{hashed}",
        timestamp = req.timestamp,
        date = credential_date(req.timestamp),
        service = req.service,
        hashed = sha256_hex(canonical_request(req).as_bytes()),
    )
}

/// kSigning = HMAC(HMAC(HMAC("TC3" + key, date), service), "tc3_request").
pub fn signing_key(secret_key: &str, date: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    hmac_sha256(&k_service, b"tc3_request")
}

pub fn signature(secret_key: &str, req: &Tc3Request) -> String {
    let key = signing_key(secret_key, &credential_date(req.timestamp), req.service);
    hex::encode(hmac_sha256(&key, string_to_sign(req).as_bytes()))
}

/// The `Authorization` header value.
pub fn authorization(secret_id: &str, secret_key: &str, req: &Tc3Request) -> String {
    format!(
        "{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
        date = credential_date(req.timestamp),
        service = req.service,
        signature = signature(secret_key, req),
    )
}

/// The parts of an `Authorization` header, as a server (the simulator) reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization<'a> {
    pub secret_id: &'a str,
    pub date: &'a str,
    pub service: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

pub fn parse_authorization(header: &str) -> Option<ParsedAuthorization<'_>> {
    let rest = header.strip_prefix(ALGORITHM)?.trim_start();
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        let (key, value) = part.split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let parsed = ParsedAuthorization {
        secret_id: scope.next()?,
        date: scope.next()?,
        service: scope.next()?,
        signed_headers: signed_headers?,
        signature: signature?,
    };
    (scope.next() == Some("tc3_request") && scope.next().is_none()).then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_date_is_utc_not_beijing() {
        // 2024-09-27T18:45:00Z is already the 28th in Beijing.
        assert_eq!(credential_date(1727462700), "2024-09-27");
    }

    #[test]
    fn authorization_round_trips_through_the_parser() {
        let req = Tc3Request {
            method: "POST",
            host: "postgres.tencentcloudapi.com",
            query: "",
            content_type: "application/json",
            payload: b"{}",
            service: "postgres",
            timestamp: 1_700_000_000,
        };
        let header = authorization("AKIDid", "key", &req);
        let parsed = parse_authorization(&header).expect("parses");
        assert_eq!(parsed.secret_id, "AKIDid");
        assert_eq!(parsed.date, "2023-11-14");
        assert_eq!(parsed.service, "postgres");
        assert_eq!(parsed.signed_headers, SIGNED_HEADERS);
        assert_eq!(parsed.signature, signature("key", &req));
        assert_eq!(parse_authorization("TC3-HMAC-SHA256 Credential=a/b"), None);
    }
}
