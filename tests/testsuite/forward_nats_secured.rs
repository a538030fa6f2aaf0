//! `sfhooks listen --forward-to` into a real `nats-server` that is secured:
//! - over TLS, with a certificate made for the test by the `openssl` command line (a test CA and a
//!   server certificate for 127.0.0.1): the delivery lands in the stream when the CA is trusted
//!   (`SSL_CERT_FILE`, which the NATS client's root store honours), and a listener that does not
//!   trust it refuses to start with a clear error instead of forwarding in the clear;
//! - in operator mode, where only a NATS credentials file (a user JWT and its nkey seed) gets in:
//!   `--nats-creds` works, its seed reaches no log, and without it the listener exits 3.
use std::path::Path;
use std::process::Command;

use crate::support::nats::{forward_flags, NatsServer};
use crate::support::nats_creds::start_operator_mode;
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
        &forward_flags(&url, STREAM),
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

#[test]
fn a_credentials_file_signs_in_and_its_seed_reaches_no_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((nats, creds)) = start_operator_mode(dir.path()) else {
        return;
    };
    let text = std::fs::read_to_string(&creds).expect("creds file");
    let seed = text
        .lines()
        .skip_while(|l| !l.contains("BEGIN USER NKEY SEED"))
        .nth(1)
        .expect("a seed line")
        .to_owned();
    let user_jwt = text.lines().nth(1).expect("a JWT line").to_owned();
    let url = nats.url();
    let creds_arg = creds.to_str().expect("utf-8 path");
    let listener = Listener::start(
        SPEC_SECRET,
        &[
            "--forward-to",
            &url,
            "--nats-creds",
            creds_arg,
            "--nats-stream",
            "SFHOOKS_CREDS",
        ],
    );
    let body = envelope_body();
    let sent = signed_headers(SPEC_SECRET, "msg_creds_1", now(), body.as_bytes());
    let reply = post(listener.addr, &sent, body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    let messages = nats.messages("SFHOOKS_CREDS");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].msg_id.as_deref(), Some("msg_creds_1"));
    let logged = listener.startup.join("\n");
    assert!(
        !logged.contains(&seed) && !logged.contains(&user_jwt),
        "{logged}"
    );
    drop(listener);

    // Without the file the server refuses the connection: exit 3, and the listener says so.
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &url, "--nats-stream", "SFHOOKS_CREDS"])
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused the credentials"),
        "{}",
        stderr(&out)
    );
    // A damaged file is refused before connecting, naming the file and not its content.
    let broken = dir.path().join("broken.creds");
    std::fs::write(&broken, text.replace(&seed, "SUNOTASEED")).expect("write broken creds");
    let out = run(listen_any_port(dir.path())
        .args(["--forward-to", &url, "--nats-creds"])
        .arg(&broken)
        .env("SFHOOKS_TEST_SECRET", SPEC_SECRET));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot use NATS credentials file")
            && stderr(&out).contains("broken.creds"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&user_jwt), "{}", stderr(&out));
}
