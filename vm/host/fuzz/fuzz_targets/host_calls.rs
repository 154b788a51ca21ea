//! Arbitrary (pointer, length) arguments and payloads into every host function that reads
//! guest memory, through a module that forwards its input: the VM must trap or succeed,
//! never crash, and give the same gas twice.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use taochain_vm_sandbox::Sandbox;

const MODULE: &str = r#"(module
  (import "tao" "input_len" (func $len (result i32)))
  (import "tao" "input_read" (func $read (param i32)))
  (import "tao" "storage_get" (func $get (param i32 i32 i32 i32) (result i64)))
  (import "tao" "storage_set" (func $set (param i32 i32 i32 i32)))
  (import "tao" "storage_next" (func $next (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "tao" "sha256" (func $sha (param i32 i32 i32)))
  (import "tao" "ed25519_verify" (func $ed (param i32 i32 i32 i32) (result i32)))
  (import "tao" "emit_event" (func $event (param i32 i32)))
  (import "tao" "bank_send" (func $send (param i32 i64) (result i32)))
  (import "tao" "set_result" (func $result (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32) (local $b i32)
    (call $read (i32.const 0))
    (local.set $b (i32.sub (call $len) (i32.const 24)))
    (drop (call $get (i32.load (local.get $b)) (i32.load offset=4 (local.get $b)) (i32.load offset=8 (local.get $b)) (i32.load offset=12 (local.get $b))))
    (drop (call $next (i32.load (local.get $b)) (i32.load offset=4 (local.get $b)) (i32.load offset=8 (local.get $b)) (i32.load offset=12 (local.get $b)) (i32.load offset=16 (local.get $b)) (i32.load offset=20 (local.get $b))))
    (call $set (i32.load (local.get $b)) (i32.load offset=4 (local.get $b)) (i32.load offset=8 (local.get $b)) (i32.load offset=12 (local.get $b)))
    (call $sha (i32.load (local.get $b)) (i32.load offset=4 (local.get $b)) (i32.load offset=8 (local.get $b)))
    (drop (call $ed (i32.load (local.get $b)) (i32.load offset=4 (local.get $b)) (i32.load offset=8 (local.get $b)) (i32.load offset=12 (local.get $b))))
    (call $event (i32.load (local.get $b)) (i32.load offset=4 (local.get $b)))
    (drop (call $send (i32.load (local.get $b)) (i64.load offset=8 (local.get $b))))
    (call $result (i32.load (local.get $b)) (i32.load offset=4 (local.get $b)))
    i32.const 0))"#;

fn wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| wat::parse_str(MODULE).expect("wat"))
}

fuzz_target!(|data: &[u8]| {
    let mut msg = data.to_vec();
    msg.resize(msg.len().max(24), 0);
    let mut outcomes = vec![];
    for _ in 0..2 {
        let mut chain = Sandbox::new();
        chain.gas_limit = 10_000_000;
        let code = chain.store_code(wasm()).expect("validates");
        let addr = chain.register(code);
        let out = chain.execute(addr, [1; 20], &msg, 0);
        outcomes.push((out.result.is_ok(), out.gas_used));
    }
    assert_eq!(outcomes[0], outcomes[1]);
});
