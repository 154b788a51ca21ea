//! The hostile-contract corpus: each module must end in a clear, deterministic error (at
//! store time or as a failed call that reports its gas) and never take the process down.

use taochain_vm::{ValidationError, VmError, validate};
use taochain_vm_sandbox::Sandbox;

use crate::wat;

const IMPORTS: &str = r#"
  (import "tao" "set_result" (func $set_result (param i32 i32)))
  (import "tao" "input_read" (func $input_read (param i32)))
  (import "tao" "storage_set" (func $storage_set (param i32 i32 i32 i32)))
  (import "tao" "query_contract" (func $query (param i32 i32 i32 i32 i32) (result i64)))
  (import "tao" "storage_next" (func $storage_next (param i32 i32 i32 i32 i32 i32) (result i64)))
"#;

/// A module whose `execute` body is `body` (must leave an i32 status).
fn module(extra: &str, body: &str) -> String {
    format!(
        r#"(module {IMPORTS}
          (memory (export "memory") 1)
          {extra}
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) {body})
          (func (export "query") (result i32) i32.const 0))"#
    )
}

/// Stores, instantiates and executes `wat_text`; returns the execute outcome.
fn run(wat_text: &str) -> taochain_vm::CallOutcome {
    let mut chain = Sandbox::new();
    chain.gas_limit = 50_000_000;
    let code = chain.store_code(&wat(wat_text)).expect("validates");
    let (addr, out) = chain.instantiate(code, [1; 20], &[], 0);
    out.result.expect("instantiates");
    chain.execute(addr, [1; 20], &[], 0)
}

#[test]
fn infinite_loop_runs_out_of_gas_and_pays_all_of_it() {
    let out = run(&module("", "(loop $l (br $l)) i32.const 0"));
    assert_eq!(out.result, Err(VmError::OutOfGas { limit: 50_000_000 }));
    assert_eq!(out.gas_used, 50_000_000);
}

#[test]
fn bulk_memory_is_priced_per_byte() {
    // One `memory.fill` of 64 KiB per iteration: without per-byte pricing each costs one
    // fuel unit and this loop would run for hours inside the gas limit.
    let out = run(&module(
        "",
        "(loop $l (memory.fill (i32.const 0) (i32.const 7) (i32.const 65536)) (br $l)) i32.const 0",
    ));
    assert_eq!(out.result, Err(VmError::OutOfGas { limit: 50_000_000 }));
    // A copy still copies: fill 16 bytes with 7, copy them 32 bytes on, check one.
    let body = "(memory.fill (i32.const 0) (i32.const 7) (i32.const 16))
                (memory.copy (i32.const 32) (i32.const 0) (i32.const 16))
                (if (result i32) (i32.eq (i32.load8_u (i32.const 40)) (i32.const 7)) (then (i32.const 0)) (else (i32.const 2)))";
    assert_eq!(run(&module("", body)).result, Ok(vec![]));
}

#[test]
fn memory_grow_bomb_stops_at_the_cap() {
    // Grow until refused, then report success only if memory is exactly 16 MiB (256 pages).
    let body = "(block $done (loop $l (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $l)))
                (if (result i32) (i32.eq (memory.size) (i32.const 256)) (then (i32.const 0)) (else (i32.const 2)))";
    let out = run(&module("", body));
    assert_eq!(out.result, Ok(vec![]));
}

