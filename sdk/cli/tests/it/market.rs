//! Useful work end to end on the 4-validator localnet: a requester posts a 512x512x512
//! int8 job through `tao job post`, a cheating miner's C is rejected and recorded, `tao
//! miner run` computes C and is paid the bounty, and all validators agree.

use sha2::{Digest, Sha256};
use taochain_client::{Client, Keystore};
use taochain_matmul_market_msg::ExecuteMsg;
use taochain_primitives::{Account, Address, Msg, RAO_PER_TAO};
use taochain_vm_sandbox::contract_wasm;
use taochain_work::{Matrix, gemm, npy};

use crate::localnet::{assert_validators_agree, start, tao, tao_json};

#[test]
fn a_512_cubed_job_is_mined_paid_and_a_cheat_rejected_on_the_localnet() {
    let net = start(3, &[]);
    let (home, node) = (net.home.clone(), net.node.clone());
    let cli = |args: &[&str]| {
        let mut all = vec!["--node", node.as_str()];
        all.extend(args);
        tao_json(&home, &all)
    };
    let wasm = home.join("market.wasm");
    std::fs::write(&wasm, contract_wasm("matmul_market")).expect("wasm");
    cli(&[
        "contract",
        "store",
        &wasm.to_string_lossy(),
        "--from",
        "dev0",
    ]);
    cli(&[
        "subnet",
        "create",
        "--from",
        "dev0",
        "--hotkey",
        "dev0",
        "--code-id",
        "1",
    ]);
    for miner in ["dev1", "dev3"] {
        cli(&[
            "neuron", "register", "--from", miner, "--netuid", "1", "--hotkey", miner,
        ]);
    }

    let (a, b) = (
        Matrix::pseudo_random(512, 512, 1),
        Matrix::pseudo_random(512, 512, 2),
    );
    let (pa, pb) = (home.join("a.npy"), home.join("b.npy"));
    npy::write(&pa, &a).expect("a");
    npy::write(&pb, &b).expect("b");
    let posted = cli(&[
        "job",
        "post",
        "--from",
        "dev2",
        "--netuid",
        "1",
        "--a",
        &pa.to_string_lossy(),
        "--b",
        &pb.to_string_lossy(),
        "--bounty",
        "5TAO",
    ]);
    let job = posted["id"].as_u64().expect("job id");

    // The cheat (dev3): C with one entry off by one. The transaction goes through; the
    // contract records the invalid result and pays nothing.
    let c = Client::new(&node);
    let keys = Keystore::open(home.join("keys")).expect("keystore");
    let cheat = keys.signing_key("dev3", None).expect("dev3");
    let mut wrong = gemm(&a, &b).expect("gemm");
    wrong.data[12_345] += 1;
    let bytes = npy::encode(&wrong);
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    c.send(&cheat, vec![Msg::StoreBlob { bytes }], None)
        .expect("blob");
    let info: taochain_primitives::subnet::SubnetInfo =
        borsh::from_slice(&c.query_raw("/subnet/1", 0).expect("subnet")).expect("decodes");
    let msg = borsh::to_vec(&ExecuteMsg::SubmitResult { job, c: hash }).expect("msg");
    let done = c
        .send(
            &cheat,
            vec![Msg::Execute {
                contract: info.contract,
                msg,
                funds: 0,
            }],
            None,
        )
        .expect("submission recorded");
    assert_eq!(
        hex::decode(&done.data).expect("hex"),
        [0u8],
        "verdict: invalid"
    );
    let shown = cli(&["job", "show", "--netuid", "1", &job.to_string()]);
    assert_eq!(shown["open"], true, "{shown}");

    // The honest miner (dev1) computes, stores and submits, and is paid.
    let dev1: Address = keys
        .show("dev1")
        .expect("dev1")
        .address
        .parse()
        .expect("addr");
    let balance = |c: &Client| -> u64 {
        borsh::from_slice::<Account>(&c.query_raw(&format!("/account/{dev1}"), 0).expect("q"))
            .map_or(0, |a| a.balance)
    };
    let before = balance(&c);
    let (ok, out) = tao(
        &home,
        &[
            "--node",
            &node,
            "--gas",
            "100000000",
            "miner",
            "run",
            "--from",
            "dev1",
            "--netuid",
            "1",
            "--once",
            "--backend",
            "cpu",
        ],
    );
    assert!(ok && out.contains("paid"), "{out}");
    // Two transactions (store C, submit it) at a fixed gas limit: two known fees.
    let fees = 2 * c.params().expect("params").required_fee(100_000_000);
    assert_eq!(balance(&c), before + 5 * RAO_PER_TAO - fees);
    let shown = cli(&["job", "show", "--netuid", "1", &job.to_string()]);
    assert_eq!(shown["open"], false, "{shown}");
    assert!(
        shown["status"]
            .as_str()
            .expect("status")
            .starts_with("paid to"),
        "{shown}"
    );
    let result = shown["result"].as_str().expect("result hash").to_string();
    // The requester collects C (checked against its hash) and the job's blobs are pruned.
    let out = home.join("c.npy");
    cli(&[
        "job",
        "collect",
        "--from",
        "dev2",
        "--netuid",
        "1",
        &job.to_string(),
        "--out",
        &out.to_string_lossy(),
    ]);
    let collected: Matrix<i32> = npy::read(&out).expect("c.npy");
    assert_eq!(collected, gemm(&a, &b).expect("gemm"));
    assert!(
        c.query_raw(&format!("/blob/{result}/bytes"), 0).is_err(),
        "C is pruned"
    );
    assert!(
        c.query_raw(&format!("/blob/{result}"), 0)
            .expect("q")
            .is_empty()
    );

    // Every validator agrees.
    assert_validators_agree(&net.spec);
}
