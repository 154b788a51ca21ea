//! The transaction envelope, its borsh wire format, the signing bytes, and a strict
//! decoder written for an adversary.
//!
//! Wire format: `borsh(SignedTx { body, public_key: [u8; 32], signature: [u8; 64] })` with
//! `TxBody { chain_id: String, nonce: u64, fee: u64, gas_limit: u64, msgs: Vec<Msg> }`.
//! `Msg` is a borsh enum: a one-byte variant tag, then the fields. The signature is
//! ed25519 over `sha256("taochain/tx/v1" || borsh(body))`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use borsh::io::{Error as IoError, ErrorKind, Read};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::address::Address;
use crate::codes::RejectCode;
use crate::signature::{self, Prepared};
use crate::subnet::{Hyperparams, ProposalAction, VoteChoice};

/// Domain separator for transaction signatures.
pub const TX_SIGN_DOMAIN: &[u8] = b"taochain/tx/v1";
/// Longest accepted chain id, in bytes.
pub const MAX_CHAIN_ID_LEN: usize = 64;

/// One state-changing message. New variants go at the end (tags are stable).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Msg {
    /// Move `amount` rao from the signer to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount in rao, non-zero.
        amount: u64,
    } = 0,
    /// Upload contract code; the result data is the new code id (borsh u64) and checksum.
    StoreCode {
        /// The WASM module.
        wasm: Vec<u8>,
    } = 1,
    /// Create a contract from stored code; the result data is its address (20 bytes).
    Instantiate {
        /// Code id from `StoreCode`.
        code_id: u64,
        /// The contract's instantiate message.
        msg: Vec<u8>,
        /// rao moved from the signer to the new contract first.
        funds: u64,
        /// Who may migrate it (none: immutable).
        admin: Option<Address>,
        /// A human label.
        label: String,
    } = 2,
    /// Call a contract's `execute`; the result data is its output.
    Execute {
        /// The contract.
        contract: Address,
        /// The execute message.
        msg: Vec<u8>,
        /// rao moved from the signer to the contract first.
        funds: u64,
    } = 3,
    /// Move a contract to new code and call its `migrate` (admin only).
    Migrate {
        /// The contract.
        contract: Address,
        /// The new code id.
        new_code_id: u64,
        /// The migrate message.
        msg: Vec<u8>,
    } = 4,
    /// The sender (a coldkey) claims `hotkey` (first claim wins).
    AssociateHotkey {
        /// The hotkey.
        hotkey: Address,
    } = 5,
    /// Create a subnet run by a contract instantiated from `code_id`; locks the lock cost.
    RegisterSubnet {
        /// The owner's hotkey (gets UID 0).
        hotkey: Address,
        /// Contract code.
        code_id: u64,
        /// The contract's instantiate message.
        init_msg: Vec<u8>,
        /// Hyperparameters (default: the chain's defaults).
        hyperparams: Option<Hyperparams>,
    } = 6,
    /// Owner: set one hyperparameter.
    SetHyperparam {
        /// Subnet.
        netuid: u16,
        /// Name (see `subnet::HYPERPARAMS`).
        name: String,
        /// Value.
        value: u64,
    } = 7,
    /// Owner: dissolve the subnet; the lock comes back.
    DissolveSubnet {
        /// Subnet.
        netuid: u16,
    } = 8,
    /// Register `hotkey` on a subnet by burning its price.
    BurnedRegister {
        /// Subnet.
        netuid: u16,
        /// Hotkey (associated to the sender if new).
        hotkey: Address,
    } = 9,
    /// Register `hotkey` on root (netuid 0); when full, only above the lowest stake.
    RootRegister {
        /// Hotkey (owned by the sender).
        hotkey: Address,
    } = 10,
    /// Stake free balance on a hotkey.
    AddStake {
        /// Hotkey.
        hotkey: Address,
        /// rao.
        amount: u64,
    } = 11,
    /// Unstake back to the free balance.
    RemoveStake {
        /// Hotkey.
        hotkey: Address,
        /// rao.
        amount: u64,
    } = 12,
    /// Move the sender's stake between hotkeys.
    MoveStake {
        /// From this hotkey.
        from: Address,
        /// To this hotkey.
        to: Address,
        /// rao.
        amount: u64,
    } = 13,
    /// Hotkey owner: set the validator take (basis points, at most 1800).
    SetTake {
        /// Hotkey.
        hotkey: Address,
        /// Basis points.
        take_bps: u16,
    } = 14,
    /// Sent by a hotkey: set weights on a subnet (or over netuids on root).
    SetWeights {
        /// Subnet.
        netuid: u16,
        /// Target UIDs.
        uids: Vec<u16>,
        /// Values (max-upscaled when stored).
        values: Vec<u16>,
        /// Caller's version (recorded in the event).
        version_key: u64,
    } = 15,
    /// Sent by a hotkey: commit to weights (commit-reveal subnets).
    CommitWeights {
        /// Subnet.
        netuid: u16,
        /// `subnet::weights_commit_hash`.
        hash: [u8; 32],
    } = 16,
    /// Sent by a hotkey: reveal committed weights one reveal period after the commit.
    RevealWeights {
        /// Subnet.
        netuid: u16,
        /// Target UIDs.
        uids: Vec<u16>,
        /// Values.
        values: Vec<u16>,
        /// Salt of the commit.
        salt: Vec<u8>,
        /// Version key of the commit.
        version_key: u64,
    } = 17,
    /// Submit a governance proposal with a deposit.
    Propose {
        /// What it does when passed.
        action: ProposalAction,
        /// rao held until the tally.
        deposit: u64,
    } = 18,
    /// Vote on an open proposal (weight: the voter's stake now, locked until the tally).
    Vote {
        /// Proposal id.
        id: u64,
        /// Choice.
        choice: VoteChoice,
    } = 19,
    /// Store bytes (e.g. a `.npy` matrix of a useful-work job) content-addressed by
    /// sha256; the result data is the hash. Contracts refer to blobs by hash.
    StoreBlob {
        /// The bytes.
        bytes: Vec<u8>,
    } = 20,
    /// Pay out the signer's nominator rewards accrued on a hotkey (they are also paid
    /// whenever the signer's stake on it changes).
    ClaimRewards {
        /// Hotkey.
        hotkey: Address,
    } = 21,
    /// Sent by a hotkey registered on `netuid`: its miner listens at `endpoint`
    /// (`axon::parse_endpoint`), speaking `protocol` (`axon::AXON_PROTOCOLS`); at most once
    /// per `axon::SERVING_RATE_LIMIT` blocks per subnet.
    ServeAxon {
        /// Subnet.
        netuid: u16,
        /// `http://IP:PORT`, canonical.
        endpoint: String,
        /// Axon protocol version.
        protocol: u16,
    } = 22,
    /// Escrow `deposit` in a payment channel to `gateway` (a hotkey registered on
    /// `netuid`) for `blocks` blocks; the result data is the channel id (borsh u64).
    OpenChannel {
        /// The gateway hotkey.
        gateway: Address,
        /// The subnet paid.
        netuid: u16,
        /// rao escrowed (non-zero).
        deposit: u64,
        /// Blocks until the user may close (`channel::CHANNEL_BLOCKS`).
        blocks: u64,
        /// The sender's ed25519 public key (its address must be the sender's).
        user_key: [u8; 32],
    } = 23,
    /// Sent by the channel's gateway: redeem the user's voucher for `cumulative` rao.
    RedeemVoucher {
        /// Channel id.
        channel: u64,
        /// The voucher's cumulative amount.
        cumulative: u64,
        /// The user's signature over `channel::Voucher::digest`.
        signature: [u8; 64],
    } = 24,
    /// Sent by the channel's user after its expiry: the unredeemed deposit comes back.
    CloseChannel {
        /// Channel id.
        channel: u64,
    } = 25,
}

