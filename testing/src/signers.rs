//! Device keys as the ApCV takes them: a P-256 key as a platform keystore holds it, and an
//! Ed25519 software key; and a reader's key with its certificate chain. All made fresh with
//! ring.

use carnet_identity::IdentityError;
use carnet_identity::mdoc::DeviceKey;
use carnet_identity::presentation::DeviceSigner;
use carnet_identity::request::ReaderSigner;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

/// A P-256 device key (ECDSA over SHA-256, fixed-length signatures), as a platform keystore
/// holds it.
pub struct P256Key(EcdsaKeyPair);

impl P256Key {
    /// A fresh key.
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        P256Key(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }
}

impl DeviceSigner for P256Key {
    fn device_key(&self) -> DeviceKey {
        DeviceKey::P256(self.0.public_key().as_ref().to_vec())
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self
            .0
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec())
    }
}

/// An Ed25519 software device key.
pub struct Ed25519Key(Ed25519KeyPair);

impl Ed25519Key {
    /// A fresh key.
    pub fn generate() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519Key(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }
}

impl DeviceSigner for Ed25519Key {
    fn device_key(&self) -> DeviceKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.0.public_key().as_ref());
        DeviceKey::Ed25519(public)
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

/// A reader's P-256 key with the certificate chain its authentication carries.
pub struct ReaderKey {
    pair: EcdsaKeyPair,
    chain: Vec<Vec<u8>>,
}

impl ReaderKey {
    /// A fresh key, with no certificate yet.
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        ReaderKey {
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
            chain: Vec::new(),
        }
    }

    /// Its public key, an uncompressed point (what a certificate is issued for).
    pub fn public_point(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The key presenting `chain` (leaf first).
    pub fn with_chain(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.chain = chain;
        self
    }
}

impl ReaderSigner for ReaderKey {
    fn certificate_chain(&self) -> Vec<Vec<u8>> {
        self.chain.clone()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self
            .pair
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec())
    }
}
