//! The local keystore: one JSON file per key under a directory, holding a BIP39 mnemonic
//! encrypted at rest (scrypt N=2^15 r=8 p=1 -> ChaCha20-Poly1305), or in plain text only
//! when asked explicitly (`insecure_plaintext`, for test scripts and localnet dev keys).
//!
//! Key derivation: the ed25519 secret key is `sha256("taochain/ed25519/v1" || seed)` where
//! `seed` is the 64-byte BIP39 seed of the mnemonic with an empty passphrase.

use std::fs;
use std::path::{Path, PathBuf};

use bip39::Mnemonic;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use taochain_primitives::Address;

use crate::ClientError;

const SCRYPT_LOG_N: u8 = 15;

/// What is stored per key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyFile {
    name: String,
    address: String,
    public_key: String,
    #[serde(flatten)]
    secret: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "storage", rename_all = "snake_case")]
enum Secret {
    Plaintext {
        mnemonic: String,
    },
    Encrypted {
        kdf_log_n: u8,
        salt: String,
        nonce: String,
        ciphertext: String,
    },
}

/// Public facts about a stored key.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name.
    pub name: String,
    /// bech32 address.
    pub address: String,
    /// Hex ed25519 public key.
    pub public_key: String,
    /// Whether the mnemonic is encrypted at rest.
    pub encrypted: bool,
}

/// A directory of keys.
pub struct Keystore {
    dir: PathBuf,
}

fn ks_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Keystore(e.to_string())
}

/// The signing key of a mnemonic.
pub fn signing_key_from_mnemonic(mnemonic: &Mnemonic) -> SigningKey {
    let seed = mnemonic.to_seed("");
    let mut h = Sha256::new();
    h.update(b"taochain/ed25519/v1");
    h.update(seed);
    SigningKey::from_bytes(&h.finalize().into())
}

/// The well-known mnemonic of localnet dev account `index`: derived from a public string,
/// so anyone can spend these accounts. For local development only.
pub fn dev_mnemonic(index: u32) -> String {
    let mut h = Sha256::new();
    h.update(b"taochain/localnet/dev/v1");
    h.update(index.to_le_bytes());
    let entropy: [u8; 32] = h.finalize().into();
    // 32 bytes is a valid BIP39 entropy length, so this cannot fail.
    Mnemonic::from_entropy(&entropy)
        .map(|m| m.to_string())
        .unwrap_or_default()
}

/// The address of a signing key.
pub fn address_of(key: &SigningKey) -> Address {
    Address::from_public_key(&key.verifying_key().to_bytes())
}

fn check_name(name: &str) -> Result<(), ClientError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ks_err(format!(
            "key name `{name}` must be 1-64 of [A-Za-z0-9_-]"
        )))
    }
}

fn cipher(password: &str, salt: &[u8], log_n: u8) -> Result<ChaCha20Poly1305, ClientError> {
    let params = scrypt::Params::new(log_n, 8, 1, 32).map_err(ks_err)?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut key).map_err(ks_err)?;
    Ok(ChaCha20Poly1305::new(&key.into()))
}

