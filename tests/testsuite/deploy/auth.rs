//! `sfhooks deploy` sign-in: access token, refresh token (SFDX auth URL), JWT bearer, session
//! renewal, and the refusals (plain http, untrusted keys, missing flags).
use super::*;

#[test]
fn an_expired_session_is_renewed_with_the_refresh_token() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::ExpireSession,
        Poll::Status("Succeeded"),
    ]));
    let mut cmd = w.deploy_with_refresh_token(&["--sandbox"]);
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let tokens = w.org.received_for("token");
    assert_eq!(tokens.len(), 2, "the first login and one renewal");
    for t in &tokens {
        assert_eq!(t.form_field("grant_type"), Some("refresh_token"));
        assert_eq!(t.form_field("client_id"), Some(fake_org::CLIENT_ID));
        assert_eq!(t.form_field("client_secret"), Some(fake_org::CLIENT_SECRET));
        assert_eq!(t.form_field("refresh_token"), Some(fake_org::REFRESH_TOKEN));
    }
    let sessions = poll_sessions(&w.org);
    assert_eq!(
        sessions.len(),
        3,
        "InProgress, expired, then the same poll again: Succeeded"
    );
    assert_eq!(sessions[0], sessions[1]);
    assert_ne!(
        sessions[1], sessions[2],
        "the poll after the fault uses the new session"
    );
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    for secret in [
        fake_org::REFRESH_TOKEN,
        fake_org::CLIENT_SECRET,
        "AQ.session",
    ] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
}

#[test]
fn an_expired_access_token_is_an_auth_error_with_the_way_out() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::ExpireSession,
    ]));
    let out = run(&mut w.deploy_with_token(&["--sandbox"]));
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("error: the access token expired or was revoked"),
        "{err}"
    );
    assert!(err.contains("INVALID_SESSION_ID"), "{err}");
    assert!(
        err.contains("sf org display") && err.contains("sfhooks deploy --report 0Af"),
        "{err}"
    );
}

#[test]
fn a_rejected_refresh_token_is_an_auth_error() {
    let w = World::new();
    let mut cmd = w.deploy(&["--sandbox", "--zip"]);
    cmd.arg(&w.zip)
        .arg("--sfdx-auth-url")
        .arg(w.org.sfdx_auth_url("5Aep861revoked.token"));
    let out = run(&mut cmd);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("refresh-token flow (SFDX auth URL) failed: Salesforce answered invalid_grant: expired access/refresh token"),
        "{err}"
    );
    assert!(
        !err.contains("5Aep861revoked") && !err.contains(fake_org::CLIENT_SECRET),
        "{err}"
    );
    assert!(w.org.received_for("deploy").is_empty());
}

#[test]
fn jwt_bearer_flow_for_a_sandbox() {
    let w = World::new();
    w.org.script(Script::succeeds());
    let key = w.key("jwt-key.pem");
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 0);
    let claims = jwt_claims(&w.org);
    assert_eq!(claims["iss"], fake_org::CLIENT_ID);
    assert_eq!(claims["sub"], fake_org::USERNAME);
    assert_eq!(claims["aud"], "https://test.salesforce.com");
    assert!(claims["exp"].is_u64());
}

