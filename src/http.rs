//! The one way the exporter talks to a cloud, shared with the tests that need it: send a
//! signed request, read an answer of bounded size, and turn what went wrong on the way into
//! an [`ApiError`].

use crate::providers::{ApiError, ApiRequest, ApiResponse};

/// The largest answer read; a page of 100 tasks is a few tens of KiB.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// An answer as it came: status, the request id header, the whole (bounded) body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: bytes::Bytes,
}

impl Answer {
    /// The answer as a provider's parser reads it.
    pub fn as_response(&self) -> ApiResponse<'_> {
        ApiResponse {
            status: self.status,
            request_id: self.request_id.as_deref(),
            body: &self.body,
        }
    }
}

/// Sends a signed request and reads its answer, at most [`MAX_BODY_BYTES`] of it. No timeout
/// of its own: the caller bounds it.
pub async fn exchange(client: &reqwest::Client, request: ApiRequest) -> Result<Answer, ApiError> {
    let mut builder = client.request(request.method, request.url);
    for (name, value) in request.headers {
        // reqwest writes Host from the URL, the same value that was signed.
        if name != "Host" {
            builder = builder.header(name, value);
        }
    }
    let response = builder
        .body(request.body)
        .send()
        .await
        .map_err(network_error)?;
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_body(response, request_id.as_deref()).await?;
    Ok(Answer {
        status,
        request_id,
        body,
    })
}

/// The answer's body, refused once it is longer than [`MAX_BODY_BYTES`] (whatever its
/// `Content-Length` claims), without reading the rest.
async fn read_body(
    mut response: reqwest::Response,
    request_id: Option<&str>,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || {
        ApiError::bad_response(
            format!("the answer is larger than {} MiB", MAX_BODY_BYTES >> 20),
            request_id.map(str::to_owned),
        )
    };
    let announced = response.content_length().unwrap_or(0);
    if announced > MAX_BODY_BYTES as u64 {
        return Err(too_large());
    }
    // The announced length is within the cap, so it may size the buffer.
    let mut body = bytes::BytesMut::with_capacity(announced as usize);
    while let Some(chunk) = response.chunk().await.map_err(network_error)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// reqwest's message plus its causes, which say what actually went wrong (refused, DNS, TLS).
fn network_error(error: reqwest::Error) -> ApiError {
    if error.is_timeout() {
        return ApiError::Timeout;
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ApiError::Network(message)
}
