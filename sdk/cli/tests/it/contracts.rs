//! Contracts on the real 4-validator localnet through the `tao` CLI: check, store,
//! instantiate, execute, query, proved state, migration by the admin (and refused for
//! anyone else), a hostile contract that only burns its gas, and equal app hashes.

use taochain_vm_sandbox::contract_wasm;

use crate::localnet::{assert_validators_agree, start, tao, tao_json as json};

#[test]
fn contracts_work_the_same_on_every_validator() {
    let net = start(1, &[]);
    let (home, spec, node) = (net.home.clone(), &net.spec, net.node.clone());
    let n = |args: &[&str]| -> Vec<String> {
        let mut v = vec!["--node".to_string(), node.clone()];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>| json(&home, &args.iter().map(String::as_str).collect::<Vec<_>>());

    let counter = home.join("counter.wasm");
    std::fs::write(&counter, contract_wasm("counter")).expect("write wasm");
    let counter = counter.to_string_lossy().to_string();
    assert_eq!(run(n(&["contract", "check", &counter]))["accepted"], true);
    let looping = home.join("loop.wasm");
    std::fs::write(
        &looping,
        wat::parse_str(
            r#"(module (memory (export "memory") 1)
              (func (export "instantiate") (result i32) i32.const 0)
              (func (export "execute") (result i32) (loop $l (br $l)) i32.const 0)
              (func (export "query") (result i32) i32.const 0))"#,
        )
        .expect("wat"),
    )
    .expect("write");
    let start_fn = home.join("start.wasm");
    std::fs::write(
        &start_fn,
        wat::parse_str(r#"(module (memory (export "memory") 1) (func $s) (start $s))"#)
            .expect("wat"),
    )
    .expect("write");
    let (ok, out) = tao(&home, &["contract", "check", &start_fn.to_string_lossy()]);
    assert!(!ok && out.contains("REJECTED"), "{out}");

    run(n(&["contract", "store", &counter, "--from", "dev0"]));
    let inst = run(n(&[
        "contract",
        "instantiate",
        "--code-id",
        "1",
        "--msg",
        "0500000000000000",
        "--admin",
        "dev0",
        "--label",
        "c",
        "--from",
        "dev0",
    ]));
    let addr = taochain_primitives::Address(
        hex::decode(inst["data"].as_str().expect("data"))
            .expect("hex")
            .try_into()
            .expect("20 bytes"),
    )
    .to_string();
    let exec = run(n(&[
        "contract",
        "execute",
        &addr,
        "--msg",
        "000300000000000000",
        "--from",
        "dev1",
    ]));
    assert_eq!(exec["data"], "0800000000000000");
    assert_eq!(
        run(n(&["contract", "query", &addr, "--msg", "00"]))["output"],
        "0800000000000000"
    );
    let state = run(n(&[
        "contract",
        "state",
        &addr,
        "--key",
        &hex::encode(b"count"),
        "--prove",
    ]));
    assert_eq!(state["proof"]["verified"], true);
    // No anchor given: the localnet's own genesis in the tao home is the default.
    assert_eq!(state["proof"]["anchor"]["kind"], "genesis");
    assert_eq!(state["value"], "0800000000000000");

    let (ok, out) = tao(
        &home,
        &n(&[
            "contract",
            "migrate",
            &addr,
            "--code-id",
            "1",
            "--msg",
            "0a00000000000000",
            "--from",
            "dev1",
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(
        !ok && out.contains("unauthorized"),
        "a non-admin migrate must be refused:\n{out}"
    );
    let mig = run(n(&[
        "contract",
        "migrate",
        &addr,
        "--code-id",
        "1",
        "--msg",
        "0a00000000000000",
        "--from",
        "dev0",
    ]));
    assert_eq!(mig["data"], "1200000000000000");

    // Hostile code: stored and instantiated fine, its execute burns its gas and fails.
    run(n(&[
        "contract",
        "store",
        &looping.to_string_lossy(),
        "--from",
        "dev2",
    ]));
    let inst = run(n(&[
        "contract",
        "instantiate",
        "--code-id",
        "2",
        "--from",
        "dev2",
    ]));
    let bad = taochain_primitives::Address(
        hex::decode(inst["data"].as_str().expect("data"))
            .expect("hex")
            .try_into()
            .expect("20"),
    )
    .to_string();
    // With `--gas auto` (the default) the simulation runs out of gas and nothing is sent.
    let (ok, out) = tao(
        &home,
        &n(&["contract", "execute", &bad, "--from", "dev2"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        !ok && out.contains("simulate") && out.contains("out_of_gas"),
        "{out}"
    );
    // Signed for a fixed, small limit it is committed, fails and pays for that limit on
    // every validator (bounded work: 20M gas, milliseconds).
    let (ok, out) = tao(
        &home,
        &n(&[
            "--gas", "20000000", "contract", "execute", &bad, "--from", "dev2",
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(
        !ok && out.contains("deliver") && out.contains("out_of_gas"),
        "{out}"
    );

    // Every validator has the same app hash at the same height.
    assert_validators_agree(spec);
}