impl Msg {
    /// rao this message moves out of the signer's account (amount or funds).
    pub fn spend(&self) -> u64 {
        match self {
            Msg::Transfer { amount, .. } => *amount,
            Msg::Instantiate { funds, .. } | Msg::Execute { funds, .. } => *funds,
            Msg::AddStake { amount, .. } => *amount,
            Msg::Propose { deposit, .. } => *deposit,
            Msg::OpenChannel { deposit, .. } => *deposit,
            _ => 0,
        }
    }
}

/// borsh's message for input that ends inside a fixed-size field.
const BORSH_SHORT_READ: &str = "Unexpected length of input";

/// Marker error message for an unknown variant tag, so the decoder can tell it apart.
const UNKNOWN_VARIANT: &str = "unknown message variant";

impl BorshDeserialize for Msg {
    fn deserialize_reader<R: Read>(reader: &mut R) -> Result<Self, IoError> {
        let tag = u8::deserialize_reader(reader)?;
        match tag {
            0 => Ok(Msg::Transfer {
                to: Address::deserialize_reader(reader)?,
                amount: u64::deserialize_reader(reader)?,
            }),
            1 => Ok(Msg::StoreCode {
                wasm: Vec::deserialize_reader(reader)?,
            }),
            2 => Ok(Msg::Instantiate {
                code_id: u64::deserialize_reader(reader)?,
                msg: Vec::deserialize_reader(reader)?,
                funds: u64::deserialize_reader(reader)?,
                admin: Option::deserialize_reader(reader)?,
                label: String::deserialize_reader(reader)?,
            }),
            3 => Ok(Msg::Execute {
                contract: Address::deserialize_reader(reader)?,
                msg: Vec::deserialize_reader(reader)?,
                funds: u64::deserialize_reader(reader)?,
            }),
            4 => Ok(Msg::Migrate {
                contract: Address::deserialize_reader(reader)?,
                new_code_id: u64::deserialize_reader(reader)?,
                msg: Vec::deserialize_reader(reader)?,
            }),
            5 => Ok(Msg::AssociateHotkey {
                hotkey: Address::deserialize_reader(reader)?,
            }),
            6 => Ok(Msg::RegisterSubnet {
                hotkey: Address::deserialize_reader(reader)?,
                code_id: u64::deserialize_reader(reader)?,
                init_msg: Vec::deserialize_reader(reader)?,
                hyperparams: Option::deserialize_reader(reader)?,
            }),
            7 => Ok(Msg::SetHyperparam {
                netuid: u16::deserialize_reader(reader)?,
                name: String::deserialize_reader(reader)?,
                value: u64::deserialize_reader(reader)?,
            }),
            8 => Ok(Msg::DissolveSubnet {
                netuid: u16::deserialize_reader(reader)?,
            }),
            9 => Ok(Msg::BurnedRegister {
                netuid: u16::deserialize_reader(reader)?,
                hotkey: Address::deserialize_reader(reader)?,
            }),
            10 => Ok(Msg::RootRegister {
                hotkey: Address::deserialize_reader(reader)?,
            }),
            11 => Ok(Msg::AddStake {
                hotkey: Address::deserialize_reader(reader)?,
                amount: u64::deserialize_reader(reader)?,
            }),
            12 => Ok(Msg::RemoveStake {
                hotkey: Address::deserialize_reader(reader)?,
                amount: u64::deserialize_reader(reader)?,
            }),
            13 => Ok(Msg::MoveStake {
                from: Address::deserialize_reader(reader)?,
                to: Address::deserialize_reader(reader)?,
                amount: u64::deserialize_reader(reader)?,
            }),
            14 => Ok(Msg::SetTake {
                hotkey: Address::deserialize_reader(reader)?,
                take_bps: u16::deserialize_reader(reader)?,
            }),
            15 => Ok(Msg::SetWeights {
                netuid: u16::deserialize_reader(reader)?,
                uids: Vec::deserialize_reader(reader)?,
                values: Vec::deserialize_reader(reader)?,
                version_key: u64::deserialize_reader(reader)?,
            }),
            16 => Ok(Msg::CommitWeights {
                netuid: u16::deserialize_reader(reader)?,
                hash: <[u8; 32]>::deserialize_reader(reader)?,
            }),
            17 => Ok(Msg::RevealWeights {
                netuid: u16::deserialize_reader(reader)?,
                uids: Vec::deserialize_reader(reader)?,
                values: Vec::deserialize_reader(reader)?,
                salt: Vec::deserialize_reader(reader)?,
                version_key: u64::deserialize_reader(reader)?,
            }),
            18 => Ok(Msg::Propose {
                action: ProposalAction::deserialize_reader(reader)?,
                deposit: u64::deserialize_reader(reader)?,
            }),
            19 => Ok(Msg::Vote {
                id: u64::deserialize_reader(reader)?,
                choice: VoteChoice::deserialize_reader(reader)?,
            }),
            20 => Ok(Msg::StoreBlob {
                bytes: Vec::deserialize_reader(reader)?,
            }),
            21 => Ok(Msg::ClaimRewards {
                hotkey: Address::deserialize_reader(reader)?,
            }),
            22 => Ok(Msg::ServeAxon {
                netuid: u16::deserialize_reader(reader)?,
                endpoint: String::deserialize_reader(reader)?,
                protocol: u16::deserialize_reader(reader)?,
            }),
            23 => Ok(Msg::OpenChannel {
                gateway: Address::deserialize_reader(reader)?,
                netuid: u16::deserialize_reader(reader)?,
                deposit: u64::deserialize_reader(reader)?,
                blocks: u64::deserialize_reader(reader)?,
                user_key: <[u8; 32]>::deserialize_reader(reader)?,
            }),
            24 => Ok(Msg::RedeemVoucher {
                channel: u64::deserialize_reader(reader)?,
                cumulative: u64::deserialize_reader(reader)?,
                signature: <[u8; 64]>::deserialize_reader(reader)?,
            }),
            25 => Ok(Msg::CloseChannel {
                channel: u64::deserialize_reader(reader)?,
            }),
            _ => Err(IoError::new(ErrorKind::InvalidInput, UNKNOWN_VARIANT)),
        }
    }
}

