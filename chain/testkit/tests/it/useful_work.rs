//! Useful work through the ABCI app: blobs, the `matmul-market` subnet contract and the
//! `verify_matmul` host function. A requester posts a job (A, B as `.npy` blobs, a bounty);
//! an honest miner's C is verified (Freivalds seeded by the block hash) and paid; a cheating
//! miner's C is rejected and recorded; the contract's epoch weights favour the honest miner.

use borsh::BorshDeserialize;
use sha2::{Digest, Sha256};
use taochain_matmul_market_msg::{ExecuteMsg, MinerStats, QueryMsg};
use taochain_primitives::subnet::Neuron;
use taochain_primitives::{Account, Address, Msg, RejectCode};
use taochain_testkit::MockChain;
use taochain_testkit::fixtures::{FEE, addr, signed};
use taochain_vm_sandbox::contract_wasm;
use taochain_work::{Matrix, gemm, npy};

use crate::started_chain_in_memory;

struct Net {
    chain: MockChain,
    nonces: [u64; 4],
}

impl Net {
    fn send(&mut self, from: u8, msgs: Vec<Msg>) -> taochain_testkit::CommittedBlock {
        let tx = signed(from, self.nonces[from as usize], msgs);
        self.nonces[from as usize] += 1;
        self.chain.block(vec![tx])
    }

    fn ok(&mut self, from: u8, msgs: Vec<Msg>) -> Vec<u8> {
        let b = self.send(from, msgs);
        assert_eq!(b.results[0].code, 0, "{}", b.results[0].log);
        b.results[0].data.to_vec()
    }

    fn balance(&self, a: Address) -> u64 {
        let r = self.chain.query(&format!("/account/{a}"), false);
        borsh::from_slice::<Account>(&r.value).map_or(0, |a| a.balance)
    }

    fn blob(&mut self, from: u8, bytes: Vec<u8>) -> [u8; 32] {
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        let data = self.ok(from, vec![Msg::StoreBlob { bytes }]);
        assert_eq!(data, hash);
        hash
    }
}

