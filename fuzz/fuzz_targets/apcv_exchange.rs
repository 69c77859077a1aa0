//! The ApCV's parsers on arbitrary bytes: the counter QR's text (base45, zlib, CBOR), a
//! DeviceResponse checked by the reader, an issuer-signed credential, a status list, an issuer
//! root, and the ISO/IEC 18013-5 NFC APDUs on both sides (the phone's tag and mdoc application,
//! the reader's exchanges). The ISO/IEC 18013-5 session is `mdoc_session`'s.
//! Must never panic.
#![no_main]

use carnet_identity::apcv::Credential;
use carnet_identity::apdu::{Command, PhoneNfc, ReaderNfc, Response};
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
    let mut phone = PhoneNfc::new(Some(data));
    for command in data.chunks(64) {
        let _ = phone.handle(command, |message| Some(message.to_vec()));
    }
    for (mut reader, _) in [ReaderNfc::read_engagement(), ReaderNfc::send(data)] {
        for response in data.chunks(40) {
            let _ = reader.receive(response);
        }
    }
});