/// What the signer authorises.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxBody {
    /// Must equal the chain's id (replay protection across chains).
    pub chain_id: String,
    /// Must equal the sender's next nonce (replay protection within the chain).
    pub nonce: u64,
    /// Fee in rao, paid even when a message fails, and recycled.
    pub fee: u64,
    /// Gas the signer allows; must cover the transaction's gas.
    pub gas_limit: u64,
    /// The messages, executed in order, all or nothing.
    pub msgs: Vec<Msg>,
}

/// A signed transaction as it travels and is stored.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTx {
    /// The signed body.
    pub body: TxBody,
    /// The signer's ed25519 public key; the sender is its address.
    pub public_key: [u8; 32],
    /// ed25519 signature over [`TxBody::sign_digest`].
    pub signature: [u8; 64],
}

/// Why bytes are not an acceptable `SignedTx`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// More than the size limit.
    #[error("transaction is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Input ended early.
    #[error("transaction bytes end early (truncated borsh)")]
    Truncated,
    /// Input continued after the transaction.
    #[error("{0} trailing bytes after the transaction")]
    TrailingBytes(usize),
    /// A message tag we do not know.
    #[error("unknown message variant")]
    UnknownMessage,
    /// Any other malformed encoding.
    #[error("malformed transaction: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// The rejection code for this error.
    pub fn code(&self) -> RejectCode {
        match self {
            DecodeError::TooLarge { .. } => RejectCode::TxTooLarge,
            DecodeError::Truncated => RejectCode::Truncated,
            DecodeError::TrailingBytes(_) => RejectCode::TrailingBytes,
            DecodeError::UnknownMessage => RejectCode::UnknownMessage,
            DecodeError::Malformed(_) => RejectCode::Malformed,
        }
    }
}

