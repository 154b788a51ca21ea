//! Checking ICS23 proofs returned by `abci_query` against an app hash taken from a block
//! header: the state after block `h` is committed to by the header of block `h + 1`.

use prost::Message;

use crate::ClientError;

/// Verifies that `key` maps to `value` (or, with `None`, is absent) under `app_hash`.
pub fn verify(
    app_hash: &[u8],
    key: &[u8],
    value: Option<&[u8]>,
    proof: &[u8],
) -> Result<(), ClientError> {
    let proof = ics23::CommitmentProof::decode(proof)
        .map_err(|e| ClientError::Proof(format!("proof does not decode: {e}")))?;
    let spec = jmt::ics23_spec();
    let root = app_hash.to_vec();
    let ok = match value {
        Some(v) => {
            ics23::verify_membership::<ics23::HostFunctionsManager>(&proof, &spec, &root, key, v)
        }
        None => {
            ics23::verify_non_membership::<ics23::HostFunctionsManager>(&proof, &spec, &root, key)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ClientError::Proof(format!(
            "the proof does not bind this value to app hash {}",
            hex::encode_upper(app_hash)
        )))
    }
}
