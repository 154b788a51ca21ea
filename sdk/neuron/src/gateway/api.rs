//! The gateway's HTTP API: one definition of every request and response body, shared by
//! the server, `tao ai ask` (through [`super::client`]) and the tests, and its
//! OpenAPI description (`GET /openapi.json`).
//!
//! Amounts are rao in decimal strings (a JavaScript number loses precision above 2^53).
//! Every error is a JSON [`ApiError`] with an HTTP status and a stable `code`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A user's voucher as sent with a request: the channel, the cumulative amount it now
/// owes on it and its signature over `taochain_primitives::channel::Voucher::digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherWire {
    /// Channel id.
    pub channel: u64,
    /// Cumulative rao owed, decimal.
    pub cumulative_rao: String,
    /// ed25519 signature, 128 hex digits.
    pub signature: String,
}

impl VoucherWire {
    /// The amount and signature, checked for form.
    pub fn parse(&self) -> Result<(u64, [u8; 64]), String> {
        let amount = self.cumulative_rao.parse::<u64>().map_err(|_| {
            format!(
                "cumulative_rao `{}` is not a rao amount",
                self.cumulative_rao
            )
        })?;
        let sig = crate::wire::hex_array::<64>("signature", &self.signature)?;
        Ok((amount, sig))
    }
}

/// `POST /v1/subnets/{netuid}/ask` as JSON (multipart: a `file` part and the voucher's
/// fields `channel`, `cumulative_rao`, `signature` as parts).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The input file, base64 (WAV, PNG or UTF-8 text, as the subnet's task takes).
    pub input: String,
    /// Payment for this request.
    pub voucher: VoucherWire,
}

/// A voucher for one subnet of a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteVoucher {
    /// The subnet it pays.
    pub netuid: u16,
    /// The voucher.
    #[serde(flatten)]
    pub voucher: VoucherWire,
}

/// `POST /v1/ask` as JSON (multipart: a `file` part and a `vouchers` part holding the
/// JSON array).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    /// The input file, base64.
    pub input: String,
    /// One voucher per subnet on the route (`taochain_tasks::route::route`).
    pub vouchers: Vec<RouteVoucher>,
}

/// The miner whose answer was returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinerRef {
    /// UID on the subnet.
    pub uid: u16,
    /// Hotkey (it signed the answer).
    pub hotkey: String,
}

/// One expert's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The subnet.
    pub netuid: u16,
    /// Its task (`speech-to-text`, ...).
    pub task: String,
    /// The answer.
    pub answer: String,
    /// Who answered it (the top-ranked miner among those that agreed).
    pub miner: MinerRef,
    /// Miners asked.
    pub asked: u32,
    /// Miners that answered.
    pub answered: u32,
    /// Miners whose answer was the same as the returned one (after normalising); 1 when
    /// nobody agreed and the top-ranked answer was taken.
    pub agreed: u32,
    /// Milliseconds from the gateway's first query to the last answer it waited for.
    pub latency_ms: u64,
    /// What this request cost, rao.
    pub charged_rao: String,
    /// The channel's cumulative amount now charged, rao (sign the next voucher above it).
    pub cumulative_rao: String,
    /// The channel paid from.
    pub channel: u64,
}

/// The router's answer: the route taken and the last expert's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteAnswer {
    /// The final answer.
    pub answer: String,
    /// Each expert in order, with its own answer and payment.
    pub route: Vec<Answer>,
    /// Milliseconds for the whole route.
    pub latency_ms: u64,
}

/// `GET /v1/subnets`: what this gateway serves and charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// The chain (vouchers are bound to it).
    pub chain_id: String,
    /// The gateway hotkey (open channels to it).
    pub gateway: String,
    /// The price of one request on one subnet, rao.
    pub price_rao: String,
    /// Miners asked per request.
    pub top_k: u32,
    /// A voucher is refused when its channel expires within this many blocks.
    pub expiry_margin_blocks: u64,
    /// The subnets served.
    pub subnets: Vec<SubnetEntry>,
}