/// `module` with `pages` pages of initial memory.
fn module_with_pages(pages: u32, body: &str) -> String {
    module("", body).replace(
        r#"(memory (export "memory") 1)"#,
        &format!(r#"(memory (export "memory") {pages})"#),
    )
}

#[test]
fn every_page_a_call_can_touch_is_paid_for() {
    use taochain_vm::limits::gas::{IO_BASE, MEMORY_PER_PAGE};
    // memory.grow returns the old size and costs its pages.
    let grow = |pages: i32, expect: i32| {
        run(&module(
            "",
            &format!(
                "(if (i32.ne (memory.grow (i32.const {pages})) (i32.const {expect})) (then unreachable)) i32.const 0"
            ),
        ))
    };
    let none = grow(0, 1);
    let ten = grow(10, 1);
    assert_eq!((&none.result, &ten.result), (&Ok(vec![]), &Ok(vec![])));
    assert_eq!(ten.gas_used - none.gas_used, 10 * MEMORY_PER_PAGE);
    // Past the cap: -1, as memory.grow, for the price of a host call.
    let refused = grow(300, -1);
    assert_eq!(refused.result, Ok(vec![]));
    assert_eq!(refused.gas_used - none.gas_used, IO_BASE);
    // A negative count is a huge unsigned one: refused the same way.
    assert_eq!(grow(-1, -1).result, Ok(vec![]));
    // Initial pages are paid before instantiation.
    let small = run(&module_with_pages(1, "i32.const 0"));
    let large = run(&module_with_pages(64, "i32.const 0"));
    assert_eq!(large.gas_used - small.gas_used, 63 * MEMORY_PER_PAGE);
    let mut chain = Sandbox::new();
    let code = chain
        .store_code(&wat(&module_with_pages(64, "i32.const 0")))
        .expect("validates");
    chain.gas_limit = 63 * MEMORY_PER_PAGE;
    let (_, out) = chain.instantiate(code, [1; 20], &[], 0);
    assert!(
        matches!(out.result, Err(VmError::OutOfGas { .. })),
        "{:?}",
        out.result
    );
}

#[test]
fn grow_is_priced_in_every_module_shape_and_cannot_be_imported() {
    use taochain_vm::limits::gas::{IO_BASE, MEMORY_PER_PAGE};
    // No import section at all: the grow import is added in its own section.
    let bare = |pages: u32| {
        format!(
            r#"(module (memory (export "memory") 1 {max})
              (func (export "instantiate") (result i32) i32.const 0)
              (func (export "query") (result i32) i32.const 0)
              (func (export "execute") (result i32)
                (if (i32.ne (memory.grow (i32.const {pages})) (i32.const 1)) (then unreachable))
                i32.const 0))"#,
            max = "",
        )
    };
    let (none, four) = (run(&bare(0)), run(&bare(4)));
    assert_eq!((&none.result, &four.result), (&Ok(vec![]), &Ok(vec![])));
    assert_eq!(four.gas_used - none.gas_used, 4 * MEMORY_PER_PAGE);
    // The module's own maximum: past it, -1 for the price of a host call.
    let capped = run(&bare(4)
        .replace(r#""memory") 1 )"#, r#""memory") 1 2)"#)
        .replace(
            "(i32.ne (memory.grow (i32.const 4)) (i32.const 1))",
            "(i32.ne (memory.grow (i32.const 4)) (i32.const -1))",
        ));
    assert_eq!(capped.result, Ok(vec![]));
    assert_eq!(capped.gas_used - none.gas_used, IO_BASE);
    // Functions renumbered by the added import: a table, an element segment and
    // call_indirect still reach the right function after a grow.
    let indirect = run(&module(
        r#"(type $t (func (result i32)))
           (table 1 funcref) (elem (i32.const 0) $seven)
           (func $seven (result i32) (drop (memory.grow (i32.const 1))) i32.const 7)"#,
        "(if (i32.ne (call_indirect (type $t) (i32.const 0)) (i32.const 7)) (then unreachable))
         (if (i32.ne (memory.size) (i32.const 2)) (then unreachable)) i32.const 0",
    ));
    assert_eq!(indirect.result, Ok(vec![]));
    // Uploaded code cannot import the grow function itself.
    let own = r#"(module (import "tao" "__memory_grow" (func $g (param i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) i32.const 0)
          (func (export "query") (result i32) i32.const 0))"#;
    assert!(
        matches!(
            validate(&wat(own)),
            Err(ValidationError::UnknownImport { .. })
        ),
        "{:?}",
        validate(&wat(own))
    );
}

#[test]
fn unbounded_recursion_traps_and_the_node_lives() {
    let out = run(&module("(func $r (call $r))", "call $r i32.const 0"));
    assert!(
        matches!(out.result, Err(VmError::Trap(_))),
        "{:?}",
        out.result
    );
    // Deterministic: the metered depth limit, not the native stack, stops it, after exactly
    // the same work on every build.
    assert_eq!(
        out.gas_used,
        run(&module("(func $r (call $r))", "call $r i32.const 0")).gas_used
    );
    // And the VM still works afterwards.
    assert_eq!(run(&module("", "i32.const 0")).result, Ok(vec![]));
}

/// `$r(n)` recurses n deep. Its frame cost is 2 + 1 local + operand height 2 = 5, so with
/// the call from `execute` the metered stack (8192) holds 1638 frames: n = 1637.
const RECURSE: &str = "(func $r (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (call $r (i32.sub (local.get 0) (i32.const 1))))))";

