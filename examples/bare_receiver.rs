//! The machine's ceiling for `benches/listen-load.sh`: the least a Standard Webhooks receiver on
//! hyper can do per delivery (read the body, HMAC-SHA256 over `id.timestamp.body`, compare with
//! the `v1,` signature, answer 200), with none of sfhooks' checks, parsing, dedupe or printing.
//! `TARGETS=bare` in the load script runs it next to `sfhooks listen`, so the gap between the two
//! is what sfhooks itself costs.
//!
//! Run: `cargo run --release --example bare_receiver` with `PORT` and `SFHOOKS_LOAD_SECRET` set.
use std::convert::Infallible;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn main() {
    let secret = std::env::var("SFHOOKS_LOAD_SECRET").expect("SFHOOKS_LOAD_SECRET");
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("a whsec_ secret");
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mac = HmacSha256::new_from_slice(&key).expect("any key length");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        eprintln!(
            "listening on http://{}",
            listener.local_addr().expect("addr")
        );
        loop {
            // SIGINT ends it: a background job of a script starts with SIGINT ignored, so the
            // default action cannot be relied on.
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = tokio::signal::ctrl_c() => return,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let mac = mac.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let mac = mac.clone();
                    async move { Ok::<_, Infallible>(answer(mac, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

async fn answer(mut mac: HmacSha256, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).map(|v| v.as_bytes().to_vec());
    let (Some(id), Some(ts), Some(sig)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return reply(StatusCode::BAD_REQUEST);
    };
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST);
    };
    mac.update(&id);
    mac.update(b".");
    mac.update(&ts);
    mac.update(b".");
    mac.update(&body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let ok = sig
        .split(|b| *b == b' ')
        .any(|s| s.strip_prefix(b"v1,") == Some(expected.as_bytes()));
    reply(if ok {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    })
}

fn reply(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok\n")));
    *response.status_mut() = status;
    response
}
