//! VM tests through its public boundary: real contracts built from `contracts/`, a corpus of
//! hostile modules written in WAT, and random inputs.

mod contracts;
mod hostile;
mod props;

pub use taochain_vm_sandbox::contract_wasm;

/// WAT text to wasm bytes.
pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid wat")
}