#[test]
fn recursion_stops_at_exactly_the_metered_depth() {
    let deepest = run(&module(
        RECURSE,
        "(drop (call $r (i32.const 1637))) i32.const 0",
    ));
    assert_eq!(deepest.result, Ok(vec![]));
    let one_more = run(&module(
        RECURSE,
        "(drop (call $r (i32.const 1638))) i32.const 0",
    ));
    assert!(
        matches!(one_more.result, Err(VmError::Trap(ref m)) if m.contains("unreachable")),
        "{:?}",
        one_more.result
    );
    // The same gas every time and on every build: fuel counts the instrumented operators
    // and the module's one page of memory.
    assert_eq!(
        one_more.gas_used,
        26_218 + taochain_vm::limits::gas::MEMORY_PER_PAGE,
        "gas at the depth trap"
    );
}

/// `$f0 -> $f1 -> ... -> $f(n-1)`: a chain of functions without locals (frame cost 2).
fn chain(n: usize) -> String {
    (0..n)
        .map(|i| {
            if i + 1 < n {
                format!("(func $f{i} call $f{})", i + 1)
            } else {
                format!("(func $f{i})")
            }
        })
        .collect()
}

#[test]
fn an_acyclic_call_chain_is_metered_as_deep_as_recursion() {
    // Calls into small acyclic trees are not wrapped, but the wrapped call above them
    // charges the whole tree: the chain stops exactly where counting every call would stop
    // it (8192 / 2 = 4096 frames), with the metered `unreachable`, not the native limit.
    let ok = run(&module(&chain(4096), "call $f0 i32.const 0"));
    assert_eq!(ok.result, Ok(vec![]));
    let deeper = run(&module(&chain(4097), "call $f0 i32.const 0"));
    assert!(
        matches!(deeper.result, Err(VmError::Trap(ref m)) if m.contains("unreachable")),
        "{:?}",
        deeper.result
    );
}

#[test]
fn a_function_holding_more_than_1024_operands_is_refused_at_store_time() {
    // An entry point's frame is not charged by any call, so its size is capped instead:
    // otherwise one huge entry frame plus deep metered recursion could reach the native
    // stack limit first, at a depth that depends on the build.
    let holding = |n: usize| {
        module(
            "",
            &format!(
                "{} {} i32.const 0",
                "i32.const 1 ".repeat(n),
                "drop ".repeat(n)
            ),
        )
    };
    assert!(validate(&wat(&holding(1024))).is_ok());
    let e = refused(&holding(1025));
    assert!(
        matches!(e, ValidationError::TooLarge { what, got: 1025, limit: 1024 } if what.contains("operand")),
        "{e:?}"
    );
}

#[test]
fn calls_into_small_acyclic_trees_are_not_wrapped() {
    // The same leaf called 1000 times, once as a leaf and once with a (never taken) call
    // to itself, which makes it recursive: only that one pays the depth meter per call.
    let leaf = "(func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))";
    let cyclic = "(func $leaf (param i32) (result i32)
        (if (i32.eqz (i32.const 1)) (then (drop (call $leaf (i32.const 0)))))
        (i32.add (local.get 0) (i32.const 1)))";
    let body = "(local $i i32) (loop $l (local.set $i (call $leaf (local.get $i)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))) i32.const 0";
    let free = run(&module(leaf, body));
    let wrapped = run(&module(cyclic, body));
    assert_eq!(free.result, Ok(vec![]));
    assert_eq!(wrapped.result, Ok(vec![]));
    // The never-taken branch costs a few operators per call; the wrapper costs 14.
    assert!(
        wrapped.gas_used >= free.gas_used + 1000 * 14,
        "{} vs {}",
        wrapped.gas_used,
        free.gas_used
    );
}

#[test]
fn bulk_memory_costs_its_bytes_inline() {
    // The engine charges `memory.copy` per byte, with no host call: the length is the
    // whole difference, for a constant length and for one only known at run time.
    let copy = |len: &str| {
        run(&module(
            "",
            &format!("(memory.copy (i32.const 0) (i32.const 128) {len}) i32.const 0"),
        ))
        .gas_used
    };
    let per = u64::from(taochain_vm::limits::gas::BULK_PER_BYTE);
    assert!(per > 0);
    assert_eq!(copy("(i32.const 4096)") - copy("(i32.const 0)"), 4096 * per);
    let runtime = |n: u32| format!("(i32.add (i32.load8_u (i32.const 60000)) (i32.const {n}))");
    assert_eq!(copy(&runtime(4096)) - copy(&runtime(0)), 4096 * per);
}