/// One served subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetEntry {
    /// Netuid.
    pub netuid: u16,
    /// Its task.
    pub task: String,
}

/// `GET /v1/channels/{id}`: the gateway's books for a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelBooks {
    /// Channel id.
    pub channel: u64,
    /// Charged so far (the highest voucher earned), rao.
    pub charged_rao: String,
    /// Redeemed on chain, rao.
    pub redeemed_rao: String,
    /// The deposit, rao.
    pub deposit_rao: String,
    /// The block from which the user may close it.
    pub expires_at: u64,
}

/// An error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The error.
    pub error: ErrorBody,
}

/// A stable code and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable (`voucher_too_low`, `no_miners`, ...).
    pub code: String,
    /// For a person.
    pub message: String,
}

/// The routes the gateway serves, as `(method, path)`; the OpenAPI description documents
/// exactly these (a test checks it).
pub const ROUTES: [(&str, &str); 5] = [
    ("post", "/v1/subnets/{netuid}/ask"),
    ("post", "/v1/ask"),
    ("get", "/v1/subnets"),
    ("get", "/v1/channels/{id}"),
    ("get", "/openapi.json"),
];

/// Every error status and code the gateway answers with.
pub const ERROR_CODES: &str = "400 bad_request (malformed JSON, multipart, base64 or voucher fields; a voucher off the route); \
402 voucher_bad_signature, voucher_too_low, voucher_above_deposit, voucher_missing, channel_wrong_gateway, channel_wrong_subnet, channel_closed, channel_expiring; \
404 unknown_subnet, unknown_channel; 408 body_timeout; 409 channel_busy (one request at a time per channel); \
413 too_large (body over 768 KiB or input over 512 KiB); 415 unsupported_input; \
429 too_many_requests (one client address with 32 requests in flight); \
502 no_answer (no miner answered: that request is not charged; on a route the steps before it were answered and are charged); \
503 no_miners, miners_busy (every miner has 3 of this gateway's requests in flight), busy, chain_unavailable";

fn error_response() -> Value {
    json!({"description": ERROR_CODES, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"200": {"description": description, "content": {"application/json": {"schema": schema}}},
           "default": error_response()})
}

