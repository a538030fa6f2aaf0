//! Verification speed: a Standard Webhooks verification at 64 B, 1 KB and 16 KB bodies,
//! in bytes per second, to set next to `openssl speed -hmac sha256` on the same machine.
//!
//! Run: `cargo bench --bench verify -- --warm-up-time 1 --measurement-time 3`. The `hmac-rekeyed`
//! group keys a fresh HMAC for every message, to show what the pre-keyed state saves.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sfhooks::webhook::{
    sign, sign_elements, ElementsKey, ElementsVerifier, Headers, Secret, Verifier,
};
use sha2::Sha256;

const SIZES: [usize; 3] = [64, 1024, 16 * 1024];
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_2LhSfTd5nmLFUVnoGbV6ryqkvC8";
const TS: i64 = 1_700_000_000;

fn body(len: usize) -> Vec<u8> {
    // JSON-ish printable bytes; the content does not matter to SHA-256, only the length.
    (0..len)
        .map(|i| b"{\"a\":1,\"b\":\"xyz\"}"[i % 17])
        .collect()
}

fn standard(c: &mut Criterion) {
    let secret = Secret::parse(SECRET).expect("bench secret is valid");
    let verifier = Verifier::new(vec![secret.clone()]).expect("one secret");
    let mut group = c.benchmark_group("verify-standard");
    for len in SIZES {
        let body = body(len);
        let signature = sign(&secret, ID, TS, &body);
        let ts = TS.to_string();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &body, |b, body| {
            b.iter(|| {
                let headers = Headers {
                    id: Some(ID.as_bytes()),
                    timestamp: Some(ts.as_bytes()),
                    signature: Some(signature.as_bytes()),
                };
                verifier
                    .verify(black_box(&headers), black_box(body), TS)
                    .expect("valid")
            })
        });
    }
    group.finish();
}

fn elements(c: &mut Criterion) {
    let key = ElementsKey::new("MySecretEventSignatureKey").expect("non-empty key");
    let verifier = ElementsVerifier::new(vec![key.clone()]).expect("one key");
    let mut group = c.benchmark_group("verify-elements");
    for len in SIZES {
        let body = body(len);
        let signature = sign_elements(&key, &body);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &body, |b, body| {
            b.iter(|| {
                verifier
                    .verify(black_box(Some(signature.as_bytes())), black_box(body))
                    .expect("valid")
            })
        });
    }
    group.finish();
}

fn hmac_rekeyed(c: &mut Criterion) {
    let key = [7u8; 32];
    let mut group = c.benchmark_group("hmac-rekeyed");
    for len in SIZES {
        let body = body(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &body, |b, body| {
            b.iter(|| {
                let mut mac =
                    <Hmac<Sha256> as Mac>::new_from_slice(black_box(&key)).expect("any key length");
                mac.update(black_box(body));
                mac.finalize().into_bytes()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, standard, elements, hmac_rekeyed);
criterion_main!(benches);