#[test]
fn a_4_mib_fill_costs_its_bytes() {
    let body = |len: u32| {
        format!(
            "(drop (memory.grow (i32.const 63))) (memory.fill (i32.const 0) (i32.const 1) (i32.const {len})) i32.const 0"
        )
    };
    let empty = run(&module("", &body(0)));
    let full = run(&module("", &body(4 << 20)));
    assert_eq!(full.result, Ok(vec![]));
    let per = u64::from(taochain_vm::limits::gas::BULK_PER_BYTE);
    assert_eq!(full.gas_used - empty.gas_used, (4 << 20) * per);
    // A loop of them stops at the limit like any other loop.
    let out = run(&module(
        "",
        "(drop (memory.grow (i32.const 63))) (loop (memory.fill (i32.const 0) (i32.const 0) (i32.const 4194304)) (br 0)) i32.const 0",
    ));
    assert_eq!(out.result, Err(VmError::OutOfGas { limit: 50_000_000 }));
}

#[test]
fn oversized_host_call_lengths_trap_instead_of_overflowing() {
    // kl + vl = 1 + i32::MAX overflowed an i32 sum (a panic with overflow checks on).
    for body in [
        "(call $storage_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x7fffffff)) i32.const 0",
        "(call $storage_set (i32.const 0) (i32.const 0x7fffffff) (i32.const 0) (i32.const 0x7fffffff)) i32.const 0",
        "(drop (call $storage_next (i32.const 0) (i32.const 0x7fffffff) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))) i32.const 0",
        "(drop (call $storage_next (i32.const 0) (i32.const 1) (i32.const 0) (i32.const -1) (i32.const 0) (i32.const -1))) i32.const 0",
    ] {
        let out = run(&module("", body));
        assert!(
            matches!(out.result, Err(VmError::Trap(ref m)) if m.contains("length")),
            "{body}: {:?}",
            out.result
        );
    }
}

#[test]
fn debug_lines_are_bounded_per_call() {
    let text = format!(
        r#"(module {IMPORTS} (import "tao" "debug" (func $debug (param i32 i32)))
          (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32)
            (local $i i32)
            (loop $l (call $debug (i32.const 0) (i32.const 1000))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
            i32.const 0)
          (func (export "query") (result i32) (call $debug (i32.const 0) (i32.const 2000)) i32.const 0))"#
    );
    let mut chain = Sandbox::new();
    let code = chain.store_code(&wat(&text)).expect("validates");
    let (addr, _) = chain.instantiate(code, [1; 20], &[], 0);
    let out = chain.execute(addr, [1; 20], &[], 0);
    assert_eq!(out.result, Ok(vec![]));
    assert_eq!(out.debug.len(), taochain_vm::limits::MAX_DEBUG_LINES);
    let out = chain.query(addr, &[]);
    assert!(
        matches!(out.result, Err(VmError::Trap(ref m)) if m.contains("exceeds the limit")),
        "{:?}",
        out.result
    );
}

#[test]
fn nan_results_are_canonical() {
    // 0/0 and NaN arithmetic must produce the canonical quiet NaN 0x7fc00000 everywhere.
    let body = "(if (result i32)
                  (i32.and
                    (i32.eq (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0))) (i32.const 0x7fc00000))
                    (i32.eq (i32.reinterpret_f32 (f32.add (f32.const nan:0x200001) (f32.const 1))) (i32.const 0x7fc00000)))
                  (then (i32.const 0)) (else (i32.const 2)))";
    assert_eq!(run(&module("", body)).result, Ok(vec![]));
}

#[test]
fn bad_pointers_and_huge_outputs_trap() {
    let out = run(&module(
        "",
        "(call $set_result (i32.const 0x7ffffff0) (i32.const 64)) i32.const 0",
    ));
    assert!(
        matches!(out.result, Err(VmError::Trap(ref m)) if m.contains("outside memory")),
        "{:?}",
        out.result
    );
    let out = run(&module(
        "",
        "(call $set_result (i32.const 0) (i32.const 0x40000000)) i32.const 0",
    ));
    assert!(
        matches!(out.result, Err(VmError::Trap(ref m)) if m.contains("exceeds the limit")),
        "{:?}",
        out.result
    );
    let out = run(&module(
        "",
        "(call $set_result (i32.const -1) (i32.const -1)) i32.const 0",
    ));
    assert!(
        matches!(out.result, Err(VmError::Trap(_))),
        "{:?}",
        out.result
    );
}