#[test]
fn jwt_bearer_flow_for_production_uses_the_login_audience() {
    let w = World::with(
        FakeOrg::start_with_audience("https://login.salesforce.com"),
        &sample_zip(),
    );
    w.org.script(Script::succeeds().tests(1));
    // The PKCS#1 form of the same key works too.
    let key = w.key("jwt-key-pkcs1.pem");
    let out = run(w.deploy(&["--production"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 0);
    assert_eq!(jwt_claims(&w.org)["aud"], "https://login.salesforce.com");

    // The same org refuses a sandbox assertion: the audience is checked.
    let w = World::with(
        FakeOrg::start_with_audience("https://login.salesforce.com"),
        &sample_zip(),
    );
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains(
            "JWT bearer flow failed: Salesforce answered invalid_grant: audience is invalid"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn jwt_signed_with_an_untrusted_key_is_an_auth_error() {
    let w = World::new();
    let key = w.key("other-key.pem");
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("JWT bearer flow failed: Salesforce answered invalid_grant: invalid assertion signature"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received_for("deploy").is_empty());
}

#[test]
fn incomplete_jwt_flags_and_missing_credentials_are_usage_errors() {
    let w = World::new();
    let mut cmd = w.deploy(&["--sandbox", "--client-id", fake_org::CLIENT_ID, "--zip"]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("missing --username, --jwt-key-file"),
        "{}",
        stderr(&out)
    );

    let mut cmd = w.deploy(&["--sandbox", "--zip"]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("error: no Salesforce credentials"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: pass --access-token"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn plain_http_is_refused_for_hosts_other_than_loopback() {
    let w = World::new();
    let mut cmd = w.deploy(&[
        "--sandbox",
        "--access-token",
        "00Dx!token",
        "--instance-url",
        "http://acme.my.salesforce.com",
        "--zip",
    ]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("instance URL http://acme.my.salesforce.com must use https"),
        "{}",
        stderr(&out)
    );

    let mut cmd = w.deploy(&[
        "--sandbox",
        "--sfdx-auth-url",
        "force://id:secret:token@http://acme.my.salesforce.com",
        "--zip",
    ]);
    cmd.arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("must use https"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("id:secret:token"),
        "{}",
        stderr(&out)
    );

    let key = w.key("jwt-key.pem");
    let mut cmd = w.deploy(&[
        "--sandbox",
        "--client-id",
        fake_org::CLIENT_ID,
        "--username",
        fake_org::USERNAME,
        "--login-url",
        "http://login.example.com",
        "--jwt-key-file",
    ]);
    cmd.arg(&key).arg("--zip").arg(&w.zip);
    let out = run(&mut cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("login URL http://login.example.com must use https"),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn the_first_applicable_credentials_win() {
    // An access token beats an SFDX auth URL and the JWT flags: no token request at all.
    let w = World::new();
    w.org.script(Script::succeeds());
    let key = w.key("other-key.pem");
    let mut cmd = w.deploy(&["--sandbox"]);
    cmd.args(jwt_args(&w, &key))
        .env("SF_ACCESS_TOKEN", fake_org::ACCESS_TOKEN)
        .env("SF_INSTANCE_URL", w.org.url())
        .env("SFDX_AUTH_URL", w.org.sfdx_auth_url("5Aep861revoked.token"));
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    assert!(w.org.received_for("token").is_empty());
    let polls = w.org.received_for("checkDeployStatus");
    assert!(polls
        .iter()
        .all(|p| p.session_id.as_deref() == Some(fake_org::ACCESS_TOKEN)));

    // An SFDX auth URL beats the JWT flags (whose key the org would refuse).
    let w = World::new();
    w.org.script(Script::succeeds());
    let mut cmd = w.deploy(&["--sandbox"]);
    cmd.args(jwt_args(&w, &key)).env(
        "SFDX_AUTH_URL",
        w.org.sfdx_auth_url(fake_org::REFRESH_TOKEN),
    );
    let out = run(&mut cmd);
    assert_exit(&out, 0);
    let tokens = w.org.received_for("token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].form_field("grant_type"), Some("refresh_token"));
    assert_eq!(tokens[0].form_field("assertion"), None);
}

#[test]
fn an_unreachable_token_endpoint_says_which_flow_failed() {
    let w = World::new();
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut cmd = w.deploy(&["--sandbox", "--zip"]);
    cmd.arg(&w.zip).env(
        "SFDX_AUTH_URL",
        format!(
            "force://{}:{}:{}@http://{closed}",
            fake_org::CLIENT_ID,
            fake_org::CLIENT_SECRET,
            fake_org::REFRESH_TOKEN
        ),
    );
    let out = run(&mut cmd);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains(&format!(
            "authentication with Salesforce failed: refresh-token flow (SFDX auth URL) failed: \
             cannot reach http://{closed}/services/oauth2/token"
        )),
        "{}",
        stderr(&out)
    );
    assert!(w.org.received().is_empty());
}

#[test]
fn an_expired_session_is_renewed_with_the_jwt_flow() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("Pending"),
        Poll::ExpireSession,
        Poll::Status("Succeeded"),
    ]));
    let key = w.key("jwt-key.pem");
    let out = run(w.deploy(&["--sandbox"]).args(jwt_args(&w, &key)));
    assert_exit(&out, 0);
    let tokens = w.org.received_for("token");
    assert_eq!(tokens.len(), 2, "the first login and one renewal");
    assert!(
        tokens
            .iter()
            .all(|t| t.form_field("grant_type")
                == Some("urn:ietf:params:oauth:grant-type:jwt-bearer"))
    );
    let sessions = poll_sessions(&w.org);
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0], sessions[1]);
    assert_ne!(sessions[1], sessions[2]);
}

#[test]
fn a_session_refused_again_after_renewal_is_an_auth_error_not_a_loop() {
    let w = World::new();
    w.org.script(Script::polls(&[
        Poll::Status("InProgress"),
        Poll::ExpireSession,
        Poll::ExpireSession,
    ]));
    let mut cmd = w.deploy_with_refresh_token(&["--sandbox"]);
    let out = run(&mut cmd);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains(
            "Salesforce refused the session that the refresh-token flow (SFDX auth URL) just issued"
        ),
        "{err}"
    );
    assert!(err.contains("sfhooks deploy --report 0Af"), "{err}");
    assert_eq!(
        w.org.received_for("token").len(),
        2,
        "renewed once, not again"
    );
    assert_eq!(w.org.received_for("checkDeployStatus").len(), 3);
}
