//! The ApCV exchange's parsers on arbitrary bytes: the reader's challenge text, the holder's
//! answer text (base45, zlib, CBOR), a DeviceResponse checked by the reader, an issuer-signed
//! credential, and APDUs on both sides of NFC. Must never panic.
#![no_main]

use carnet_codec::cose::VerifyingKey;
use carnet_identity::apcv::Credential;
use carnet_identity::apdu::{Command, HolderSession, ReaderExchange, Response};
use carnet_identity::presentation::{Handover, verify};
use carnet_identity::qr_text::{ReaderChallenge, response_from_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let handover = Handover::Counter { slot: 60_000_000 };
    let key = VerifyingKey::EcdsaP256(vec![4; 65]);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ReaderChallenge::from_text(&format!("APCVR1:{text}"));
        if let Ok((_, response)) = response_from_text(&format!("APCV1:{text}")) {
            let _ = verify(&response, &key, &handover, 1_800_000_000);
        }
    }
    let _ = verify(data, &key, &handover, 1_800_000_000);
    if let Ok(credential) = Credential::from_cbor(data) {
        let _ = credential.mso();
        let _ = credential.items();
    }
    let _ = Command::parse(data);
    let _ = Response::parse(data);
    let mut holder = HolderSession::default();
    for command in data.chunks(64) {
        let _ = holder.handle(command, |challenge| Some(challenge.to_vec()));
    }
    let mut reader = ReaderExchange::default();
    for response in data.chunks(40) {
        let _ = reader.receive(response);
    }
});