#[test]
fn writes_in_a_query_trap() {
    let text = format!(
        r#"(module {IMPORTS} (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) i32.const 0)
          (func (export "query") (result i32) (call $storage_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1)) i32.const 0))"#
    );
    let mut chain = Sandbox::new();
    let code = chain.store_code(&wat(&text)).expect("validates");
    let (addr, _) = chain.instantiate(code, [1; 20], &[], 0);
    let out = chain.query(addr, &[]);
    assert!(
        matches!(out.result, Err(VmError::Trap(ref m)) if m.contains("read-only")),
        "{:?}",
        out.result
    );
}

#[test]
fn reentrant_queries_stop_at_the_depth_limit() {
    // `query` queries itself (its address sits at byte 24 of the input when the chain id is
    // "mock") and passes any error text up.
    let text = format!(
        r#"(module {IMPORTS} (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) i32.const 0)
          (func (export "query") (result i32)
            (call $input_read (i32.const 0))
            (if (result i32) (i64.lt_s (call $query (i32.const 24) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 100)) (i64.const 0))
              (then (call $set_result (i32.const 1000) (i32.const 100)) (i32.const 1))
              (else (i32.const 0)))))"#
    );
    let mut chain = Sandbox::new();
    let code = chain.store_code(&wat(&text)).expect("validates");
    let (addr, _) = chain.instantiate(code, [1; 20], &[], 0);
    let out = chain.query(addr, &[]);
    assert!(
        matches!(out.result, Err(VmError::Contract(ref m)) if m.contains("query depth limit")),
        "{:?}",
        out.result
    );
}

/// A module whose one function body is `ops` exactly (no `end` added), exporting it as
/// every required entry, with memory: raw bytes wat cannot write.
fn raw_module(ops: &[wasm_encoder::Instruction<'_>]) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, ExportKind, ExportSection, Function, FunctionSection, MemorySection,
        MemoryType, Module, TypeSection, ValType,
    };
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 1,
        maximum: Some(1),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    for entry in taochain_vm_abi::REQUIRED_ENTRIES {
        exports.export(entry, ExportKind::Func, 0);
    }
    exports.export("memory", ExportKind::Memory, 0);
    let mut f = Function::new([]);
    for op in ops {
        f.instruction(op);
    }
    let mut code = CodeSection::new();
    code.function(&f);
    let mut m = Module::new();
    m.section(&types)
        .section(&funcs)
        .section(&memory)
        .section(&exports)
        .section(&code);
    m.finish()
}

#[test]
fn a_body_without_its_final_end_is_invalid_at_store_time() {
    use wasm_encoder::Instruction::{End, I32Const};
    let complete = validate(&raw_module(&[I32Const(0), End]));
    assert!(complete.is_ok(), "with its end: {complete:?}");
    assert!(
        matches!(
            validate(&raw_module(&[I32Const(0)])),
            Err(ValidationError::Invalid(_))
        ),
        "a body that never ends is refused by validation, not later by the compiler"
    );
}

fn refused(text: &str) -> ValidationError {
    validate(&wat(text)).expect_err("must be refused")
}