impl TxBody {
    /// The 32 bytes that are signed: sha256 of the domain and the borsh body.
    pub fn sign_digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(TX_SIGN_DOMAIN);
        // Serialising into a hasher cannot fail: the writer is infallible.
        let bytes = borsh::to_vec(self).unwrap_or_default();
        hasher.update(&bytes);
        hasher.finalize().into()
    }

    /// Signs the body with `key`.
    pub fn sign(self, key: &SigningKey) -> SignedTx {
        let signature = key.sign(&self.sign_digest()).to_bytes();
        SignedTx {
            body: self,
            public_key: key.verifying_key().to_bytes(),
            signature,
        }
    }
}

impl SignedTx {
    /// Decodes bytes strictly: size limit first, then borsh with no trailing bytes.
    pub fn decode(bytes: &[u8], max_len: usize) -> Result<Self, DecodeError> {
        if bytes.len() > max_len {
            return Err(DecodeError::TooLarge {
                size: bytes.len(),
                limit: max_len,
            });
        }
        let mut rest = bytes;
        let tx = SignedTx::deserialize(&mut rest).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => DecodeError::Truncated,
            // borsh reports a short read of a fixed-size field this way.
            ErrorKind::InvalidData if e.to_string() == BORSH_SHORT_READ => DecodeError::Truncated,
            ErrorKind::InvalidInput if e.to_string() == UNKNOWN_VARIANT => {
                DecodeError::UnknownMessage
            }
            _ => DecodeError::Malformed(e.to_string()),
        })?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes(rest.len()));
        }
        if tx.body.chain_id.len() > MAX_CHAIN_ID_LEN {
            return Err(DecodeError::Malformed(alloc::format!(
                "chain id longer than {MAX_CHAIN_ID_LEN} bytes"
            )));
        }
        Ok(tx)
    }

    /// The borsh bytes.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// The sender: the address of the public key.
    pub fn sender(&self) -> Address {
        Address::from_public_key(&self.public_key)
    }

    /// Parses the public key and signature under the chain's one signature rule
    /// ([`crate::signature`]), for `CheckTx` (verified alone) and `FinalizeBlock` (verified
    /// in batches) alike: a batch passes exactly when each of its signatures passes alone.
    pub fn verification_parts(&self) -> Result<Prepared, RejectCode> {
        signature::prepare(&self.public_key, &self.signature, &self.body.sign_digest())
    }

    /// Verifies the signature on its own (the cofactored rule of [`crate::signature`]).
    pub fn verify_signature(&self) -> Result<(), RejectCode> {
        if self.verification_parts()?.verify() {
            Ok(())
        } else {
            Err(RejectCode::BadSignature)
        }
    }

    /// The sha256 of the encoded transaction, as CometBFT names transactions.
    pub fn hash_bytes(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }
}

/// The chain's strict ed25519 check of a signature over any message (a voucher, an axon
/// request): the key must decode and not be weak, and the signature must be canonical
/// with an `R` not of small order (`verify_strict`).
pub fn verify_strict(public_key: &[u8; 32], msg: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    !key.is_weak()
        && key
            .verify_strict(msg, &Signature::from_bytes(signature))
            .is_ok()
}

#[cfg(test)]
mod tests;
