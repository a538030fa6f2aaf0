//! A `nats-server` in operator mode (decentralized JWT authentication), so a NATS credentials
//! file can be tested for real: an operator, an account with JetStream and a user, each an nkey,
//! with the JWTs the server and the creds file hold, signed the way the `nats-io/jwt` v2 library
//! signs them (header `{"typ":"JWT","alg":"ed25519-nkey"}`, base64url without padding, an
//! Ed25519 signature over `header.claims` by the issuer's nkey).
use std::path::{Path, PathBuf};

use base64::Engine as _;
use nkeys::KeyPair;
use serde_json::{json, Value};

use super::nats::NatsServer;

/// A JWT of `claims` (given `sub`, `name` and `nats`), issued and signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    // The server does not check the id; the library makes it a hash, a unique name does here.
    let claims = json!({
        "jti": format!("{name}-{subject}"),
        "iat": iat,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let to_sign = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let signature = issuer.sign(to_sign.as_bytes()).expect("nkey signs");
    format!("{to_sign}.{}", b64(&signature))
}

fn unlimited_account() -> Value {
    json!({
        "type": "account",
        "version": 2,
        "limits": {
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1
        }
    })
}

/// Starts a server that only admits users of its one account, and writes that account's user
/// credentials to `dir/user.creds`. Returns the server (its test client uses the same creds) and
/// the file's path; `None` when there is no server binary (outside CI).
pub fn start_operator_mode(dir: &Path) -> Option<(NatsServer, PathBuf)> {
    let operator = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let system = KeyPair::new_account();
    let user = KeyPair::new_user();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "sfhooks-test-operator",
        json!({"type": "operator", "version": 2, "system_account": system.public_key()}),
    );
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "SFHOOKS",
        unlimited_account(),
    );
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        json!({"type": "account", "version": 2, "limits": {"conn": -1, "subs": -1, "data": -1, "payload": -1}}),
    );
    let user_jwt = jwt(
        &account,
        &user.public_key(),
        "sfhooks-listener",
        json!({"type": "user", "version": 2, "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}),
    );
    let conf = dir.join("operator.conf");
    std::fs::write(
        &conf,
        format!(
            "operator: {operator_jwt}\nsystem_account: {sys}\nresolver: MEMORY\nresolver_preload: {{\n  {acct}: {account_jwt}\n  {sys}: {system_jwt}\n}}\n",
            sys = system.public_key(),
            acct = account.public_key(),
        ),
    )
    .expect("write operator.conf");
    let creds = format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        user.seed().expect("user seed")
    );
    let creds_path = dir.join("user.creds");
    std::fs::write(&creds_path, &creds).expect("write user.creds");
    let server = NatsServer::start_with(&["-c", conf.to_str().expect("utf-8 path")])?
        .with_client_creds(creds);
    Some((server, creds_path))
}