#[test]
fn matmul_jobs_pay_honest_miners_and_record_cheats() {
    let mut net = Net {
        chain: started_chain_in_memory(),
        nonces: [0; 4],
    };
    // The market runs subnet 1 (owner: key 3); miners 1 (honest) and 2 (cheat) register.
    net.ok(
        3,
        vec![Msg::StoreCode {
            wasm: contract_wasm("matmul_market"),
        }],
    );
    net.ok(
        3,
        vec![Msg::RegisterSubnet {
            hotkey: addr(3),
            code_id: 1,
            init_msg: vec![],
            hyperparams: None,
        }],
    );
    for m in [1u8, 2] {
        net.ok(
            m,
            vec![Msg::BurnedRegister {
                netuid: 1,
                hotkey: addr(m),
            }],
        );
    }
    let info: taochain_primitives::subnet::SubnetInfo =
        borsh::from_slice(&net.chain.query("/subnet/1", false).value).expect("subnet");
    let market = info.contract;

    // Blobs: bad sizes are refused; A and B stored by the requester (key 0).
    let b = net.send(0, vec![Msg::StoreBlob { bytes: vec![] }]);
    assert_eq!(b.results[0].code, RejectCode::Malformed.code());
    let (a_m, b_m) = (
        Matrix::pseudo_random(24, 40, 1),
        Matrix::pseudo_random(40, 16, 2),
    );
    let c_m = gemm(&a_m, &b_m).expect("gemm");
    let a = net.blob(0, npy::encode(&a_m));
    let b = net.blob(0, npy::encode(&b_m));
    let height = net.chain.height();
    let post = |net: &mut Net| -> u64 {
        let msg = borsh::to_vec(&ExecuteMsg::PostJob {
            a,
            b,
            deadline: height + 50,
        })
        .expect("msg");
        let out = net.ok(
            0,
            vec![Msg::Execute {
                contract: market,
                msg,
                funds: 7_000_000,
            }],
        );
        u64::try_from_slice(&out).expect("job id")
    };
    let (job1, job2) = (post(&mut net), post(&mut net));
    let submit = |net: &mut Net, from: u8, job: u64, c: [u8; 32]| {
        let msg = borsh::to_vec(&ExecuteMsg::SubmitResult { job, c }).expect("msg");
        net.send(
            from,
            vec![Msg::Execute {
                contract: market,
                msg,
                funds: 0,
            }],
        )
    };

    // A C stored in the same transaction is not usable yet (blobs count from the next block).
    let honest_c = npy::encode(&c_m);
    let same = {
        let c = Sha256::digest(&honest_c).into();
        let msg = borsh::to_vec(&ExecuteMsg::SubmitResult { job: job1, c }).expect("msg");
        net.send(
            1,
            vec![
                Msg::StoreBlob {
                    bytes: honest_c.clone(),
                },
                Msg::Execute {
                    contract: market,
                    msg,
                    funds: 0,
                },
            ],
        )
    };
    assert_eq!(
        same.results[0].code,
        RejectCode::ContractFailed.code(),
        "{}",
        same.results[0].log
    );

    // The cheat: one entry off by one. Recorded, not paid.
    let mut bad = c_m.clone();
    bad.data[100] += 1;
    let bad_c = net.blob(2, npy::encode(&bad));
    let before = net.balance(addr(2));
    let r = submit(&mut net, 2, job1, bad_c);
    assert_eq!(r.results[0].code, 0, "{}", r.results[0].log);
    assert!(
        r.results[0]
            .events
            .iter()
            .any(|e| e.r#type == "wasm-result_invalid")
    );
    assert_eq!(net.balance(addr(2)), before - FEE);

    // The honest miner: paid the bounty.
    let c = net.blob(1, honest_c);
    let before = net.balance(addr(1));
    let r = submit(&mut net, 1, job1, c);
    assert_eq!(r.results[0].code, 0, "{}", r.results[0].log);
    assert!(
        r.results[0]
            .events
            .iter()
            .any(|e| e.r#type == "wasm-result_valid")
    );
    assert_eq!(net.balance(addr(1)), before - FEE + 7_000_000);
    // Pins: A and B are still held by job 2; C is held for the requester until collected,
    // then pruned (its record at once, its bytes at the commit).
    let pins = |net: &Net, h: &[u8; 32]| -> Option<u32> {
        let r = net.chain.query(&format!("/blob/{}", hex::encode(h)), false);
        borsh::from_slice::<taochain_primitives::state::BlobRecord>(&r.value)
            .ok()
            .map(|b| b.pins)
    };
    assert_eq!(
        (pins(&net, &a), pins(&net, &b), pins(&net, &c)),
        (Some(1), Some(1), Some(1))
    );
    let collect = borsh::to_vec(&ExecuteMsg::Collect { job: job1 }).expect("msg");
    net.ok(
        0,
        vec![Msg::Execute {
            contract: market,
            msg: collect,
            funds: 0,
        }],
    );
    assert_eq!(pins(&net, &c), None);
    let bytes = net
        .chain
        .query(&format!("/blob/{}/bytes", hex::encode(c)), false);
    assert_ne!(bytes.code, 0, "pruned blob bytes are gone");
    assert!(pins(&net, &a).is_some());
    // Only hotkeys registered on the subnet may submit (the requester is not).
    let r = submit(&mut net, 0, job2, c);
    assert_eq!(r.results[0].code, RejectCode::ContractFailed.code());
    assert!(
        r.results[0].log.contains("registered"),
        "{}",
        r.results[0].log
    );
    // A finished job, and a C that is not stored, are refused.
    assert_eq!(
        submit(&mut net, 1, job1, c).results[0].code,
        RejectCode::ContractFailed.code()
    );
    assert_eq!(
        submit(&mut net, 1, job2, [9; 32]).results[0].code,
        RejectCode::ContractFailed.code()
    );

    let stats = |net: &Net, who: u8| -> MinerStats {
        let msg = borsh::to_vec(&QueryMsg::Miner {
            hotkey: addr(who).0,
        })
        .expect("msg");
        let r = net.chain.abci_query_smart(&market, &msg);
        MinerStats::try_from_slice(&r).expect("stats")
    };
    assert_eq!(stats(&net, 1).valid, 1);
    assert_eq!((stats(&net, 2).valid, stats(&net, 2).invalid), (0, 1));

    // At the next epoch the contract's weights (the owner UID's) favour the honest miner.
    let uid1: u16 =
        borsh::from_slice(&net.chain.query(&format!("/uid/1/{}", addr(1)), false).value)
            .expect("uid");
    loop {
        let b = net.chain.block(vec![]);
        if b.events.iter().any(|e| e.r#type == "epoch") {
            break;
        }
    }
    let owner: Neuron = borsh::from_slice(&net.chain.query("/neuron/1/0", false).value).expect("n");
    assert_eq!(owner.weights, vec![(uid1, 65535)]);
}