/// The OpenAPI 3.0 description of the gateway.
pub fn openapi() -> Value {
    let voucher = json!({"type": "object", "required": ["channel", "cumulative_rao", "signature"],
        "properties": {
            "channel": {"type": "integer", "format": "uint64"},
            "cumulative_rao": {"type": "string", "description": "total rao owed on the channel after this request: at least the gateway's charged amount plus the price"},
            "signature": {"type": "string", "description": "ed25519 over sha256(len||\"taochain/voucher/v1\" || len||chain_id || netuid u16 BE || channel u64 BE || cumulative u64 BE), 128 hex digits"}}});
    let answer = json!({"type": "object", "properties": {
        "netuid": {"type": "integer"}, "task": {"type": "string"}, "answer": {"type": "string"},
        "miner": {"type": "object", "properties": {"uid": {"type": "integer"}, "hotkey": {"type": "string"}}},
        "asked": {"type": "integer"}, "answered": {"type": "integer"}, "agreed": {"type": "integer"},
        "latency_ms": {"type": "integer"}, "charged_rao": {"type": "string"},
        "cumulative_rao": {"type": "string"}, "channel": {"type": "integer"}}});
    let error = json!({"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}}});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "taochain gateway", "version": "1",
                 "description": "Pay per request, through a payment channel, for a subnet's AI. Each request carries a voucher; the gateway asks the top-k miners by its validator's scores and returns the answer most of them agree on (else the top-ranked one's). Errors are {\"error\": {\"code\", \"message\"}}."},
        "components": {"schemas": {"Voucher": voucher, "Answer": answer, "Error": error}},
        "paths": {
            "/v1/subnets/{netuid}/ask": {"post": {
                "summary": "Ask one subnet",
                "parameters": [{"name": "netuid", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "requestBody": {"content": {
                    "application/json": {"schema": {"type": "object", "required": ["input", "voucher"], "properties": {
                        "input": {"type": "string", "format": "base64"}, "voucher": {"$ref": "#/components/schemas/Voucher"}}}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}, "channel": {"type": "integer"},
                        "cumulative_rao": {"type": "string"}, "signature": {"type": "string"}}}}}},
                "responses": ok("the answer, who gave it and what it cost", json!({"$ref": "#/components/schemas/Answer"}))}},
            "/v1/ask": {"post": {
                "summary": "Ask the mixture of experts: audio -> speech-to-text -> text-correction, image -> image-to-text -> text-correction, text -> text-correction",
                "requestBody": {"content": {
                    "application/json": {"schema": {"type": "object", "required": ["input", "vouchers"], "properties": {
                        "input": {"type": "string", "format": "base64"},
                        "vouchers": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Voucher"},
                            {"type": "object", "required": ["netuid"], "properties": {"netuid": {"type": "integer"}}}]}}}}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}, "vouchers": {"type": "string", "description": "the JSON array"}}}}}},
                "responses": ok("the last expert's answer and each step's", json!({"type": "object", "properties": {
                    "answer": {"type": "string"}, "latency_ms": {"type": "integer"},
                    "route": {"type": "array", "items": {"$ref": "#/components/schemas/Answer"}}}}))}},
            "/v1/subnets": {"get": {"summary": "The chain, the gateway hotkey, the price and the subnets served",
                "responses": ok("what this gateway serves", json!({"type": "object", "properties": {
                    "chain_id": {"type": "string"}, "gateway": {"type": "string"}, "price_rao": {"type": "string"},
                    "top_k": {"type": "integer"}, "expiry_margin_blocks": {"type": "integer"},
                    "subnets": {"type": "array", "items": {"type": "object", "properties": {
                        "netuid": {"type": "integer"}, "task": {"type": "string"}}}}}}))}},
            "/v1/channels/{id}": {"get": {"summary": "The gateway's books for a channel: charged, redeemed, deposit, expiry",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": ok("the books", json!({"type": "object", "properties": {
                    "channel": {"type": "integer"}, "charged_rao": {"type": "string"}, "redeemed_rao": {"type": "string"},
                    "deposit_rao": {"type": "string"}, "expires_at": {"type": "integer"}}}))}},
            "/openapi.json": {"get": {"summary": "This description", "responses": {"200": {"description": "OpenAPI 3.0.3"}}}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_documents_exactly_the_served_routes() {
        let doc = openapi();
        let paths = doc["paths"].as_object().expect("paths");
        let mut documented: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(p, ops)| {
                ops.as_object()
                    .expect("ops")
                    .keys()
                    .map(|m| (m.clone(), p.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        // Every operation has a 200 with a description (OpenAPI requires one).
        for ops in paths.values() {
            for op in ops.as_object().expect("ops").values() {
                assert!(op["responses"]["200"]["description"].is_string(), "{op}");
            }
        }
    }

    #[test]
    fn a_voucher_amount_and_signature_are_checked_for_form() {
        let v = VoucherWire {
            channel: 1,
            cumulative_rao: "100".into(),
            signature: "ab".repeat(64),
        };
        assert_eq!(v.parse().expect("ok").0, 100);
        for (amount, sig) in [
            ("-1", "ab".repeat(64)),
            ("1e9", "ab".repeat(64)),
            ("18446744073709551616", "ab".repeat(64)),
            ("1", "ab".repeat(63)),
            ("1", "zz".repeat(64)),
        ] {
            let bad = VoucherWire {
                channel: 1,
                cumulative_rao: amount.into(),
                signature: sig,
            };
            assert!(bad.parse().is_err(), "{bad:?}");
        }
    }
}
