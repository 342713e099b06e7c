//! Secrets the server must read back in clear (webhook signing secrets), sealed at rest with
//! XChaCha20-Poly1305 under `ONESTOP_DATA_KEY`: a copy of the database alone does not let
//! anyone sign webhooks in onestop's name.
//!
//! Stored form: `v1:` + base64url(24-byte nonce ‖ ciphertext ‖ tag). Values without the prefix
//! were written before sealing existed and are read as they are (and sealed at start-up).

use base64::Engine;
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit},
};
use rand::RngCore;

const PREFIX: &str = "v1:";

#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// From 64 hex characters (32 bytes).
    pub fn from_hex(hex_key: &str) -> anyhow::Result<Self> {
        let bytes =
            hex::decode(hex_key.trim()).map_err(|_| anyhow::anyhow!("ONESTOP_DATA_KEY must be 64 hex characters"))?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| anyhow::anyhow!("ONESTOP_DATA_KEY must be 64 hex characters (32 bytes)"))?;
        Ok(Self(key))
    }

    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn seal(&self, plain: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = XChaCha20Poly1305::new((&self.0).into())
            .encrypt(&XNonce::from(nonce), plain.as_bytes())
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut stored = nonce.to_vec();
        stored.extend(sealed);
        Ok(format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(stored)))
    }

    /// The clear value; a value without the `v1:` prefix is a legacy clear one.
    pub fn open(&self, stored: &str) -> anyhow::Result<String> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| anyhow::anyhow!("sealed value is not base64"))?;
        if bytes.len() < 24 {
            anyhow::bail!("sealed value is too short");
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into()?;
        let plain = XChaCha20Poly1305::new((&self.0).into())
            .decrypt(&XNonce::from(nonce), sealed)
            .map_err(|_| anyhow::anyhow!("sealed value does not open with ONESTOP_DATA_KEY (wrong key?)"))?;
        Ok(String::from_utf8(plain)?)
    }

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}
