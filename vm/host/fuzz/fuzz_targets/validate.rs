//! Arbitrary bytes through store-time validation and, when accepted, the depth
//! instrumentation: either a typed refusal or a module that still validates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if taochain_vm::validate(data).is_ok() {
        let metered = taochain_vm::instrument::instrument(data).expect("valid modules instrument");
        assert!(taochain_vm::validate(&metered).is_ok() || metered.len() > data.len());
    }
});
