//! Axons: where a subnet neuron's miner listens. A registered hotkey announces its endpoint
//! with `ServeAxon`; the chain keeps one [`AxonInfo`] per (netuid, UID), cleared when the
//! UID is replaced, so validators find miners from the chain alone.
//!
//! The endpoint rule is strict so that a stored endpoint has exactly one spelling:
//! `http://A.B.C.D:PORT`, an IPv4 address in dotted-quad form without leading zeros (written
//! by this module's own formatter, so no toolchain's address printing decides consensus),
//! a port in 1..=65535 without leading zeros, and nothing after the port. Unspecified,
//! multicast and broadcast addresses are refused; host names are refused (a name would
//! make every validator depend on DNS); IPv6 is not accepted yet.

use alloc::format;
use alloc::string::{String, ToString};
use borsh::{BorshDeserialize, BorshSerialize};
use core::net::{IpAddr, Ipv4Addr};

/// Longest accepted endpoint in bytes (`http://255.255.255.255:65535` is 28).
pub const MAX_ENDPOINT_LEN: usize = 64;

/// Blocks a hotkey must wait between two `ServeAxon` on one subnet (subtensor's default
/// serving rate limit).
pub const SERVING_RATE_LIMIT: u64 = 50;

/// The axon protocol: signed JSON over HTTP (`taochain-neuron`'s axon, version 1).
pub const AXON_PROTOCOL_V1: u16 = 1;

/// Axon protocols the chain accepts.
pub const AXON_PROTOCOLS: [u16; 1] = [AXON_PROTOCOL_V1];

/// A served axon: stored at `axon/{netuid}{uid}`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct AxonInfo {
    /// `http://IP:PORT`, canonical (see [`parse_endpoint`]).
    pub endpoint: String,
    /// One of [`AXON_PROTOCOLS`].
    pub protocol: u16,
    /// Block of the `ServeAxon` that set it.
    pub block: u64,
}

/// Checks an endpoint and returns its address and port; `Err` says what is wrong.
pub fn parse_endpoint(endpoint: &str) -> Result<(IpAddr, u16), String> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(format!(
            "endpoint is {} bytes, the limit is {MAX_ENDPOINT_LEN}",
            endpoint.len()
        ));
    }
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return Err(format!("endpoint `{endpoint}` must start with http://"));
    };
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("endpoint `{endpoint}` has no :PORT"))?;
    let v4 = parse_ipv4(host).ok_or_else(|| {
        format!("host `{host}` in endpoint `{endpoint}` is not an IPv4 address (names and IPv6 are refused)")
    })?;
    let ip = IpAddr::V4(v4);
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port `{port}` in endpoint `{endpoint}` is not in 1..=65535"))?;
    if port == 0 {
        return Err(format!("port 0 in endpoint `{endpoint}`"));
    }
    if ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return Err(format!(
            "address {ip} in endpoint `{endpoint}` cannot be dialled"
        ));
    }
    let canonical = endpoint_of(ip, port);
    if canonical != endpoint {
        return Err(format!(
            "endpoint `{endpoint}` is not canonical; write `{canonical}`"
        ));
    }
    Ok((ip, port))
}

/// The canonical endpoint of an address and port (IPv6 is written in brackets, but the
/// chain refuses it).
pub fn endpoint_of(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("http://{a}.{b}.{c}.{d}:{port}")
        }
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    }
}

/// Dotted-quad IPv4, four decimal octets without leading zeros or signs.
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// Checks a protocol number.
pub fn check_protocol(protocol: u16) -> Result<(), String> {
    if AXON_PROTOCOLS.contains(&protocol) {
        Ok(())
    } else {
        Err(format!(
            "axon protocol {protocol} is unknown; known: {}",
            AXON_PROTOCOLS
                .iter()
                .map(|p| p.to_string())
                .collect::<alloc::vec::Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ip_endpoints_are_accepted() {
        for ok in [
            "http://127.0.0.1:8091",
            "http://10.0.0.7:1",
            "http://255.255.255.254:65535",
        ] {
            assert!(parse_endpoint(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn every_other_spelling_is_refused_with_a_reason() {
        let long = format!("http://127.0.0.1:80{}", "0".repeat(60));
        for bad in [
            "",
            "127.0.0.1:8091",
            "https://127.0.0.1:8091",
            "HTTP://127.0.0.1:8091",
            "http://127.0.0.1",
            "http://127.0.0.1:",
            "http://127.0.0.1:0",
            "http://127.0.0.1:65536",
            "http://127.0.0.1:080",
            "http://127.0.0.1:+80",
            "http://127.0.0.01:80",
            "http://127.0.0.1:80/",
            "http://127.0.0.1:80/path",
            "http://user@127.0.0.1:80",
            "http://localhost:80",
            "http://example.com:80",
            "http://0.0.0.0:80",
            "http://255.255.255.255:80",
            "http://224.0.0.1:80",
            "http://[::]:80",
            "http://[::1]:80",
            "http://[2001:db8::1]:443",
            "http://1.2.3:80",
            "http://1.2.3.4.5:80",
            "http://256.1.1.1:80",
            "http://1..2.3:80",
            "http://[ff02::1]:80",
            "http://[2001:DB8::1]:80",
            "http://[2001:db8:0::1]:80",
            "http://::1:80",
            "http:// 127.0.0.1:80",
            long.as_str(),
        ] {
            assert!(parse_endpoint(bad).is_err(), "accepted `{bad}`");
        }
    }

    #[test]
    fn only_known_protocols_pass() {
        assert!(check_protocol(AXON_PROTOCOL_V1).is_ok());
        assert!(check_protocol(0).is_err());
        assert!(check_protocol(2).is_err());
    }
}