#[test]
fn store_time_validation_refuses_the_rest_of_the_corpus() {
    let huge_table = module("(table 100000 funcref)", "i32.const 0");
    assert!(matches!(
        refused(&huge_table),
        ValidationError::TooLarge {
            what: "table elements",
            ..
        }
    ));

    let big_data = format!(
        r#"(module (memory (export "memory") 16) (data (i32.const 0) "{}")
          (func (export "instantiate") (result i32) i32.const 0) (func (export "execute") (result i32) i32.const 0)
          (func (export "query") (result i32) i32.const 0))"#,
        "a".repeat(300 * 1024)
    );
    assert!(matches!(
        refused(&big_data),
        ValidationError::TooLarge {
            what: "data bytes",
            ..
        }
    ));

    let many_fns = module(&"(func)".repeat(10_001), "i32.const 0");
    assert!(matches!(
        refused(&many_fns),
        ValidationError::TooLarge {
            what: "functions",
            ..
        }
    ));

    let many_locals = module(
        &format!("(func {})", "(local i64)".repeat(5_000)),
        "i32.const 0",
    );
    assert!(matches!(
        refused(&many_locals),
        ValidationError::TooLarge {
            what: "locals in one function",
            ..
        }
    ));

    let unknown = module(r#"(import "env" "abort" (func))"#, "i32.const 0").replacen(
        "(module",
        r#"(module (import "env" "abort" (func))"#,
        1,
    );
    assert!(matches!(
        refused(&unknown.replace(
            r#"(import "env" "abort" (func))
          (func"#,
            "(func"
        )),
        ValidationError::UnknownImport { .. }
    ));
    let wrong_sig = r#"(module (import "tao" "debug" (func (param i32))) (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0) (func (export "execute") (result i32) i32.const 0)
          (func (export "query") (result i32) i32.const 0))"#;
    assert!(matches!(
        refused(wrong_sig),
        ValidationError::UnknownImport { .. }
    ));

    let start = module("(func $s (loop $l (br $l))) (start $s)", "i32.const 0");
    assert!(matches!(refused(&start), ValidationError::NotAllowed(_)));

    let simd = module("", "(drop (v128.const i32x4 0 0 0 0)) i32.const 0");
    assert!(matches!(refused(&simd), ValidationError::Invalid(_)));

    let threads = r#"(module (memory (export "memory") 1 1 shared)
          (func (export "instantiate") (result i32) (i32.atomic.load (i32.const 0)))
          (func (export "execute") (result i32) i32.const 0) (func (export "query") (result i32) i32.const 0))"#;
    assert!(matches!(refused(threads), ValidationError::Invalid(_)));

    let no_query = r#"(module (memory (export "memory") 1) (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) i32.const 0))"#;
    assert_eq!(
        refused(no_query),
        ValidationError::MissingExport("query".into())
    );

    let huge_memory = module("", "i32.const 0").replace(
        r#"(memory (export "memory") 1)"#,
        r#"(memory (export "memory") 1000)"#,
    );
    assert!(matches!(
        refused(&huge_memory),
        ValidationError::TooLarge {
            what: "initial memory pages",
            ..
        }
    ));

    assert!(matches!(
        validate(b"\0asm garbage"),
        Err(ValidationError::Invalid(_))
    ));
}

/// A host whose storage panics: a bug in the chain's side of a call.
struct PanickingHost;

impl taochain_vm::Host for PanickingHost {
    fn storage_get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, taochain_vm::HostError> {
        #[allow(clippy::panic)]
        {
            panic!("a host bug")
        }
    }
    fn storage_set(&mut self, _: &[u8], _: &[u8]) -> Result<(), taochain_vm::HostError> {
        Ok(())
    }
    fn storage_remove(&mut self, _: &[u8]) -> Result<(), taochain_vm::HostError> {
        Ok(())
    }
    fn storage_next(
        &self,
        _: &[u8],
        _: Option<&[u8]>,
        _: u64,
    ) -> Result<taochain_vm::Next, taochain_vm::HostError> {
        Ok(taochain_vm::Next::Found(None, 0))
    }
    fn bank_send(
        &mut self,
        _: [u8; 20],
        _: u64,
    ) -> Result<Result<(), i32>, taochain_vm::HostError> {
        Ok(Ok(()))
    }
    fn query_contract(
        &self,
        _: [u8; 20],
        _: &[u8],
        _: u32,
        _: u64,
    ) -> Result<(u64, Result<Vec<u8>, String>), taochain_vm::HostError> {
        Ok((0, Ok(vec![])))
    }
}

#[test]
fn a_panic_below_a_call_is_a_trap_that_uses_the_whole_limit() {
    let text = r#"(module
      (import "tao" "storage_get" (func $get (param i32 i32 i32 i32) (result i64)))
      (memory (export "memory") 1)
      (func (export "instantiate") (result i32) i32.const 0)
      (func (export "execute") (result i32) (drop (call $get (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))) i32.const 0)
      (func (export "query") (result i32) i32.const 0))"#;
    let vm = taochain_vm::Vm::new(None).expect("vm");
    let info = vm.store_code(&wat(text)).expect("validates");
    let out = vm.call(
        &info.checksum,
        &|| None,
        taochain_vm::Entry::Execute,
        &taochain_vm_abi::Call::default(),
        &mut PanickingHost,
        1_000_000,
        0,
    );
    assert_eq!(
        out.result,
        Err(VmError::Trap("the host panicked during the call".into()))
    );
    assert_eq!(out.gas_used, 1_000_000);
}
