//! The JWT bearer flow's half that is not HTTP: reading the connected app's RSA key and
//! signing the RS256 assertion.
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::PrivateKeyDer;

use super::AuthError;

/// How long a JWT assertion is valid. Salesforce wants `exp` a few minutes ahead at most
/// ("OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration": within 3 minutes).
const JWT_LIFETIME_SECS: u64 = 180;

/// Reads an unencrypted RSA private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`): guides for the JWT flow produce either, depending on the OpenSSL
/// version.
pub fn read_rsa_key(path: &Path) -> Result<RsaKeyPair, AuthError> {
    let pem = std::fs::read(path).map_err(|source| AuthError::KeyFile {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: &str| AuthError::BadKey {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if contains(&pem, b"ENCRYPTED") {
        return Err(bad(
            "it is encrypted; write a decrypted copy with `openssl pkey -in KEY -out key.pem` \
             and keep it as secret as the original",
        ));
    }
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| bad(&format!("no PEM private key found ({e})")))?;
    let parsed = match &der {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err(bad("it is not an RSA key; the JWT bearer flow needs RS256")),
    };
    parsed.map_err(|e| bad(&format!("ring refused it ({e})")))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Builds the signed assertion: header `{"alg":"RS256"}`, claims iss, sub, aud, exp.
pub(super) fn jwt_assertion(
    key: &RsaKeyPair,
    client_id: &str,
    username: &str,
    audience: &str,
) -> Result<String, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": username,
        "aud": audience,
        "exp": now + JWT_LIFETIME_SECS,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| AuthError::Signing)?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::salesforce::auth::SANDBOX_LOGIN_URL;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/deploy")
            .join(name)
    }
    #[test]
    fn pkcs8_and_pkcs1_keys_load_to_the_same_key() {
        let pkcs8 = read_rsa_key(&fixture("jwt-key.pem")).unwrap();
        let pkcs1 = read_rsa_key(&fixture("jwt-key-pkcs1.pem")).unwrap();
        assert_eq!(pkcs8.public().as_ref(), pkcs1.public().as_ref());
    }

    #[test]
    fn a_public_key_or_missing_file_is_a_clear_error() {
        let err = read_rsa_key(&fixture("jwt-key.pub.pem")).unwrap_err();
        assert!(matches!(err, AuthError::BadKey { .. }), "{err}");
        let err = read_rsa_key(&fixture("no-such-key.pem")).unwrap_err();
        assert!(matches!(err, AuthError::KeyFile { .. }), "{err}");
    }

    #[test]
    fn jwt_assertion_has_the_claims_salesforce_reads() {
        let key = read_rsa_key(&fixture("jwt-key.pem")).unwrap();
        let jwt = jwt_assertion(&key, "client-1", "a@b.example", SANDBOX_LOGIN_URL).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "RS256"}));
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "a@b.example");
        assert_eq!(claims["aud"], "https://test.salesforce.com");
        assert!(claims["exp"].as_u64().unwrap() > 1_700_000_000);
        // The signature verifies with the public half.
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            key.public().as_ref(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(
                signed.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }
}
