//! `sfhooks listen --forward-to tls://` against a real `nats-server` serving TLS with a
//! certificate made for the test by the `openssl` command line (a test CA and a server
//! certificate for 127.0.0.1): the delivery lands in the stream over TLS when the CA is trusted
//! (`SSL_CERT_FILE`, which the NATS client's root store honours), and a listener that does not
//! trust it refuses to start with a clear error instead of forwarding in the clear.
use std::path::Path;
use std::process::Command;

use crate::support::nats::NatsServer;
use crate::support::receiver::*;
use crate::support::{code, listen_any_port, run, stderr};

const STREAM: &str = "SFHOOKS_TLS";

/// Runs `openssl` with `args` in `dir`; `false` (outside CI) when there is no openssl.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
        Err(err) => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "no openssl under CI: {err}"
            );
            eprintln!("skipped: no openssl ({err})");
            false
        }
    }
}

/// A test CA (`ca.pem`) and a server certificate for 127.0.0.1 it signed (`server.pem`,
/// `server.key`), in `dir`.
fn certificates(dir: &Path) -> bool {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write extensions");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=sfhooks test CA",
            ],
        ]
        .concat(),
    ) && openssl(
        dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    ) && openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    )
}

/// A server offering TLS on its client port; plain clients are still let in so the test can read
/// the stream with its own client, but sfhooks asks for TLS with `tls://` and gets it.
fn tls_server(dir: &Path) -> Option<NatsServer> {
    let conf = dir.join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n}}\nallow_non_tls: true\n",
            dir.join("server.pem"),
            dir.join("server.key")
        ),
    )
    .expect("write nats.conf");
    NatsServer::start_with(&["-c", conf.to_str().expect("utf-8 path")])
}

#[test]
fn a_delivery_reaches_the_stream_over_tls_and_an_untrusted_server_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    if !certificates(dir.path()) {
        return;
    }
    let Some(nats) = tls_server(dir.path()) else {
        return;
    };
    let url = nats.url().replace("nats://", "tls://");
    let ca = dir.path().join("ca.pem");
    let listener = Listener::start_with_env(
        SPEC_SECRET,
        &[
            "--forward-to",
            &url,
            "--nats-stream",
            STREAM,
            "--nats-ack-timeout",
            "2",
        ],
        &[("SSL_CERT_FILE", ca.to_str().expect("utf-8 path"))],
    );
    let body = envelope_body();
    let sent = signed_headers(SPEC_SECRET, "msg_tls_1", now(), body.as_bytes());
    let reply = post(listener.addr, &sent, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    let messages = nats.messages(STREAM);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].payload, body.as_bytes());
    assert_eq!(messages[0].msg_id.as_deref(), Some("msg_tls_1"));
    drop(listener);

    // Without the CA the certificate is not trusted: no start, exit 1, the URL and the cause
    // named, and nothing sent in the clear.
    let empty = dir.path().join("no-roots.pem");
    std::fs::write(&empty, "").expect("write empty roots");
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &url, "--nats-stream", STREAM])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET)
        .env("SSL_CERT_FILE", &empty));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains(&url), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("TLS failed") && stderr(&out).contains("SSL_CERT_FILE"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        nats.messages(STREAM).len(),
        1,
        "nothing more reached the stream"
    );
}
