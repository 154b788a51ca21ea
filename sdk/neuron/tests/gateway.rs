//! The gateway over real HTTP on loopback, in front of real axons (in-process models that
//! count their calls) and an in-memory chain ([`Fixed`]): paid answers by JSON and
//! multipart, agreement among the top 3, every refused voucher with its code and no model
//! call, nothing charged for a failure, the routed mixture of experts, and redemption of
//! exactly what was earned once vouchers are old enough.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use taochain_arena_msg::{TaskKind, TaskSpec};
use taochain_neuron::axon::{Axon, AxonConfig, Permits};
use taochain_neuron::gateway::api::{AskRequest, RouteVoucher, VoucherWire};
use taochain_neuron::gateway::client::{GatewayClient, GatewayError};
use taochain_neuron::gateway::source::Fixed;
use taochain_neuron::gateway::{Gateway, GatewayConfig, MAX_IN_FLIGHT, PER_PEER};
use taochain_neuron::model::Model;
use taochain_primitives::Address;
use taochain_primitives::axon::AxonInfo;
use taochain_primitives::channel::{Channel, Voucher};
use taochain_primitives::subnet::MetagraphRow;

const CHAIN: &str = "tao-test";
const PRICE: u64 = 1_000;
const SPEECH: u16 = 1;
const TEXT: u16 = 3;
/// The contract of the subnets the gateway serves.
const CONTRACT: Address = Address([6; 20]);

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

