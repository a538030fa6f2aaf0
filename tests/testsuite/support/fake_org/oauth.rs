//! The fake org's OAuth token endpoint: refresh token and JWT bearer grants.
use super::*;

impl State {
    pub(super) fn token(&mut self, form: &[(String, String)]) -> Reply {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let result = match field("grant_type") {
            Some("refresh_token") => {
                if field("client_id") != Some(CLIENT_ID) {
                    Err(("invalid_client_id", "client identifier invalid"))
                } else if field("client_secret") != Some(CLIENT_SECRET) {
                    Err(("invalid_client", "invalid client credentials"))
                } else if field("refresh_token") != Some(REFRESH_TOKEN) {
                    Err(("invalid_grant", "expired access/refresh token"))
                } else {
                    Ok(())
                }
            }
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                self.check_jwt(field("assertion").unwrap_or(""))
            }
            _ => Err(("unsupported_grant_type", "grant type not supported")),
        };
        match result {
            Ok(()) => {
                let token = self.new_session();
                let body = serde_json::json!({
                    "access_token": token,
                    "signature": "ZmFrZSBzaWduYXR1cmU=",
                    "scope": "api",
                    "instance_url": self.base_url,
                    "id": format!("{}/id/00Dfake0000000001/005fake00000000001", self.base_url),
                    "token_type": "Bearer",
                    "issued_at": "1735689600000",
                });
                Reply::Answer(StatusCode::OK, "application/json", body.to_string())
            }
            Err((error, description)) => Reply::Answer(
                StatusCode::BAD_REQUEST,
                "application/json",
                serde_json::json!({"error": error, "error_description": description}).to_string(),
            ),
        }
    }

    /// Verifies an RS256 assertion against `fixtures/deploy/jwt-key.pub.pem`, then its claims.
    pub(super) fn check_jwt(&self, assertion: &str) -> Result<(), (&'static str, &'static str)> {
        let invalid = ("invalid_grant", "invalid assertion");
        let parts: Vec<&str> = assertion.split('.').collect();
        let [header, claims, signature] = parts.as_slice() else {
            return Err(invalid);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid);
        let header: serde_json::Value =
            serde_json::from_slice(&decode(header)?).map_err(|_| invalid)?;
        if header["alg"] != "RS256" {
            return Err(("invalid_grant", "invalid assertion: alg must be RS256"));
        }
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key,
        )
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &decode(signature)?,
        )
        .map_err(|_| ("invalid_grant", "invalid assertion signature"))?;
        let claims: serde_json::Value =
            serde_json::from_slice(&decode(claims)?).map_err(|_| invalid)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        if claims["iss"] != CLIENT_ID {
            return Err(("invalid_client_id", "client identifier invalid"));
        }
        if claims["aud"] != self.audience.as_str() {
            return Err(("invalid_grant", "audience is invalid"));
        }
        match claims["exp"].as_u64() {
            Some(exp) if exp > now && exp <= now + 600 => {}
            _ => return Err(("invalid_grant", "expired authorization code")),
        }
        if claims["sub"] != USERNAME {
            return Err(("invalid_grant", "user hasn't approved this consumer"));
        }
        Ok(())
    }
}

/// The public half of `fixtures/deploy/jwt-key.pem`, as PKCS#1 DER.
pub(super) fn test_public_key() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/deploy/jwt-key.pub.pem"
    );
    let pem = std::fs::read_to_string(path).expect("fixtures/deploy/jwt-key.pub.pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).expect("base64 in the PEM")
}
