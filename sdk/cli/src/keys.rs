//! `tao keys add|list|show|import`.

use std::io::Read;

use anyhow::Context;
use clap::Subcommand;
use taochain_client::KeyInfo;

use crate::Ctx;
use crate::output::{emit, table};

/// Key management.
#[derive(Subcommand)]
pub enum KeysCmd {
    /// Create a key with a new 24-word mnemonic (shown once).
    Add {
        /// Key name.
        name: String,
        /// Store the mnemonic unencrypted (test scripts only).
        #[arg(long)]
        insecure_plaintext: bool,
    },
    /// List keys.
    List,
    /// Show one key's address and public key.
    Show {
        /// Key name.
        name: String,
    },
    /// Import a BIP39 mnemonic (from --mnemonic or stdin).
    Import {
        /// Key name.
        name: String,
        /// The mnemonic; read from stdin when absent.
        #[arg(long)]
        mnemonic: Option<String>,
        /// Store the mnemonic unencrypted (test scripts only).
        #[arg(long)]
        insecure_plaintext: bool,
        /// Replace an existing key of this name.
        #[arg(long)]
        overwrite: bool,
    },
}

/// A password from `TAO_PASSWORD`, or asked on the terminal (twice when `confirm`).
pub fn password(prompt: &str, confirm: bool) -> anyhow::Result<String> {
    if let Ok(pw) = std::env::var("TAO_PASSWORD") {
        return Ok(pw);
    }
    let pw =
        rpassword::prompt_password(prompt).context("reading password (or set TAO_PASSWORD)")?;
    if confirm && rpassword::prompt_password("repeat password: ")? != pw {
        anyhow::bail!("passwords do not match");
    }
    if pw.is_empty() {
        anyhow::bail!("empty password (use --insecure-plaintext for unencrypted test keys)");
    }
    Ok(pw)
}

fn show(ctx: &Ctx, info: &KeyInfo, mnemonic: Option<&str>) -> anyhow::Result<()> {
    let value = serde_json::json!({"key": info, "mnemonic": mnemonic});
    emit(ctx.output, &value, || {
        let mut s = format!(
            "name:       {}\naddress:    {}\npublic key: {}\nencrypted:  {}",
            info.name, info.address, info.public_key, info.encrypted
        );
        if let Some(m) = mnemonic {
            s.push_str(&format!(
                "\n\nmnemonic (write it down; it is the only backup):\n{m}"
            ));
        }
        s
    })
}

/// Runs a keys subcommand.
pub fn run(ctx: &Ctx, cmd: KeysCmd) -> anyhow::Result<()> {
    let ks = ctx.keystore()?;
    match cmd {
        KeysCmd::Add {
            name,
            insecure_plaintext,
        } => {
            let pw = if insecure_plaintext {
                None
            } else {
                Some(password("new key password: ", true)?)
            };
            let (info, mnemonic) = ks.add(&name, pw.as_deref())?;
            show(ctx, &info, Some(&mnemonic))
        }
        KeysCmd::Import {
            name,
            mnemonic,
            insecure_plaintext,
            overwrite,
        } => {
            let phrase = match mnemonic {
                Some(m) => m,
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s
                }
            };
            let pw = if insecure_plaintext {
                None
            } else {
                Some(password("key password: ", true)?)
            };
            let info = ks.import(&name, &phrase, pw.as_deref(), overwrite)?;
            show(ctx, &info, None)
        }
        KeysCmd::Show { name } => show(ctx, &ks.show(&name)?, None),
        KeysCmd::List => {
            let keys = ks.list()?;
            emit(ctx.output, &keys, || {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.name.clone(),
                            k.address.clone(),
                            if k.encrypted { "yes" } else { "no" }.into(),
                        ]
                    })
                    .collect();
                table(&["NAME", "ADDRESS", "ENCRYPTED"], &rows)
            })
        }
    }
}