fn addr(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

fn gateway_key() -> SigningKey {
    key(1)
}

fn user() -> SigningKey {
    key(2)
}

/// A model answering `answer` (or failing on `None`), counting its calls.
fn model(answer: Option<&'static str>, calls: &Arc<AtomicUsize>) -> Model {
    let calls = Arc::clone(calls);
    Model::Func(Arc::new(move |_: &[u8]| {
        calls.fetch_add(1, Ordering::SeqCst);
        answer.map(str::to_string).ok_or_else(|| "broken".into())
    }))
}

fn row(uid: u16, hotkey: Address, incentive: u16, endpoint: String) -> MetagraphRow {
    MetagraphRow {
        uid,
        hotkey,
        coldkey: Address::default(),
        stake: 0,
        permit: false,
        active: true,
        consensus: 0,
        incentive,
        dividends: 0,
        trust: 0,
        emission: 0,
        last_update: 0,
        registered_at: 0,
        axon: Some(AxonInfo {
            endpoint,
            protocol: 1,
            block: 1,
        }),
    }
}

fn channel(netuid: u16, deposit: u64, gateway: Address) -> Channel {
    Channel {
        user: addr(&user()),
        user_key: user().verifying_key().to_bytes(),
        gateway,
        netuid,
        subnet_contract: CONTRACT,
        gateway_share_bps: 1000,
        deposit,
        redeemed: 0,
        expires_at: 1_000,
        closed: false,
    }
}

fn voucher(id: u64, amount: u64, netuid: u16) -> VoucherWire {
    let sig = user().sign(
        &Voucher {
            channel: id,
            cumulative: amount,
        }
        .digest(CHAIN, netuid),
    );
    VoucherWire {
        channel: id,
        cumulative_rao: amount.to_string(),
        signature: hex::encode(sig.to_bytes()),
    }
}

struct Net {
    chain: Arc<Fixed>,
    client: GatewayClient,
    url: String,
    /// Model calls per subnet.
    calls: BTreeMap<u16, Arc<AtomicUsize>>,
}

/// Three speech miners (two agree; UID 2 ranks first by incentive and says something else)
/// and one text miner; channels 1 (speech), 2 (text), 3 (another gateway's), 4 (tiny),
/// 5 (another subnet's), 8 (text).
async fn net() -> Net {
    let mut metagraphs = BTreeMap::new();
    let mut calls = BTreeMap::new();
    let permits = Arc::new(Permits::fixed([addr(&gateway_key())]));
    for (netuid, kind, answers) in [
        (
            SPEECH,
            TaskKind::SpeechToText,
            vec![Some("the cat sat"), Some("The cat sat."), Some("a hat")],
        ),
        (TEXT, TaskKind::TextCorrection, vec![Some("the cat sat")]),
    ] {
        let count = Arc::new(AtomicUsize::new(0));
        let mut rows = vec![];
        for (i, answer) in answers.into_iter().enumerate() {
            let miner = key(10 + netuid as u8 * 10 + i as u8);
            let ax = Axon::new(
                AxonConfig::new(netuid, CHAIN, kind),
                miner.clone(),
                model(answer, &count),
                Arc::clone(&permits),
            );
            let at = ax
                .spawn("127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("binds");
            let incentive = [100, 50, 900][i % 3];
            rows.push(row(
                i as u16,
                addr(&miner),
                incentive,
                format!("http://{at}"),
            ));
        }
        metagraphs.insert(netuid, rows);
        calls.insert(netuid, count);
    }
    let gw = addr(&gateway_key());
    let channels = BTreeMap::from([
        (1, channel(SPEECH, 100 * PRICE, gw)),
        (2, channel(TEXT, 100 * PRICE, gw)),
        (3, channel(SPEECH, 100 * PRICE, Address([9; 20]))),
        (4, channel(TEXT, PRICE + PRICE / 2, gw)),
        (8, channel(TEXT, 100 * PRICE, gw)),
        // Opened to the subnet that held SPEECH's netuid before the one served.
        (
            5,
            Channel {
                subnet_contract: Address([4; 20]),
                ..channel(SPEECH, 100 * PRICE, gw)
            },
        ),
    ]);
    let chain = Arc::new(Fixed {
        chain_id: CHAIN.into(),
        height: 10.into(),
        tasks: BTreeMap::from([
            (
                SPEECH,
                (
                    CONTRACT,
                    TaskSpec::new(TaskKind::SpeechToText, 2_000, 500_000),
                ),
            ),
            (
                TEXT,
                (
                    CONTRACT,
                    TaskSpec::new(TaskKind::TextCorrection, 2_000, 500_000),
                ),
            ),
        ])
        .into(),
        channels: channels.into(),
        metagraphs,
        weights: BTreeMap::new(),
        redemptions: Default::default(),
        transactions: Default::default(),
        refusals: Default::default(),
    });
    let mut config = GatewayConfig::new(vec![SPEECH, TEXT], PRICE);
    config.redeem_every_blocks = 5;
    config.poll = Duration::from_millis(20);
    let g = Gateway::connect(chain.clone(), gateway_key(), config)
        .await
        .expect("connects");
    let at = g
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    let url = format!("http://{at}");
    Net {
        chain,
        client: GatewayClient::new(&url, Duration::from_secs(10)).expect("client"),
        url,
        calls,
    }
}

fn wav() -> Vec<u8> {
    let mut w = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
    w.resize(64, 0);
    w
}

fn refused(r: Result<impl std::fmt::Debug, GatewayError>) -> (u16, String) {
    match r {
        Err(GatewayError::Refused { status, code, .. }) => (status, code),
        other => unreachable!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_question_gets_the_agreed_answer_and_a_refused_voucher_reaches_no_model() {
    let n = net().await;
    let info = n.client.info().await.expect("info");
    assert_eq!(info.chain_id, CHAIN);
    assert_eq!(info.price_rao, PRICE.to_string());
    assert_eq!(info.subnets.len(), 2);

    let a = n
        .client
        .ask(SPEECH, &wav(), voucher(1, PRICE, SPEECH))
        .await
        .expect("answered");
    // UID 2 ranks first (incentive 900) but says `a hat`; UIDs 0 and 1 agree.
    assert_eq!((a.asked, a.answered, a.agreed), (3, 3, 2));
    assert_eq!(a.answer, "the cat sat");
    assert_eq!(a.miner.uid, 0, "the better-ranked of the two that agree");
    assert_eq!(
        (a.charged_rao.as_str(), a.cumulative_rao.as_str()),
        ("1000", "1000")
    );
    let speech_calls = &n.calls[&SPEECH];
    assert_eq!(speech_calls.load(Ordering::SeqCst), 3);

    // Every refusal: its status and code; no model is called.
    let cases: Vec<(VoucherWire, u16, &str)> = vec![
        (voucher(1, PRICE, SPEECH), 402, "voucher_too_low"),
        (voucher(1, PRICE + 1, SPEECH), 402, "voucher_too_low"),
        (
            voucher(1, 101 * PRICE, SPEECH),
            402,
            "voucher_above_deposit",
        ),
        (
            VoucherWire {
                cumulative_rao: (2 * PRICE).to_string(),
                ..voucher(1, 3 * PRICE, SPEECH)
            },
            402,
            "voucher_bad_signature",
        ),
        (voucher(1, 2 * PRICE, TEXT), 402, "voucher_bad_signature"),
        (
            VoucherWire {
                channel: 1,
                ..voucher(2, 2 * PRICE, SPEECH)
            },
            402,
            "voucher_bad_signature",
        ),
        (voucher(3, PRICE, SPEECH), 402, "channel_wrong_gateway"),
        (voucher(2, PRICE, TEXT), 402, "channel_wrong_subnet"),
        (voucher(5, PRICE, SPEECH), 402, "channel_wrong_subnet"),
        (voucher(99, PRICE, SPEECH), 404, "unknown_channel"),
    ];
    for (v, status, code) in cases {
        let r = n.client.ask(SPEECH, &wav(), v.clone()).await;
        assert_eq!(refused(r), (status, code.to_string()), "{v:?}");
    }
    let r = n.client.ask(7, &wav(), voucher(1, 2 * PRICE, SPEECH)).await;
    assert_eq!(refused(r), (404, "unknown_subnet".into()));
    let r = n
        .client
        .ask(SPEECH, b"not audio", voucher(1, 2 * PRICE, SPEECH))
        .await;
    assert_eq!(refused(r), (415, "unsupported_input".into()));
    assert_eq!(
        speech_calls.load(Ordering::SeqCst),
        3,
        "a refused request reached a model"
    );

    // Raw bodies: malformed JSON, bad base64, and a multipart request that is answered.
    let http = reqwest::Client::new();
    let url = format!("{}/v1/subnets/{SPEECH}/ask", n.url);
    for body in [
        "{",
        r#"{"input":"***","voucher":{"channel":1,"cumulative_rao":"2000","signature":"00"}}"#,
    ] {
        let r = http.post(&url).body(body).send().await.expect("sent");
        assert_eq!(r.status().as_u16(), 400);
    }
    let v = voucher(1, 2 * PRICE, SPEECH);
    let boundary = "XyZ";
    let mut body = Vec::new();
    for (name, value) in [
        ("channel", v.channel.to_string()),
        ("cumulative_rao", v.cumulative_rao.clone()),
        ("signature", v.signature.clone()),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .bytes(),
        );
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.wav\"\r\nContent-Type: audio/wav\r\n\r\n").bytes(),
    );
    body.extend(wav());
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let r = http
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    let a: serde_json::Value = r.json().await.expect("json");
    assert_eq!(a["cumulative_rao"], "2000", "{a}");

    let doc: serde_json::Value = http
        .get(format!("{}/openapi.json", n.url))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(doc["paths"]["/v1/ask"]["post"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_request_is_not_charged_and_only_earned_vouchers_are_redeemed() {
    let n = net().await;
    // Channel 4 holds 1.5 prices: one request, then the next voucher is above the deposit.
    let a = n
        .client
        .ask(TEXT, b"teh cat sat", voucher(4, PRICE, TEXT))
        .await;
    assert_eq!(a.expect("answered").cumulative_rao, PRICE.to_string());
    let r = n
        .client
        .ask(TEXT, b"teh cat sat", voucher(4, 2 * PRICE, TEXT))
        .await;
    assert_eq!(refused(r), (402, "voucher_above_deposit".into()));

    // The miners of a subnet all fail: 502, nothing charged, the same voucher works later.
    let broken = text_net(|c| model(None, c)).await;
    let r = broken
        .client
        .ask(TEXT, b"teh cat", voucher(2, PRICE, TEXT))
        .await;
    assert_eq!(refused(r), (502, "no_answer".into()));
    let books = broken.client.books(2).await.expect("books");
    assert_eq!(books.charged_rao, "0");

    // Speech channel 1: two answered (1000, 2000); text channel 2: one. Redeemed once 5
    // blocks old, with channel 4's, all due at once: one transaction.
    for amount in [PRICE, 2 * PRICE] {
        n.client
            .ask(SPEECH, &wav(), voucher(1, amount, SPEECH))
            .await
            .expect("answered");
    }
    n.client
        .ask(TEXT, b"teh cat sat", voucher(2, PRICE, TEXT))
        .await
        .expect("answered");
    assert!(
        n.chain.redemptions.lock().expect("lock").is_empty(),
        "too early"
    );
    // Channel 4 closes on chain first (its user closed it): the chain refuses the batch of
    // three; the gateway writes channel 4 off and redeems the other two together.
    if let Some(c) = n.chain.channels.lock().expect("lock").get_mut(&4) {
        c.closed = true;
    }
    *n.chain.height.lock().expect("lock") = 20;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = n.chain.redemptions.lock().expect("lock").clone();
        if r.len() == 2 {
            assert!(
                r.contains(&(1, 2 * PRICE)) && r.contains(&(2, PRICE)),
                "{r:?}"
            );
            let txs = n.chain.transactions.lock().expect("lock").clone();
            assert_eq!(txs, vec![2], "{txs:?}");
            break;
        }
        assert!(Instant::now() < deadline, "not redeemed: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let books = n.client.books(1).await.expect("books");
    assert_eq!(
        (books.charged_rao.as_str(), books.redeemed_rao.as_str()),
        ("2000", "2000")
    );
}

/// A gateway for one text miner answering with `model` (given its call counter); channels
/// 2, 5, 6 and 7 pay it.
async fn text_net(make: impl FnOnce(&Arc<AtomicUsize>) -> Model) -> Net {
    let count = Arc::new(AtomicUsize::new(0));
    let miner = key(90);
    let ax = Axon::new(
        AxonConfig::new(TEXT, CHAIN, TaskKind::TextCorrection),
        miner.clone(),
        make(&count),
        Arc::new(Permits::fixed([addr(&gateway_key())])),
    );
    let at = ax
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    let gw = addr(&gateway_key());
    let chain = Arc::new(Fixed {
        chain_id: CHAIN.into(),
        height: 10.into(),
        tasks: BTreeMap::from([(
            TEXT,
            (
                CONTRACT,
                TaskSpec::new(TaskKind::TextCorrection, 2_000, 500_000),
            ),
        )])
        .into(),
        channels: BTreeMap::from([2, 5, 6, 7].map(|id| (id, channel(TEXT, 100 * PRICE, gw))))
            .into(),
        metagraphs: BTreeMap::from([(TEXT, vec![row(0, addr(&miner), 1, format!("http://{at}"))])]),
        ..Fixed::default()
    });
    let g = Gateway::connect(
        chain.clone(),
        gateway_key(),
        GatewayConfig::new(vec![TEXT], PRICE),
    )
    .await
    .expect("connects");
    let at = g
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    let url = format!("http://{at}");
    Net {
        chain,
        client: GatewayClient::new(&url, Duration::from_secs(10)).expect("client"),
        url,
        calls: BTreeMap::from([(TEXT, count)]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_chains_speech_into_text_correction_and_charges_each_step() {
    let n = net().await;
    let route = vec![
        RouteVoucher {
            netuid: SPEECH,
            voucher: voucher(1, PRICE, SPEECH),
        },
        RouteVoucher {
            netuid: TEXT,
            voucher: voucher(2, PRICE, TEXT),
        },
    ];
    // A route that needs two vouchers and gets one: refused, nothing served or charged.
    let r = n.client.route(&wav(), route[..1].to_vec()).await;
    assert_eq!(refused(r), (402, "voucher_missing".into()));
    assert_eq!(n.calls[&SPEECH].load(Ordering::SeqCst), 0);
    assert_eq!(n.client.books(1).await.expect("books").charged_rao, "0");

    let a = n.client.route(&wav(), route.clone()).await.expect("routed");
    let steps: Vec<(&str, u16)> = a
        .route
        .iter()
        .map(|s| (s.task.as_str(), s.netuid))
        .collect();
    assert_eq!(
        steps,
        [("speech-to-text", SPEECH), ("text-correction", TEXT)]
    );
    assert_eq!(a.answer, "the cat sat");
    assert_eq!(n.calls[&TEXT].load(Ordering::SeqCst), 1);
    for id in [1, 2] {
        assert_eq!(n.client.books(id).await.expect("books").charged_rao, "1000");
    }
    // Text goes straight to text correction; a voucher for a subnet off the route is refused.
    let text = vec![RouteVoucher {
        netuid: TEXT,
        voucher: voucher(2, 2 * PRICE, TEXT),
    }];
    let a = n
        .client
        .route(b"teh cat sat", text.clone())
        .await
        .expect("text");
    assert_eq!(a.route.len(), 1);
    let mut extra = text;
    extra.push(RouteVoucher {
        netuid: SPEECH,
        voucher: voucher(1, 2 * PRICE, SPEECH),
    });
    let r = n.client.route(b"teh cat sat", extra).await;
    assert_eq!(refused(r), (400, "bad_request".into()));
    let r = n.client.route(&[0xff, 0x00, 0x12], route).await;
    assert_eq!(refused(r), (415, "unsupported_input".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_leaves_its_request_settled_and_the_channel_free() {
    let n = text_net(|c| {
        let c = Arc::clone(c);
        Model::Func(Arc::new(move |_: &[u8]| {
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(800));
            Ok("the cat sat".into())
        }))
    })
    .await;
    let impatient = GatewayClient::new(&n.url, Duration::from_millis(100)).expect("client");
    let r = impatient
        .ask(TEXT, b"teh cat", voucher(2, PRICE, TEXT))
        .await;
    assert!(matches!(r, Err(GatewayError::Transport(_))), "{r:?}");
    // The request finishes without its client: answered, so charged, and the channel free.
    let deadline = Instant::now() + Duration::from_secs(10);
    while n.client.books(2).await.expect("books").charged_rao != PRICE.to_string() {
        assert!(Instant::now() < deadline, "never settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = n
        .client
        .ask(TEXT, b"teh cat", voucher(2, 2 * PRICE, TEXT))
        .await;
    assert_eq!(a.expect("not busy").cumulative_rao, (2 * PRICE).to_string());
}

/// A miner's model that marks each start in a directory, then holds its answer until
/// released (at most 1.8 s, inside the task's 2 s challenge timeout).
struct Held(tempfile::TempDir);

impl Held {
    fn new() -> Self {
        Held(tempfile::tempdir().expect("dir"))
    }

    fn model(&self) -> Model {
        let script = r#"touch "$0.$$"; i=0; while [ ! -e "$1" ] && [ $i -lt 36 ]; do sleep 0.05; i=$((i+1)); done; echo the cat sat"#;
        Model::Exe {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                script.into(),
                self.0.path().join("started").display().to_string(),
                self.0.path().join("release").display().to_string(),
            ],
        }
    }

    /// Requests the model has started.
    fn starts(&self) -> usize {
        std::fs::read_dir(self.0.path())
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("started."))
            })
            .count()
    }

    fn release(&self) {
        std::fs::write(self.0.path().join("release"), b"").expect("release");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_leaves_its_validator_a_slot_at_every_miner() {
    let held = Held::new();
    let n = text_net(|_| held.model()).await;
    let starts = || held.starts();
    // Three paid requests (one per channel) wait at the only miner...
    let mut waiting = vec![];
    for id in [2, 5, 6] {
        let client = n.client.clone();
        waiting.push(tokio::spawn(async move {
            client.ask(TEXT, b"teh cat", voucher(id, PRICE, TEXT)).await
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while starts() < 3 {
        assert!(
            Instant::now() < deadline,
            "the three requests never reached the miner"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ... so a fourth is refused by the gateway, not sent to take the axon's last slot for
    // this hotkey (its validator's), and is not charged.
    let r = n
        .client
        .ask(TEXT, b"teh cat", voucher(7, PRICE, TEXT))
        .await;
    held.release();
    assert_eq!(refused(r), (503, "miners_busy".into()));
    assert_eq!(starts(), 3);
    assert_eq!(n.client.books(7).await.expect("books").charged_rao, "0");
    for w in waiting {
        w.await.expect("joins").expect("answered");
    }
    // Slots are given back: the fourth channel is served now.
    let a = n
        .client
        .ask(TEXT, b"teh cat", voucher(7, PRICE, TEXT))
        .await;
    assert_eq!(a.expect("answered").answer, "the cat sat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_replaced_on_its_netuid_is_served_by_its_own_channels() {
    let n = net().await;
    let r = n
        .client
        .ask(SPEECH, &wav(), voucher(5, PRICE, SPEECH))
        .await;
    assert_eq!(refused(r), (402, "channel_wrong_subnet".into()));
    // The netuid now holds the subnet channel 5 pays (another contract); the next block
    // shows it to the gateway.
    if let Some(t) = n.chain.tasks.lock().expect("lock").get_mut(&SPEECH) {
        t.0 = Address([4; 20]);
    }
    *n.chain.height.lock().expect("lock") = 11;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match n
            .client
            .ask(SPEECH, &wav(), voucher(5, PRICE, SPEECH))
            .await
        {
            Ok(a) => {
                assert_eq!(a.channel, 5);
                break;
            }
            Err(e) => {
                assert_eq!(
                    refused(Err::<(), _>(e)),
                    (402, "channel_wrong_subnet".into())
                );
                assert!(
                    Instant::now() < deadline,
                    "the gateway never saw the new subnet"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // The channel to the subnet that held the netuid before is refused now.
    let r = n
        .client
        .ask(SPEECH, &wav(), voucher(1, PRICE, SPEECH))
        .await;
    assert_eq!(refused(r), (402, "channel_wrong_subnet".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holding_connections_open_cannot_take_every_slot() {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let n = text_net(|c| model(Some("the cat sat"), c)).await;
    let at = n.url.strip_prefix("http://").expect("url").to_string();
    // From 127.0.0.1: as many requests as the gateway has slots, each sending its head and
    // the first byte of a 100-byte body, the rest held back.
    let head = format!(
        "POST /v1/subnets/{TEXT}/ask HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
    );
    let mut held = vec![];
    for _ in 0..MAX_IN_FLIGHT {
        let mut conn = tokio::net::TcpStream::connect(&at).await.expect("connects");
        conn.write_all(head.as_bytes()).await.expect("head");
        held.push(conn);
    }
    // Another address is served meanwhile.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    let body = AskRequest {
        input: base64::engine::general_purpose::STANDARD.encode(b"teh cat"),
        voucher: voucher(2, PRICE, TEXT),
    };
    let r = other
        .post(format!("{}/v1/subnets/{TEXT}/ask", n.url))
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{}", r.text().await.unwrap_or_default());
    // A channel's books count against the same share: refused from the busy address,
    // served from the other.
    let books = |c: reqwest::Client| {
        let url = format!("{}/v1/channels/2", n.url);
        async move { c.get(url).send().await.expect("sent").status().as_u16() }
    };
    assert_eq!(books(reqwest::Client::new()).await, 429);
    assert_eq!(books(other.clone()).await, 200);
    // The held bodies end (as malformed JSON): the address's share was read and refused
    // 400; the rest had been refused 429 before any body byte was read.
    let mut codes = BTreeMap::<String, usize>::new();
    for mut conn in held {
        let _ = conn.write_all(&[b' '; 99]).await;
        let mut got = vec![0u8; 1024];
        let k = conn.read(&mut got).await.unwrap_or(0);
        let text = String::from_utf8_lossy(&got[..k]).to_string();
        *codes
            .entry(text.get(9..12).unwrap_or("none").to_string())
            .or_default() += 1;
    }
    assert_eq!(
        codes,
        BTreeMap::from([
            ("400".to_string(), PER_PEER),
            ("429".to_string(), MAX_IN_FLIGHT - PER_PEER)
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_comes_too_near_its_channel_expiry_is_not_sent_nor_charged() {
    let held = Held::new();
    let n = text_net(|_| held.model()).await;
    let client = n.client.clone();
    let asked =
        tokio::spawn(async move { client.ask(TEXT, b"teh cat", voucher(2, PRICE, TEXT)).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.starts() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the miner"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Meanwhile the chain reaches block 995: channel 2 (expiring at 1,000) is inside the
    // 5-block margin. A probe voucher too low to pay says when the gateway has seen it.
    *n.chain.height.lock().expect("lock") = 995;
    loop {
        let probe = n.client.ask(TEXT, b"teh cat", voucher(5, 0, TEXT)).await;
        let (status, code) = refused(probe);
        assert_eq!(status, 402, "{code}");
        if code == "channel_expiring" {
            break;
        }
        assert_eq!(code, "voucher_too_low");
        assert!(Instant::now() < deadline, "the gateway never saw block 995");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    held.release();
    let r = asked.await.expect("joins");
    assert_eq!(refused(r), (402, "channel_expiring".into()));
    assert_eq!(n.client.books(2).await.expect("books").charged_rao, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_for_no_reason_the_chain_shows_goes_again_whole_then_in_halves() {
    let n = net().await;
    let answer = |netuid: u16, id: u64, amount: u64| {
        let client = n.client.clone();
        async move {
            let input = if netuid == SPEECH {
                wav()
            } else {
                b"teh cat sat".to_vec()
            };
            client
                .ask(netuid, &input, voucher(id, amount, netuid))
                .await
                .expect("answered");
        }
    };
    let redeemed = |count: usize, height: u64| {
        let chain = Arc::clone(&n.chain);
        async move {
            *chain.height.lock().expect("lock") = height;
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let r = chain.redemptions.lock().expect("lock").len();
                if r >= count {
                    return chain.transactions.lock().expect("lock").clone();
                }
                assert!(Instant::now() < deadline, "{r} of {count} redeemed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    answer(SPEECH, 1, PRICE).await;
    answer(TEXT, 2, PRICE).await;
    answer(TEXT, 4, PRICE).await;
    // The node refuses the first transaction (it timed out): the three go again in one.
    *n.chain.refusals.lock().expect("lock") = 1;
    assert_eq!(redeemed(3, 20).await, vec![3]);
    // Refused twice: once whole, once again; then in halves (one voucher, then two).
    answer(SPEECH, 1, 2 * PRICE).await;
    answer(TEXT, 2, 2 * PRICE).await;
    answer(TEXT, 8, PRICE).await;
    *n.chain.refusals.lock().expect("lock") = 2;
    assert_eq!(redeemed(6, 40).await, vec![3, 1, 2]);
}
