//! `Client::query_verified*` against honest and forged nodes: the key is recomputed from
//! the path, the header is verified by the light client from a genesis or header anchor,
//! and every forgery is refused with a one-line error.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use taochain_client::{Client, ClientError, Trust, TrustAnchor};
use taochain_primitives::schema::account_key;
use taochain_primitives::{Account, Address};

use crate::chain::{self, Chain, State, commit_json, query_json, serve, set, sign, vals};
use crate::fake::{FakeRpc, Handler};

const N: u64 = 6;
const SECOND: Duration = Duration::from_secs(1);

fn alice() -> Address {
    Address([1; 20])
}
fn bob() -> Address {
    Address([2; 20])
}
fn account(balance: u64) -> Vec<u8> {
    borsh::to_vec(&Account { balance, nonce: 3 }).expect("borsh")
}

/// Alice holds 5, Bob 7.
fn honest_state() -> State {
    State::new(&[
        (account_key(alice().as_bytes()).into_bytes(), account(5)),
        (account_key(bob().as_bytes()).into_bytes(), account(7)),
    ])
}

fn four() -> Vec<chain::Val> {
    vals(&[1, 2, 3, 4])
}

/// An honest chain of N headers over `state`, and the trust of its genesis file.
fn honest(state: &State) -> (Arc<Chain>, Trust) {
    let chain = Chain::build(N, &|_| four(), &state.root);
    let trust = genesis_trust(&chain);
    (Arc::new(chain), trust)
}

fn genesis_trust(chain: &Chain) -> Trust {
    Trust::new(
        TrustAnchor::genesis_json(&chain.genesis_json(), "fixture genesis").expect("genesis"),
    )
}

/// The honest answer for `addr` at height N - 1 (proved by header N).
fn answer(state: &State, addr: &Address) -> Value {
    let key = account_key(addr.as_bytes()).into_bytes();
    let (value, proof) = state.prove(&key);
    query_json(&key, &value.unwrap_or_default(), N - 1, &proof)
}

fn query(node: &FakeRpc, trust: &Trust, addr: &Address) -> Result<Option<Account>, ClientError> {
    Client::new(&node.url)
        .query_verified::<Account>(&format!("/account/{addr}"), trust, SECOND)
        .map(|v| v.value)
}

fn refused(r: Result<Option<Account>, ClientError>, want: &str) {
    let e = r.expect_err("a forgery must be refused").to_string();
    assert!(e.contains(want), "expected `{want}` in: {e}");
    assert!(!e.contains('\n'), "one line: {e}");
    eprintln!("refused: {e}");
}

#[test]
fn an_honest_answer_verifies_from_the_genesis_file() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    let node = serve(chain, answer(&state, &alice()));
    let v = Client::new(&node.url)
        .query_verified::<Account>(&format!("/account/{}", alice()), &trust, SECOND)
        .expect("verified");
    assert_eq!(v.value.map(|a| a.balance), Some(5));
    assert_eq!(v.height, N - 1);
    assert_eq!(v.header.height, N);
    assert_eq!(v.header.headers_checked, 1, "one skip from genesis");
    assert_eq!(v.app_hash, hex::encode_upper(&state.root));
    assert_eq!(
        serde_json::to_value(&v.anchor).expect("json")["kind"],
        "genesis"
    );
}

#[test]
fn absence_is_proved_too() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    let carol = Address([3; 20]);
    let node = serve(chain, answer(&state, &carol));
    assert_eq!(query(&node, &trust, &carol).expect("verified"), None);
}

#[test]
fn a_header_anchor_verifies_and_a_wrong_hash_is_refused() {
    let state = honest_state();
    let (chain, _) = honest(&state);
    let hash = chain.headers[&2].header.hash().to_string();
    let node = serve(chain, answer(&state, &alice()));
    let trust = Trust::new(TrustAnchor::header(2, &hash).expect("anchor"));
    assert!(query(&node, &trust, &alice()).expect("verified").is_some());
    let wrong = Trust::new(TrustAnchor::header(2, &"AB".repeat(32)).expect("anchor"));
    refused(query(&node, &wrong, &alice()), "not the trusted");
    let too_new = Trust::new(TrustAnchor::header(N + 1, &hash).expect("anchor"));
    refused(
        query(&node, &too_new, &alice()),
        "older than the trusted header",
    );
}

#[test]
fn an_altered_app_hash_is_refused() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    // The node proves Alice rich in its own state and puts that root in header N,
    // keeping the validators' commit of the real header.
    let forged = State::new(&[(
        account_key(alice().as_bytes()).into_bytes(),
        account(1_000_000),
    )]);
    let mut chain = Arc::try_unwrap(chain).ok().expect("one owner");
    let mut sh = chain.headers[&N].clone();
    sh.header.app_hash = forged.root.clone().try_into().expect("app hash");
    let sh = tendermint::block::signed_header::SignedHeader::new(sh.header, sh.commit)
        .expect("same height");
    chain.headers.insert(N, sh);
    let node = serve(Arc::new(chain), answer(&forged, &alice()));
    refused(
        query(&node, &trust, &alice()),
        "light client refused the header",
    );
}

