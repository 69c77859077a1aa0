//! The ApCV's parsers on arbitrary bytes: the counter QR's text (base45, zlib, CBOR), a
//! DeviceResponse checked by the reader, an issuer-signed credential, a status list, an issuer
//! root, and APDUs on both sides of NFC. The ISO/IEC 18013-5 session is `mdoc_session`'s.
//! Must never panic.
#![no_main]

use carnet_identity::apcv::Credential;
use carnet_identity::apdu::{Command, HolderSession, ReaderExchange, Response};
use carnet_identity::presentation::Binding;
use carnet_identity::qr_text::counter_from_text;
use carnet_identity::reader::{CheckTime, Reader};
use carnet_identity::status::StatusList;
use carnet_identity::trust::IssuerTrust;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let handover = Binding::Counter { slot: 60_000_000 };
    let time = CheckTime {
        now: 1_800_000_000,
        date_of_care: None,
    };
    let mut reader = Reader::new(IssuerTrust::default());
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok((slot, response)) = counter_from_text(&format!("APCV1:{text}"))
    {
        let _ = reader.check(&response, &Binding::Counter { slot }, time);
    }
    let _ = reader.check(data, &handover, time);
    let _ = reader.update_status(data, time.now);
    let _ = StatusList::verify(data, &mut IssuerTrust::default(), time.now);
    let _ = IssuerTrust::new(&[data.to_vec()]);
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
