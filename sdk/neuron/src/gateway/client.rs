//! A client of a gateway's API (`tao ai ask`, tests, benchmarks): JSON in and out, every
//! answer read with a size limit, every error the gateway's [`ApiError`] code and message.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::DeserializeOwned;

use super::api::{
    Answer, ApiError, AskRequest, ChannelBooks, GatewayInfo, RouteAnswer, RouteRequest,
    RouteVoucher, VoucherWire,
};

/// Largest response read from a gateway.
pub const MAX_RESPONSE: usize = 1 << 20;

/// A failed call: transport, or the gateway's refusal.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Could not reach it or read its answer.
    #[error("gateway: {0}")]
    Transport(String),
    /// It refused: HTTP status, code, message.
    #[error("gateway refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stable code (`voucher_too_low`, ...).
        code: String,
        /// Why.
        message: String,
    },
}

/// A gateway at a base URL.
#[derive(Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    base: String,
}

impl GatewayClient {
    /// A client of the gateway at `base` (`http://HOST:PORT`); each call within `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, GatewayError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GatewayError::Transport(e.to_string()))?;
        Ok(GatewayClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    async fn read<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, GatewayError> {
        let t = |e: reqwest::Error| GatewayError::Transport(e.to_string());
        let mut resp = req.send().await.map_err(t)?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(t)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE {
                return Err(GatewayError::Transport(format!(
                    "response over {MAX_RESPONSE} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(e) => GatewayError::Refused {
                    status: status.as_u16(),
                    code: e.error.code,
                    message: e.error.message,
                },
                Err(_) => GatewayError::Refused {
                    status: status.as_u16(),
                    code: "http".into(),
                    message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into(),
                },
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| GatewayError::Transport(format!("malformed response: {e}")))
    }

    /// `GET /v1/subnets`.
    pub async fn info(&self) -> Result<GatewayInfo, GatewayError> {
        self.read(self.http.get(format!("{}/v1/subnets", self.base)))
            .await
    }

    /// `GET /v1/channels/{id}`.
    pub async fn books(&self, id: u64) -> Result<ChannelBooks, GatewayError> {
        self.read(self.http.get(format!("{}/v1/channels/{id}", self.base)))
            .await
    }

    /// `POST /v1/subnets/{netuid}/ask`.
    pub async fn ask(
        &self,
        netuid: u16,
        input: &[u8],
        voucher: VoucherWire,
    ) -> Result<Answer, GatewayError> {
        let body = AskRequest {
            input: B64.encode(input),
            voucher,
        };
        let url = format!("{}/v1/subnets/{netuid}/ask", self.base);
        self.read(self.http.post(url).json(&body)).await
    }

    /// `POST /v1/ask`.
    pub async fn route(
        &self,
        input: &[u8],
        vouchers: Vec<RouteVoucher>,
    ) -> Result<RouteAnswer, GatewayError> {
        let body = RouteRequest {
            input: B64.encode(input),
            vouchers,
        };
        self.read(self.http.post(format!("{}/v1/ask", self.base)).json(&body))
            .await
    }
}
