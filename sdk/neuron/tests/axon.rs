//! The axon and the dendrite over real HTTP on loopback: a signed request from a permit
//! holder is answered and verified; every bad request gets its own 4xx with a reason and
//! never reaches the model (the calls are counted), a forged one before its body is read;
//! and the dendrite survives axons that
//! never answer, trickle bytes, hang up, send 10 MB, invalid UTF-8 or a bad signature.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use taochain_arena_msg::TaskKind;
use taochain_neuron::axon::{Axon, AxonConfig, Permits};
use taochain_neuron::dendrite::{Dendrite, Target};
use taochain_neuron::model::Model;
use taochain_neuron::wire::{
    ChallengeRequest, H_BODY, H_KEY, H_SIG, RequestAuth, TIME_WINDOW_MS, challenge_path, now_ms,
    response_digest,
};
use taochain_primitives::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CHAIN: &str = "tao-test";
const NETUID: u16 = 3;

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

fn addr(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

struct Running {
    url: String,
    miner: SigningKey,
    calls: Arc<AtomicUsize>,
}

async fn axon(per_validator: usize, model: Option<Model>) -> Running {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let model = model.unwrap_or_else(|| {
        Model::Func(Arc::new(move |input: &[u8]| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(format!("{} bytes", input.len()))
        }))
    });
    let mut config = AxonConfig::new(NETUID, CHAIN, TaskKind::TextCorrection);
    config.max_body = 4096;
    config.per_validator = per_validator;
    let miner = key(9);
    let ax = Axon::new(
        config,
        miner.clone(),
        model,
        Arc::new(Permits::fixed([addr(&key(1))])),
    );
    let at = ax
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    Running {
        url: format!("http://{at}"),
        miner,
        calls,
    }
}