impl Keystore {
    /// Opens (creating) the keystore directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, ClientError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| ks_err(format!("{}: {e}", dir.display())))?;
        Ok(Keystore { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Creates a new key with a fresh 24-word mnemonic. `password == None` stores it in
    /// plain text. Returns the key's info and the mnemonic (show it to the user once).
    pub fn add(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<(KeyInfo, String), ClientError> {
        let mut entropy = [0u8; 32];
        OsRng.fill_bytes(&mut entropy);
        let mnemonic = Mnemonic::from_entropy(&entropy).map_err(ks_err)?;
        let info = self.import(name, &mnemonic.to_string(), password, false)?;
        Ok((info, mnemonic.to_string()))
    }

    /// Stores an existing mnemonic under `name` (refuses to overwrite unless `overwrite`).
    pub fn import(
        &self,
        name: &str,
        phrase: &str,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<KeyInfo, ClientError> {
        check_name(name)?;
        let mnemonic = Mnemonic::parse_normalized(phrase.trim())
            .map_err(|e| ks_err(format!("invalid mnemonic: {e}")))?;
        let key = signing_key_from_mnemonic(&mnemonic);
        let secret = match password {
            None => Secret::Plaintext {
                mnemonic: mnemonic.to_string(),
            },
            Some(pw) => {
                let (mut salt, mut nonce) = ([0u8; 16], [0u8; 12]);
                OsRng.fill_bytes(&mut salt);
                OsRng.fill_bytes(&mut nonce);
                let ciphertext = cipher(pw, &salt, SCRYPT_LOG_N)?
                    .encrypt(Nonce::from_slice(&nonce), mnemonic.to_string().as_bytes())
                    .map_err(|_| ks_err("encryption failed"))?;
                Secret::Encrypted {
                    kdf_log_n: SCRYPT_LOG_N,
                    salt: hex::encode(salt),
                    nonce: hex::encode(nonce),
                    ciphertext: hex::encode(ciphertext),
                }
            }
        };
        let file = KeyFile {
            name: name.into(),
            address: address_of(&key).to_string(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
            secret,
        };
        let path = self.path(name);
        if path.exists() && !overwrite {
            return Err(ks_err(format!("a key named `{name}` already exists")));
        }
        let json = serde_json::to_vec_pretty(&file).map_err(ks_err)?;
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, json).map_err(ks_err)?;
        restrict_permissions(&tmp)?;
        fs::rename(&tmp, &path).map_err(ks_err)?;
        Ok(info(&file))
    }

    fn load(&self, name: &str) -> Result<KeyFile, ClientError> {
        check_name(name)?;
        let bytes =
            fs::read(self.path(name)).map_err(|_| ks_err(format!("no key named `{name}`")))?;
        serde_json::from_slice(&bytes).map_err(|e| ks_err(format!("key `{name}` is corrupt: {e}")))
    }

    /// Public info of one key.
    pub fn show(&self, name: &str) -> Result<KeyInfo, ClientError> {
        Ok(info(&self.load(name)?))
    }

    /// Whether the key's mnemonic is encrypted (so a password is needed).
    pub fn is_encrypted(&self, name: &str) -> Result<bool, ClientError> {
        Ok(self.show(name)?.encrypted)
    }

    /// Every key, sorted by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>, ClientError> {
        let mut out = vec![];
        for entry in fs::read_dir(&self.dir).map_err(ks_err)? {
            let path = entry.map_err(ks_err)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            if let Some(name) = path.file_stem().and_then(|s| s.to_str()) {
                out.push(self.show(name)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The signing key (decrypting with `password` when the key is encrypted).
    pub fn signing_key(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<SigningKey, ClientError> {
        let file = self.load(name)?;
        let phrase = match &file.secret {
            Secret::Plaintext { mnemonic } => mnemonic.clone(),
            Secret::Encrypted {
                kdf_log_n,
                salt,
                nonce,
                ciphertext,
            } => {
                let pw =
                    password.ok_or_else(|| ks_err(format!("key `{name}` needs its password")))?;
                let salt = hex::decode(salt).map_err(ks_err)?;
                let nonce = hex::decode(nonce).map_err(ks_err)?;
                if nonce.len() != 12 {
                    return Err(ks_err("bad nonce length"));
                }
                let plain = cipher(pw, &salt, *kdf_log_n)?
                    .decrypt(
                        Nonce::from_slice(&nonce),
                        hex::decode(ciphertext).map_err(ks_err)?.as_slice(),
                    )
                    .map_err(|_| ks_err(format!("wrong password for key `{name}`")))?;
                String::from_utf8(plain).map_err(ks_err)?
            }
        };
        let mnemonic = Mnemonic::parse_normalized(&phrase).map_err(ks_err)?;
        let key = signing_key_from_mnemonic(&mnemonic);
        if address_of(&key).to_string() != file.address {
            return Err(ks_err(format!(
                "key `{name}`: address does not match its mnemonic"
            )));
        }
        Ok(key)
    }
}

fn info(file: &KeyFile) -> KeyInfo {
    KeyInfo {
        name: file.name.clone(),
        address: file.address.clone(),
        public_key: file.public_key.clone(),
        encrypted: matches!(file.secret, Secret::Encrypted { .. }),
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> Result<(), ClientError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(ks_err)
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) -> Result<(), ClientError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_key_roundtrips_and_needs_the_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ks = Keystore::open(dir.path()).expect("opens");
        let (info, phrase) = ks.add("alice", Some("hunter2")).expect("adds");
        assert!(info.encrypted);
        assert_eq!(phrase.split_whitespace().count(), 24);
        let raw = fs::read_to_string(dir.path().join("alice.json")).expect("reads");
        assert!(
            !raw.contains(&phrase),
            "mnemonic must not be stored in the clear"
        );
        let key = ks.signing_key("alice", Some("hunter2")).expect("decrypts");
        assert_eq!(address_of(&key).to_string(), info.address);
        assert!(ks.signing_key("alice", Some("wrong")).is_err());
        assert!(ks.signing_key("alice", None).is_err());
    }

    #[test]
    fn import_is_deterministic_and_refuses_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ks = Keystore::open(dir.path()).expect("opens");
        let phrase = Mnemonic::from_entropy(&[1u8; 32])
            .expect("mnemonic")
            .to_string();
        let a = ks.import("bob", &phrase, None, false).expect("imports");
        assert!(!a.encrypted);
        assert!(ks.import("bob", &phrase, None, false).is_err());
        let b = ks
            .import("bob2", &phrase, Some("pw"), false)
            .expect("imports");
        assert_eq!(a.address, b.address);
        assert_eq!(ks.list().expect("lists").len(), 2);
        assert!(ks.import("../evil", &phrase, None, false).is_err());
        assert!(ks.import("carol", "not a mnemonic", None, false).is_err());
    }
}
