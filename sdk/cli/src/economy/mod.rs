//! `tao subnet|neuron|stake|weights|metagraph|root|gov`: the economy from the command line,
//! one file per command family. Every command that changes state signs one transaction,
//! waits for its block and prints what happened; every read prints a table (or
//! `--output json`).

mod gov;
mod metagraph;
mod neuron;
mod root;
mod stake;
mod subnet;
mod weights;

use anyhow::Context;
use taochain_primitives::{Msg, format_tao};

use crate::Ctx;
use crate::chain::signing_key;
use crate::output::{emit, spinner};

pub use gov::{GovCmd, run_gov};
pub use metagraph::run_metagraph;
pub use neuron::{NeuronCmd, run_neuron};
pub use root::{RootCmd, run_root};
pub use stake::{StakeCmd, run_stake};
pub use subnet::{SubnetCmd, run_subnet};
pub use subnet::{code_id_of, contracts_dir};
pub use weights::{WeightsCmd, run_weights};

fn get<T: borsh::BorshDeserialize>(ctx: &Ctx, path: &str) -> anyhow::Result<Option<T>> {
    let bytes = ctx.client().query_raw(path, 0)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        borsh::from_slice(&bytes).with_context(|| format!("decoding {path}"))?,
    ))
}

fn bytes_arg(text: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(file) = text.strip_prefix('@') {
        return std::fs::read(file).with_context(|| format!("reading {file}"));
    }
    hex::decode(text).context("expected hex bytes or @file")
}

fn send(ctx: &Ctx, from: &str, msg: Msg, what: String) -> anyhow::Result<()> {
    let key = signing_key(ctx, from)?;
    let bar = spinner(ctx.output, "broadcasting and waiting for the block");
    let r = ctx.client().send(&key, vec![msg], None);
    bar.finish_and_clear();
    let c = r?;
    emit(ctx.output, &c, || {
        format!("{what} (block {}, tx {})", c.height, c.hash)
    })
}

fn tao(rao: u64) -> String {
    format_tao(rao)
}

fn fraction(v: u16) -> String {
    format!("{:.4}", v as f64 / 65535.0)
}

fn name_value(s: &str) -> anyhow::Result<(String, u64)> {
    let (n, v) = s
        .split_once('=')
        .with_context(|| format!("`{s}` is not name=value"))?;
    Ok((
        n.to_string(),
        v.parse()
            .with_context(|| format!("`{v}` is not a number"))?,
    ))
}
