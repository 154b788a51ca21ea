//! Random inputs: validation never panics, and host functions fed random arguments by a
//! guest either work or trap, never crash the VM.

use proptest::prelude::*;
use taochain_vm::validate;
use taochain_vm_sandbox::Sandbox;

use crate::wat;

/// A module that calls a host function with (ptr, len, ptr, len) read from its input.
fn fuzz_module() -> Vec<u8> {
    wat(r#"(module
      (import "tao" "input_read" (func $input_read (param i32)))
      (import "tao" "storage_get" (func $get (param i32 i32 i32 i32) (result i64)))
      (import "tao" "storage_set" (func $set (param i32 i32 i32 i32)))
      (import "tao" "sha256" (func $sha (param i32 i32 i32)))
      (import "tao" "emit_event" (func $event (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "instantiate") (result i32) i32.const 0)
      (func (export "query") (result i32) i32.const 0)
      (func (export "execute") (result i32)
        (local $base i32)
        (call $input_read (i32.const 0))
        ;; the msg's 16 bytes sit at the end of the input: skip env+info (4+4+4+4+20+20+8 = 64 bytes + len 4)
        (local.set $base (i32.const 68))
        (drop (call $get (i32.load (local.get $base)) (i32.load offset=4 (local.get $base)) (i32.load offset=8 (local.get $base)) (i32.load offset=12 (local.get $base))))
        (call $set (i32.load (local.get $base)) (i32.load offset=4 (local.get $base)) (i32.load offset=8 (local.get $base)) (i32.load offset=12 (local.get $base)))
        (call $sha (i32.load (local.get $base)) (i32.load offset=4 (local.get $base)) (i32.load offset=8 (local.get $base)))
        (call $event (i32.load (local.get $base)) (i32.load offset=4 (local.get $base)))
        i32.const 0))"#)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn validation_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = validate(&bytes);
        let mut with_magic = b"\0asm\x01\0\0\0".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = validate(&with_magic);
    }

    #[test]
    fn host_functions_survive_random_arguments(args in proptest::array::uniform4(any::<i32>())) {
        let mut chain = Sandbox::new();
        chain.env.chain_id = String::new();
        let code = chain.store_code(&fuzz_module()).expect("validates");
        let (addr, _) = chain.instantiate(code, [1; 20], &[], 0);
        let msg: Vec<u8> = args.iter().flat_map(|a| a.to_le_bytes()).collect();
        let a = chain.execute(addr, [1; 20], &msg, 0);
        let b = chain.execute(addr, [1; 20], &msg, 0);
        // Deterministic: the same call twice gives the same outcome class and gas.
        prop_assert_eq!(a.result.is_ok(), b.result.is_ok());
        prop_assert_eq!(a.gas_used, b.gas_used);
    }
}