/// Posts `body` to `path` with `headers`; the status and the text.
async fn post(
    url: &str,
    path: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.expect("sent");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

fn body(task: TaskKind) -> Vec<u8> {
    serde_json::to_vec(&ChallengeRequest::new(task, b"helo wrld")).expect("json")
}

fn signed(
    signer: &SigningKey,
    miner: &SigningKey,
    body: &[u8],
    nonce: u64,
    ts: u64,
) -> Vec<(&'static str, String)> {
    RequestAuth::sign(signer, CHAIN, NETUID, &addr(miner), body, nonce, ts)
        .headers()
        .to_vec()
}

/// Replaces header `name`'s value.
fn set(headers: &mut [(&'static str, String)], name: &str, value: String) {
    let h = headers
        .iter_mut()
        .find(|(k, _)| *k == name)
        .expect("header present");
    h.1 = value;
}

/// A bad request: name, path, headers, body, expected status, expected reason.
type Case = (
    &'static str,
    String,
    Vec<(&'static str, String)>,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn every_bad_request_gets_its_4xx_and_never_reaches_the_model() {
    let ax = axon(4, None).await;
    let path = challenge_path(NETUID);
    let (validator, stranger) = (key(1), key(2));
    let good = body(TaskKind::TextCorrection);

    // The one good request: answered.
    let h = signed(&validator, &ax.miner, &good, 1, now_ms());
    let (code, text) = post(&ax.url, &path, &h, good.clone()).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(ax.calls.load(Ordering::SeqCst), 1);

    let mut forged = signed(&validator, &ax.miner, &good, 2, now_ms());
    set(&mut forged, H_SIG, hex::encode([7u8; 64]));
    let mut empty_sig = signed(&validator, &ax.miner, &good, 3, now_ms());
    set(&mut empty_sig, H_SIG, String::new());
    // Signed for another body, the body's hash header then swapped for the sent body's.
    let mut swapped_hash = signed(&validator, &ax.miner, b"other", 13, now_ms());
    set(
        &mut swapped_hash,
        H_BODY,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&good)),
    );
    let oversized = vec![b'x'; 5000];
    let malformed = b"{not json".to_vec();
    let wrong_task = body(TaskKind::SpeechToText);
    let other_miner = key(8);
    let cases: Vec<Case> = vec![
        (
            "unsigned",
            path.clone(),
            vec![],
            good.clone(),
            401,
            "unsigned",
        ),
        (
            "empty signature",
            path.clone(),
            empty_sig,
            good.clone(),
            401,
            "unsigned",
        ),
        (
            "forged signature",
            path.clone(),
            forged,
            good.clone(),
            401,
            "bad signature",
        ),
        (
            "body changed after signing",
            path.clone(),
            signed(&validator, &ax.miner, b"other", 4, now_ms()),
            good.clone(),
            401,
            "bad signature",
        ),
        (
            "body hash header changed after signing",
            path.clone(),
            swapped_hash,
            good.clone(),
            401,
            "bad signature",
        ),
        (
            "addressed to another miner",
            path.clone(),
            signed(&validator, &other_miner, &good, 5, now_ms()),
            good.clone(),
            401,
            "bad signature",
        ),
        (
            "non-validator hotkey",
            path.clone(),
            signed(&stranger, &ax.miner, &good, 6, now_ms()),
            good.clone(),
            403,
            "validator permit",
        ),
        (
            "replayed nonce",
            path.clone(),
            signed(&validator, &ax.miner, &good, 1, now_ms()),
            good.clone(),
            409,
            "already used",
        ),
        (
            "stale timestamp",
            path.clone(),
            signed(
                &validator,
                &ax.miner,
                &good,
                7,
                now_ms() - 2 * TIME_WINDOW_MS,
            ),
            good.clone(),
            401,
            "stale",
        ),
        (
            "timestamp from the future",
            path.clone(),
            signed(
                &validator,
                &ax.miner,
                &good,
                8,
                now_ms() + 2 * TIME_WINDOW_MS,
            ),
            good.clone(),
            401,
            "stale",
        ),
        (
            "oversized body",
            path.clone(),
            signed(&validator, &ax.miner, &oversized, 9, now_ms()),
            oversized.clone(),
            413,
            "body over",
        ),
        (
            "malformed body",
            path.clone(),
            signed(&validator, &ax.miner, &malformed, 10, now_ms()),
            malformed.clone(),
            400,
            "malformed",
        ),
        (
            "another task",
            path.clone(),
            signed(&validator, &ax.miner, &wrong_task, 11, now_ms()),
            wrong_task.clone(),
            400,
            "task",
        ),
        (
            "wrong netuid",
            challenge_path(NETUID + 1),
            signed(&validator, &ax.miner, &good, 12, now_ms()),
            good.clone(),
            404,
            "serves netuid",
        ),
    ];
    for (name, p, headers, b, want, reason) in cases {
        let (code, text) = post(&ax.url, &p, &headers, b).await;
        assert_eq!(code, want, "{name}: {text}");
        assert!(text.contains(reason), "{name}: `{text}` lacks `{reason}`");
        assert_eq!(text.trim().lines().count(), 1, "{name}: one line");
    }
    assert_eq!(
        ax.calls.load(Ordering::SeqCst),
        1,
        "no refused request reached the model"
    );
}

#[tokio::test]
async fn a_forged_request_is_refused_on_its_headers_while_its_body_never_comes() {
    let ax = axon(4, None).await;
    let good = body(TaskKind::TextCorrection);
    // A validator's key (public) claimed, the signature forged, a tenth of the body sent
    // and the rest held back: an axon that read the body first would hold the connection
    // until its body timeout (408); this one answers from the headers.
    let mut h = signed(&key(1), &ax.miner, &good, 1, now_ms());
    set(&mut h, H_SIG, hex::encode([7u8; 64]));
    let mut head = format!(
        "POST {} HTTP/1.1\r\nhost: axon\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        challenge_path(NETUID),
        good.len()
    );
    for (k, v) in &h {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let at = ax.url.strip_prefix("http://").expect("url");
    let mut conn = tokio::net::TcpStream::connect(at).await.expect("connects");
    conn.write_all(head.as_bytes()).await.expect("head");
    conn.write_all(&good[..good.len() / 10])
        .await
        .expect("part");
    let mut got = vec![0u8; 4096];
    let n = conn.read(&mut got).await.expect("reply");
    let text = String::from_utf8_lossy(&got[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("bad signature"), "{text}");
    assert_eq!(ax.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_validator_over_its_concurrency_gets_429() {
    let slow = Model::Exe {
        program: "sh".into(),
        args: vec!["-c".into(), "sleep 1; echo slow".into(), "model".into()],
    };
    let ax = axon(1, Some(slow)).await;
    let path = challenge_path(NETUID);
    let b = body(TaskKind::TextCorrection);
    let h1 = signed(&key(1), &ax.miner, &b, 1, now_ms());
    let first = post(&ax.url, &path, &h1, b.clone());
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        post(
            &ax.url,
            &path,
            &signed(&key(1), &ax.miner, &b, 2, now_ms()),
            b.clone(),
        )
        .await
    };
    let ((c1, t1), (c2, t2)) = tokio::join!(first, second);
    assert_eq!(c1, 200, "{t1}");
    assert_eq!(c2, 429, "{t2}");
    assert!(t2.contains("in flight"), "{t2}");
}

#[tokio::test]
async fn the_dendrite_verifies_answers_and_survives_hostile_axons() {
    let good = axon(4, None).await;
    let miner = good.miner.clone();
    let hostile = |kind: &'static str| {
        let miner = miner.clone();
        async move { hostile_axon(kind, miner).await }
    };
    let mut targets = vec![Target {
        uid: 0,
        hotkey: addr(&good.miner),
        endpoint: good.url.clone(),
    }];
    let kinds = [
        "silent",
        "trickle",
        "hangup",
        "huge",
        "invalid-utf8",
        "bad-signature",
        "other-key",
    ];
    for (i, kind) in kinds.iter().enumerate() {
        let at = hostile(kind).await;
        targets.push(Target {
            uid: i as u16 + 1,
            hotkey: addr(&miner),
            endpoint: format!("http://{at}"),
        });
    }
    targets.push(Target {
        uid: 99,
        hotkey: addr(&miner),
        endpoint: "http://127.0.0.1:1".into(),
    });
    let d = Dendrite::new(key(1), CHAIN, NETUID).expect("dendrite");
    let timeout = Duration::from_millis(1500);
    let replies = tokio::time::timeout(
        Duration::from_secs(20),
        d.query_all(TaskKind::TextCorrection, b"helo", &targets, timeout),
    )
    .await
    .expect("the round ends even when axons misbehave");
    assert_eq!(replies.len(), targets.len());
    assert_eq!(replies[0].answer.as_deref(), Ok("4 bytes"));
    let expect = [
        "no answer within",
        "no answer within",
        "",
        "over",
        "UTF-8",
        "bad answer signature",
        "another hotkey",
        "request failed",
    ];
    for (r, want) in replies[1..].iter().zip(expect) {
        let e = r.answer.as_ref().expect_err("refused");
        assert!(e.contains(want), "uid {}: `{e}` lacks `{want}`", r.uid);
    }
}

/// A raw TCP server that misbehaves as `kind`; its address.
async fn hostile_axon(kind: &'static str, miner: SigningKey) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let at = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let miner = miner.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let nonce: u64 = request
                    .lines()
                    .find_map(|l| l.strip_prefix("x-tao-nonce: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let respond = |body: &[u8], key: &SigningKey, sign_over: &[u8]| {
                    let digest =
                        response_digest(CHAIN, NETUID, &addr(&self::key(1)), nonce, sign_over);
                    let mut head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n{H_KEY}: {}\r\n{H_SIG}: {}\r\n\r\n",
                        body.len(),
                        hex::encode(key.verifying_key().to_bytes()),
                        hex::encode(key.sign(&digest).to_bytes())
                    )
                    .into_bytes();
                    head.extend_from_slice(body);
                    head
                };
                match kind {
                    "silent" => tokio::time::sleep(Duration::from_secs(30)).await,
                    "trickle" => {
                        let body = br#"{"answer":"slow"}"#;
                        for b in respond(body, &miner, body) {
                            if sock.write_all(&[b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    "hangup" => drop(sock),
                    "huge" => {
                        let body = vec![b'a'; 10 << 20];
                        let _ = sock.write_all(&respond(&body, &miner, &body)).await;
                    }
                    "invalid-utf8" => {
                        let body = [0xff, 0xfe, 0xfd];
                        let _ = sock.write_all(&respond(&body, &miner, &body)).await;
                    }
                    "bad-signature" => {
                        let body = br#"{"answer":"forged"}"#;
                        let _ = sock
                            .write_all(&respond(body, &miner, b"something else"))
                            .await;
                    }
                    _ => {
                        let body = br#"{"answer":"impostor"}"#;
                        let _ = sock.write_all(&respond(body, &key(5), body)).await;
                    }
                }
            });
        }
    });
    at
}
