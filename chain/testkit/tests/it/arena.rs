//! The arena contract through the ABCI app: a subnet declares its AI task at creation, the
//! task is read back by a smart query (as miners and validators read it), a bad task is
//! refused with no subnet created, and only the owner tunes it.

use taochain_arena_msg::{ExecuteMsg, QueryMsg, TaskKind, TaskSpec};
use taochain_primitives::subnet::SubnetInfo;
use taochain_primitives::{Msg, RejectCode};
use taochain_testkit::fixtures::addr;
use taochain_vm_sandbox::contract_wasm;

use crate::economy::Net;

fn create(net: &mut Net, spec: &TaskSpec) -> (u32, String) {
    let tx = net_tx(
        net,
        0,
        Msg::RegisterSubnet {
            hotkey: addr(4),
            code_id: 1,
            init_msg: borsh::to_vec(spec).expect("encode"),
            hyperparams: None,
        },
    );
    let b = net.block(vec![tx]);
    (b.results[0].code, b.results[0].log.clone())
}

fn net_tx(net: &mut Net, from: u8, msg: Msg) -> Vec<u8> {
    net.tx(from, vec![msg])
}

fn task(net: &Net, netuid: u16) -> TaskSpec {
    let s: SubnetInfo = net.get(&format!("/subnet/{netuid}")).expect("subnet");
    let q = borsh::to_vec(&QueryMsg::Task).expect("encode");
    borsh::from_slice(&net.chain.abci_query_smart(&s.contract, &q)).expect("task")
}

#[test]
fn a_subnet_declares_its_task_and_clients_read_it_from_the_chain() {
    let mut net = Net::new();
    net.ok(
        0,
        vec![Msg::StoreCode {
            wasm: contract_wasm("arena"),
        }],
    );
    let mut bad = TaskSpec::new(TaskKind::ImageToText, 5_000, 200_000);
    bad.input_type = "audio/wav".into();
    let (code, log) = create(&mut net, &bad);
    assert_eq!(code, RejectCode::ContractFailed.code(), "{log}");
    assert!(log.contains("image/png"), "{log}");
    assert!(
        net.get::<SubnetInfo>("/subnet/1").is_none(),
        "no subnet from a bad task"
    );

    let spec = TaskSpec::new(TaskKind::SpeechToText, 8_000, 250_000);
    let (code, log) = create(&mut net, &spec);
    assert_eq!(code, 0, "{log}");
    assert_eq!(task(&net, 1), spec);

    let s: SubnetInfo = net.get("/subnet/1").expect("subnet");
    let tune = |t| Msg::Execute {
        contract: s.contract,
        msg: borsh::to_vec(&ExecuteMsg::Tune {
            challenge_timeout_ms: t,
            score_smoothing_ppm: 100_000,
        })
        .expect("encode"),
        funds: 0,
    };
    net.refused(1, tune(4_000), RejectCode::ContractFailed);
    assert_eq!(task(&net, 1), spec);
    // The contract's owner is its instantiator: the chain instantiates for the owner.
    let tx = net_tx(&mut net, 0, tune(4_000));
    let b = net.block(vec![tx]);
    assert_eq!(b.results[0].code, 0, "{}", b.results[0].log);
    assert_eq!(task(&net, 1).challenge_timeout_ms, 4_000);
}
