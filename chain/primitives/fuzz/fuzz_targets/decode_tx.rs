//! Fuzzes the strict transaction decoder: any input either fails with a typed error or
//! decodes to a transaction that re-encodes to exactly the same bytes (one encoding per
//! transaction), and checking its signature never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taochain_primitives::SignedTx;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTx::decode(data, 16 * 1024) {
        assert_eq!(tx.encode(), data, "decode/encode must round-trip byte for byte");
        let _ = tx.verify_signature();
        let _ = tx.sender();
    }
});