#[test]
fn a_commit_by_validators_outside_the_trusted_set_is_refused() {
    let state = honest_state();
    let (_, trust) = honest(&state);
    // Mallory's own validators sign a chain with the same id over her state.
    let forged = State::new(&[(
        account_key(alice().as_bytes()).into_bytes(),
        account(1_000_000),
    )]);
    let mallory = Chain::build(N, &|_| vals(&[101, 102, 103, 104]), &forged.root);
    let node = serve(Arc::new(mallory), answer(&forged, &alice()));
    refused(
        query(&node, &trust, &alice()),
        "light client refused the header",
    );
}

#[test]
fn a_commit_signed_by_too_few_validators_is_refused() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    let mut chain = Arc::try_unwrap(chain).ok().expect("one owner");
    let v = four();
    // One of four real signatures, the other three absent.
    let hd = chain.headers[&N].header.clone();
    chain.headers.insert(N, sign(hd, &v, &v[..1]));
    let node = serve(Arc::new(chain), answer(&state, &alice()));
    refused(
        query(&node, &trust, &alice()),
        "light client refused the header",
    );
}

#[test]
fn an_answer_for_another_key_is_refused() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    // Asked for Alice, the node answers Bob's (valid) entry.
    let node = serve(chain, answer(&state, &bob()));
    refused(query(&node, &trust, &alice()), "answered for state key");
}

#[test]
fn a_proof_for_another_key_is_refused() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    // Alice's key, a value of the node's choosing, and the proof of Bob's entry.
    let (_, bob_proof) = state.prove(&account_key(bob().as_bytes()).into_bytes());
    let reply = query_json(
        &account_key(alice().as_bytes()).into_bytes(),
        &account(7),
        N - 1,
        &bob_proof,
    );
    let node = serve(chain, reply);
    refused(query(&node, &trust, &alice()), "proof verification failed");
}

#[test]
fn a_validator_set_change_is_crossed_by_bisection() {
    // 1..=3 run on validators 1-4, 4.. on 5-8: no skip from genesis reaches N.
    let state = honest_state();
    let at = |h: u64| if h <= 3 { four() } else { vals(&[5, 6, 7, 8]) };
    let chain = Chain::build(N, &at, &state.root);
    let trust = genesis_trust(&chain);
    let node = serve(Arc::new(chain), answer(&state, &alice()));
    let v = Client::new(&node.url)
        .query_verified::<Account>(&format!("/account/{}", alice()), &trust, SECOND)
        .expect("verified by bisection");
    assert!(v.header.headers_checked > 1, "{:?}", v.header);
}

#[test]
fn an_expired_anchor_is_refused() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    let node = serve(chain, answer(&state, &alice()));
    let short = trust.with_trusting_period(Duration::from_secs(60));
    refused(query(&node, &short, &alice()), "trusting period");
}

#[test]
fn a_path_that_reads_no_key_is_refused_before_asking() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    let node = serve(chain, answer(&state, &alice()));
    let e = Client::new(&node.url)
        .query_verified_raw("/subnets", &trust, SECOND)
        .expect_err("not provable")
        .to_string();
    assert!(e.contains("cannot be proved"), "{e}");
}

#[test]
fn malformed_rpc_answers_are_one_line_errors() {
    let state = honest_state();
    let (chain, trust) = honest(&state);
    let good = answer(&state, &alice());
    let other_height = commit_json(&chain.headers[&(N - 1)]);
    let h = N.to_string();
    let cases: Vec<(&str, Value)> = vec![
        ("commit", json!({"signed_header": {"header": 5}})),
        ("commit", json!("nope")),
        ("commit", other_height),
        (
            "validators",
            json!({"block_height": h, "validators": [], "total": "4"}),
        ),
        (
            "validators",
            json!({"block_height": h, "validators": [{"address": 1}], "total": "1"}),
        ),
        (
            "validators",
            json!({"block_height": h, "validators": [], "total": "18446744073709551615"}),
        ),
        (
            "validators",
            json!({"block_height": "1", "validators": [], "total": "4"}),
        ),
        ("abci_query", json!({"response": {"code": 0, "key": 5}})),
        (
            "abci_query",
            json!({"response": {"code": 0, "key": "", "value": "", "height": "1"}}),
        ),
    ];
    for (method, bad) in cases {
        let (chain, good) = (chain.clone(), good.clone());
        let handler: Handler = Arc::new(move |m, params| {
            let h: u64 = params["height"]
                .as_str()
                .and_then(|h| h.parse().ok())
                .unwrap_or(0);
            match m {
                _ if m == method => Ok(bad.clone()),
                "commit" => chain
                    .headers
                    .get(&h)
                    .map(commit_json)
                    .ok_or_else(|| format!("no header {h}")),
                "validators" => Ok(chain::validators_json(&set(&four()), h, params)),
                _ => Ok(good.clone()),
            }
        });
        let node = FakeRpc::start(handler);
        let e = query(&node, &trust, &alice())
            .expect_err(method)
            .to_string();
        assert!(!e.contains('\n') && !e.is_empty(), "{method}: {e}");
        eprintln!("{method}: {e}");
    }
}
