//! The App JWT and the installation-token cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use pathops_core::IntegrationId;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::config::AppId;

/// `iat` is set this far in the past, to absorb clock drift (GitHub's advice).
pub const JWT_BACKDATE_SECS: i64 = 60;
/// `exp` is set this far ahead: under GitHub's 10-minute limit, with room for a fast clock.
pub const JWT_LIFETIME_SECS: i64 = 540;
/// A cached installation token is replaced this long before it expires.
pub const TOKEN_REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);

/// Signs an App JWT: RS256, `iat = now - 60 s`, `exp = now + 9 min`, `iss` = the App ID (a
/// number) or client ID (a string). `None` when the secret is not an RSA private key (PEM).
pub(crate) fn app_jwt(
    app_id: &AppId,
    private_key: &SecretString,
    now: OffsetDateTime,
) -> Option<SecretString> {
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).ok()?;
    let now = now.unix_timestamp();
    let iss = match app_id {
        AppId::Numeric(id) => json!(id),
        AppId::ClientId(id) => json!(id),
    };
    let claims =
        json!({"iat": now - JWT_BACKDATE_SECS, "exp": now + JWT_LIFETIME_SECS, "iss": iss});
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, &claims, &key)
        .ok()
        .map(SecretString::from)
}

/// What a cached token is for: the integration, the API root, the App, the installation and a
/// fingerprint of the private key (a token minted with one key never serves another).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    integration: IntegrationId,
    api_root: String,
    app: String,
    installation: u64,
    key_fingerprint: [u8; 32],
}

impl TokenKey {
    pub(crate) fn new(
        integration: IntegrationId,
        api_root: &str,
        app_id: &AppId,
        installation: u64,
        private_key: &SecretString,
    ) -> Self {
        let app = match app_id {
            AppId::Numeric(id) => id.to_string(),
            AppId::ClientId(id) => id.clone(),
        };
        Self {
            integration,
            api_root: api_root.to_owned(),
            app,
            installation,
            key_fingerprint: Sha256::digest(private_key.expose_secret().as_bytes()).into(),
        }
    }
}

/// A minted installation token.
#[derive(Clone)]
pub(crate) struct InstallationToken {
    pub(crate) token: SecretString,
    pub(crate) expires_at: OffsetDateTime,
}

/// Installation tokens, reused until [`TOKEN_REFRESH_MARGIN`] before they expire.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<TokenKey, InstallationToken>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.tokens.lock().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("TokenCache").field("tokens", &n).finish()
    }
}

impl TokenCache {
    pub(crate) fn get(&self, key: &TokenKey, now: OffsetDateTime) -> Option<InstallationToken> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(key)
            .filter(|t| t.expires_at - TOKEN_REFRESH_MARGIN > now)
            .cloned()
    }

    pub(crate) fn put(&self, key: TokenKey, token: InstallationToken) {
        self.tokens
            .lock()
            .expect("token cache lock")
            .insert(key, token);
    }

    pub(crate) fn forget(&self, key: &TokenKey) {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}
