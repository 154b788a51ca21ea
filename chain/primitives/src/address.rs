//! Account addresses: the first 20 bytes of a domain-separated sha256 of an ed25519
//! public key, shown as bech32 with the human-readable prefix `tao`.

use alloc::string::String;
use bech32::{Bech32, Hrp};
use borsh::{BorshDeserialize, BorshSerialize};
use core::fmt;
use core::str::FromStr;
use sha2::{Digest, Sha256};

/// The bech32 human-readable prefix of every taochain address.
pub const ADDRESS_HRP: &str = "tao";
/// Domain separator hashed in front of a public key to derive its address.
const ADDRESS_DOMAIN: &[u8] = b"taochain/address/v1";

/// A 20-byte account address.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Default,
)]
pub struct Address(pub [u8; 20]);

/// Why a string is not a taochain address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not valid bech32 (bad characters, bad checksum, mixed case).
    #[error("not a bech32 address: {0}")]
    Bech32(String),
    /// Valid bech32 with another prefix.
    #[error("address prefix must be `tao`, got `{0}`")]
    WrongPrefix(String),
    /// Valid bech32 with a payload that is not 20 bytes.
    #[error("address payload must be 20 bytes, got {0}")]
    WrongLength(usize),
}

impl Address {
    /// Derives the address of an ed25519 public key.
    pub fn from_public_key(public_key: &[u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(ADDRESS_DOMAIN);
        hasher.update(public_key);
        let digest = hasher.finalize();
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[..20]);
        Address(out)
    }

    /// A reserved module account with no private key (e.g. the emission pool).
    pub fn module(name: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"taochain/module/v1");
        hasher.update(name.as_bytes());
        let digest = hasher.finalize();
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[..20]);
        Address(out)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        bech32::encode_lower_to_fmt::<Bech32, _>(f, hrp, &self.0).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use alloc::string::ToString;
        let (hrp, data) =
            bech32::decode(s.trim()).map_err(|e| AddressError::Bech32(e.to_string()))?;
        if hrp.as_str() != ADDRESS_HRP {
            return Err(AddressError::WrongPrefix(hrp.as_str().to_string()));
        }
        let bytes: [u8; 20] = data
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::WrongLength(data.len()))?;
        Ok(Address(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn address_roundtrips_through_bech32() {
        let addr = Address::from_public_key(&[7u8; 32]);
        let text = addr.to_string();
        assert!(text.starts_with("tao1"), "{text}");
        assert_eq!(text.parse::<Address>(), Ok(addr));
    }

    #[test]
    fn address_golden_value_is_pinned() {
        let addr = Address::from_public_key(&[0u8; 32]);
        assert_eq!(addr.to_string(), GOLDEN_ZERO_KEY_ADDRESS);
    }

    const GOLDEN_ZERO_KEY_ADDRESS: &str = "tao1pddtz3rtmjdg7ne8gs7zqqcpykxrksmgf5ncef";

    #[test]
    fn foreign_prefix_and_bad_checksum_are_rejected() {
        let addr = Address::from_public_key(&[1u8; 32]).to_string();
        let mut bad = addr.clone();
        bad.pop();
        bad.push(if addr.ends_with('q') { 'p' } else { 'q' });
        assert!(matches!(
            bad.parse::<Address>(),
            Err(AddressError::Bech32(_))
        ));
        let cosmos =
            bech32::encode::<Bech32>(Hrp::parse_unchecked("cosmos"), &[0u8; 20]).expect("encodes");
        assert!(matches!(
            cosmos.parse::<Address>(),
            Err(AddressError::WrongPrefix(_))
        ));
        let short =
            bech32::encode::<Bech32>(Hrp::parse_unchecked("tao"), &[0u8; 19]).expect("encodes");
        assert_eq!(short.parse::<Address>(), Err(AddressError::WrongLength(19)));
        let _ = addr.to_string();
    }
}
