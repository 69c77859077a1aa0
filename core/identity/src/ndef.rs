//! NFC engagement by static handover (ISO/IEC 18013-5 §8.2.2.1): when the phone is tapped
//! first, the reader reads an NDEF Handover Select message from the phone's NFC tag. It holds
//! the device engagement (an external record `iso.org:18013:deviceengagement`, id `mdoc`) and
//! one carrier configuration per way the phone can be reached: Bluetooth LE (its out-of-band
//! data: role and service UUID) and NFC itself (`iso.org:18013:nfc`: the largest command and
//! response). The whole message's bytes are the handover of the session transcript.
//!
//! Hand-written: NDEF is a few bytes of framing per record, and the crates that parse it
//! (`ndef-rs`, 0.2) are young, undocumented and do not know connection handover.

use crate::IdentityError;
use crate::engagement::{DeviceEngagement, RetrievalMethod};
use crate::error::too_large;

/// Largest NDEF message read (a Handover Select with an engagement is about 200 bytes).
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Most records read in one message (nested ones included).
const MAX_RECORDS: usize = 16;

/// Type name formats (NFC Forum NDEF 1.0 §3.2.6).
const TNF_WELL_KNOWN: u8 = 1;
const TNF_MEDIA: u8 = 2;
const TNF_EXTERNAL: u8 = 4;
/// Header flags.
const FLAG_MB: u8 = 0x80;
const FLAG_ME: u8 = 0x40;
const FLAG_CF: u8 = 0x20;
const FLAG_SR: u8 = 0x10;
const FLAG_IL: u8 = 0x08;

/// Connection Handover 1.5.
const HANDOVER_VERSION: u8 = 0x15;
const TYPE_HANDOVER_SELECT: &[u8] = b"Hs";
const TYPE_ALTERNATIVE_CARRIER: &[u8] = b"ac";
const TYPE_ENGAGEMENT: &[u8] = b"iso.org:18013:deviceengagement";
const TYPE_BLE_OOB: &[u8] = b"application/vnd.bluetooth.le.oob";
const TYPE_NFC: &[u8] = b"iso.org:18013:nfc";
const ID_ENGAGEMENT: &[u8] = b"mdoc";
const ID_BLE: &[u8] = b"0";
const ID_NFC: &[u8] = b"nfc";
/// Carrier power state "active".
const CARRIER_ACTIVE: u8 = 0x01;
/// Bluetooth AD types: LE role, complete list of 128-bit service UUIDs.
const AD_LE_ROLE: u8 = 0x1C;
const AD_UUID128: u8 = 0x07;
/// LE roles: peripheral only (the phone is the mdoc peripheral server), central only.
const ROLE_PERIPHERAL: u8 = 0x00;
const ROLE_CENTRAL: u8 = 0x01;
/// The NFC carrier's data types: largest command data, largest response data.
const NFC_MAX_COMMAND: u8 = 0x01;
const NFC_MAX_RESPONSE: u8 = 0x02;

/// One NDEF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Type name format (3 bits).
    pub tnf: u8,
    /// Its type.
    pub record_type: Vec<u8>,
    /// Its id (may be empty).
    pub id: Vec<u8>,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Record {
    fn new(tnf: u8, record_type: &[u8], id: &[u8], payload: Vec<u8>) -> Self {
        Record {
            tnf,
            record_type: record_type.to_vec(),
            id: id.to_vec(),
            payload,
        }
    }
}

/// Encodes records as one NDEF message (short records where the payload allows).
#[must_use]
pub fn encode(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    let last = records.len().saturating_sub(1);
    for (index, record) in records.iter().enumerate() {
        let short = record.payload.len() < 256;
        let mut header = record.tnf & 0x07;
        if index == 0 {
            header |= FLAG_MB;
        }
        if index == last {
            header |= FLAG_ME;
        }
        if short {
            header |= FLAG_SR;
        }
        if !record.id.is_empty() {
            header |= FLAG_IL;
        }
        out.push(header);
        out.push(u8::try_from(record.record_type.len()).unwrap_or(u8::MAX));
        match u8::try_from(record.payload.len()) {
            Ok(length) if short => out.push(length),
            _ => out.extend_from_slice(
                &u32::try_from(record.payload.len())
                    .unwrap_or(u32::MAX)
                    .to_be_bytes(),
            ),
        }
        if !record.id.is_empty() {
            out.push(u8::try_from(record.id.len()).unwrap_or(u8::MAX));
        }
        out.extend_from_slice(&record.record_type);
        out.extend_from_slice(&record.id);
        out.extend_from_slice(&record.payload);
    }
    out
}

/// Reads one NDEF message: every record framed, the first marked begin and the last end,
/// no chunked records.
///
/// # Errors
/// [`IdentityError::Nfc`] for broken framing, [`IdentityError::TooLarge`] beyond the limits.
pub fn parse(bytes: &[u8]) -> Result<Vec<Record>, IdentityError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(too_large(
            "NDEF message",
            format!("{MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let broken = || IdentityError::Nfc("the NDEF message is not well framed".into());
    let mut records = Vec::new();
    let mut rest = bytes;
    loop {
        let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, IdentityError> {
            let (head, tail) = rest.split_at_checked(n).ok_or_else(broken)?;
            *rest = tail;
            Ok(head.to_vec())
        };
        let byte = |rest: &mut &[u8]| take(rest, 1).map(|b| b.first().copied().unwrap_or(0));
        let header = byte(&mut rest)?;
        if (header & FLAG_MB != 0) != records.is_empty() || header & FLAG_CF != 0 {
            return Err(broken());
        }
        let type_length = byte(&mut rest)?;
        let payload_length = if header & FLAG_SR != 0 {
            usize::from(byte(&mut rest)?)
        } else {
            let length: [u8; 4] = take(&mut rest, 4)?.try_into().map_err(|_| broken())?;
            usize::try_from(u32::from_be_bytes(length)).map_err(|_| broken())?
        };
        let id_length = if header & FLAG_IL != 0 {
            byte(&mut rest)?
        } else {
            0
        };
        let record_type = take(&mut rest, usize::from(type_length))?;
        let id = take(&mut rest, usize::from(id_length))?;
        // A lying length ends in `broken`, never in a large allocation: the bytes are there.
        let payload = take(&mut rest, payload_length)?;
        records.push(Record {
            tnf: header & 0x07,
            record_type,
            id,
            payload,
        });
        if records.len() > MAX_RECORDS {
            return Err(too_large("NDEF message", format!("{MAX_RECORDS} records")));
        }
        if header & FLAG_ME != 0 {
            break;
        }
    }
    if !rest.is_empty() {
        return Err(broken());
    }
    Ok(records)
}

/// The Handover Select message a phone's NFC tag holds for `engagement` (static handover):
/// one alternative carrier per retrieval method it offers, each pointing at the engagement.
#[must_use]
pub fn handover_select(engagement: &DeviceEngagement) -> Vec<u8> {
    let mut carriers = Vec::new();
    let mut configurations = Vec::new();
    for method in &engagement.methods {
        let (id, configuration) = match method {
            RetrievalMethod::Ble {
                peripheral_server: Some(uuid),
                ..
            } => (ID_BLE, ble_oob(ROLE_PERIPHERAL, uuid)),
            RetrievalMethod::Ble {
                central_client: Some(uuid),
                ..
            } => (ID_BLE, ble_oob(ROLE_CENTRAL, uuid)),
            RetrievalMethod::Ble { .. } => continue,
            RetrievalMethod::Nfc {
                max_command,
                max_response,
            } => {
                let clamp = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
                let mut payload = vec![0x01];
                for (kind, value) in [
                    (NFC_MAX_COMMAND, clamp(*max_command)),
                    (NFC_MAX_RESPONSE, clamp(*max_response)),
                ] {
                    payload.extend_from_slice(&[0x03, kind]);
                    payload.extend_from_slice(&value.to_be_bytes());
                }
                (ID_NFC, Record::new(TNF_EXTERNAL, TYPE_NFC, ID_NFC, payload))
            }
        };
        let mut reference = vec![CARRIER_ACTIVE, u8::try_from(id.len()).unwrap_or(0)];
        reference.extend_from_slice(id);
        reference.push(1);
        reference.push(u8::try_from(ID_ENGAGEMENT.len()).unwrap_or(0));
        reference.extend_from_slice(ID_ENGAGEMENT);
        carriers.push(Record::new(
            TNF_WELL_KNOWN,
            TYPE_ALTERNATIVE_CARRIER,
            &[],
            reference,
        ));
        configurations.push(configuration);
    }
    let mut select = vec![HANDOVER_VERSION];
    select.extend(encode(&carriers));
    let mut records = vec![Record::new(
        TNF_WELL_KNOWN,
        TYPE_HANDOVER_SELECT,
        &[],
        select,
    )];
    records.extend(configurations);
    records.push(Record::new(
        TNF_EXTERNAL,
        TYPE_ENGAGEMENT,
        ID_ENGAGEMENT,
        engagement.bytes().to_vec(),
    ));
    encode(&records)
}

/// BLE out-of-band data: the LE role, then the service UUID (little-endian, as Bluetooth
/// writes it).
fn ble_oob(role: u8, uuid: &[u8; 16]) -> Record {
    let mut payload = vec![0x02, AD_LE_ROLE, role, 0x11, AD_UUID128];
    payload.extend(uuid.iter().rev());
    Record::new(TNF_MEDIA, TYPE_BLE_OOB, ID_BLE, payload)
}

/// Reads a Handover Select message (static handover): the device engagement it carries, with
/// the retrieval methods of its carrier configurations added to those of the engagement.
///
/// # Errors
/// [`IdentityError::Nfc`] for a message that is not a Handover Select or has no engagement;
/// what [`DeviceEngagement::from_bytes`] returns.
pub fn read_handover_select(message: &[u8]) -> Result<DeviceEngagement, IdentityError> {
    let records = parse(message)?;
    let select = records
        .first()
        .filter(|r| r.tnf == TNF_WELL_KNOWN && r.record_type == TYPE_HANDOVER_SELECT)
        .ok_or_else(|| IdentityError::Nfc("not a Handover Select message".into()))?;
    match select.payload.first() {
        Some(version) if version >> 4 == HANDOVER_VERSION >> 4 => {}
        _ => {
            return Err(IdentityError::Unsupported(
                "a connection handover version other than 1.x",
            ));
        }
    }
    let engagement = records
        .iter()
        .find(|r| r.tnf == TNF_EXTERNAL && r.record_type == TYPE_ENGAGEMENT)
        .ok_or_else(|| IdentityError::Nfc("the handover carries no device engagement".into()))?;
    let mut engagement = DeviceEngagement::from_bytes(&engagement.payload)?;
    for record in records.iter().skip(1) {
        let method = match (record.tnf, record.record_type.as_slice()) {
            (TNF_MEDIA, TYPE_BLE_OOB) => read_ble_oob(&record.payload)?,
            (TNF_EXTERNAL, TYPE_NFC) => read_nfc_carrier(&record.payload)?,
            _ => None,
        };
        if let Some(method) = method
            && !engagement.methods.contains(&method)
        {
            engagement.methods.push(method);
        }
    }
    Ok(engagement)
}

/// A BLE carrier: `None` when it names no 128-bit service UUID (an address only).
fn read_ble_oob(payload: &[u8]) -> Result<Option<RetrievalMethod>, IdentityError> {
    let broken = || IdentityError::Nfc("the BLE carrier data is not well framed".into());
    let mut role = None;
    let mut uuid = None;
    let mut rest = payload;
    while let Some((&length, tail)) = rest.split_first() {
        let (structure, tail) = tail
            .split_at_checked(usize::from(length))
            .ok_or_else(broken)?;
        rest = tail;
        match structure.split_first() {
            Some((&AD_LE_ROLE, [value])) => role = Some(*value),
            Some((&AD_UUID128, value)) if value.len() == 16 => {
                let mut bytes = [0u8; 16];
                for (target, source) in bytes.iter_mut().zip(value.iter().rev()) {
                    *target = *source;
                }
                uuid = Some(bytes);
            }
            Some(_) => {}
            None => return Err(broken()),
        }
    }
    Ok(uuid.map(|uuid| match role {
        Some(ROLE_CENTRAL) => RetrievalMethod::Ble {
            peripheral_server: None,
            central_client: Some(uuid),
        },
        _ => RetrievalMethod::Ble {
            peripheral_server: Some(uuid),
            central_client: None,
        },
    }))
}

/// The NFC carrier: version 1, then `[length, type, value]` entries of the largest command
/// and response.
fn read_nfc_carrier(payload: &[u8]) -> Result<Option<RetrievalMethod>, IdentityError> {
    let broken = || IdentityError::Nfc("the NFC carrier data is not well framed".into());
    let Some((&1, mut rest)) = payload.split_first() else {
        return Ok(None);
    };
    let (mut max_command, mut max_response) = (None, None);
    while let Some((&length, tail)) = rest.split_first() {
        let (entry, tail) = tail
            .split_at_checked(usize::from(length))
            .ok_or_else(broken)?;
        rest = tail;
        let Some((&kind, value)) = entry.split_first() else {
            return Err(broken());
        };
        if value.len() > 4 {
            return Err(broken());
        }
        let number = value
            .iter()
            .fold(0u32, |n, byte| (n << 8) | u32::from(*byte));
        match kind {
            NFC_MAX_COMMAND => max_command = Some(number),
            NFC_MAX_RESPONSE => max_response = Some(number),
            _ => {}
        }
    }
    Ok(max_command
        .zip(max_response)
        .map(|(max_command, max_response)| RetrievalMethod::Nfc {
            max_command,
            max_response,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engagement(methods: Vec<RetrievalMethod>) -> DeviceEngagement {
        let mut point = vec![0x04];
        point.extend([9u8; 64]);
        DeviceEngagement::new(&point, methods).unwrap()
    }

    #[test]
    fn a_handover_select_round_trips_with_its_carriers() {
        let methods = vec![
            RetrievalMethod::Ble {
                peripheral_server: Some(*b"0123456789abcdef"),
                central_client: None,
            },
            RetrievalMethod::Nfc {
                max_command: 255,
                max_response: 4096,
            },
        ];
        // The engagement carries no methods itself: they travel as carrier records.
        let shown = engagement(Vec::new());
        let mut offered = shown.clone();
        offered.methods.clone_from(&methods);
        let message = handover_select(&offered);
        let read = read_handover_select(&message).unwrap();
        assert_eq!(read.bytes(), shown.bytes());
        assert_eq!(read.methods, methods);
        assert_eq!(parse(&message).unwrap().len(), 4);
    }

    #[test]
    fn broken_framing_and_lying_lengths_are_refused() {
        let message = handover_select(&engagement(vec![RetrievalMethod::Nfc {
            max_command: 255,
            max_response: 256,
        }]));
        for cut in 0..message.len() {
            assert!(read_handover_select(&message[..cut]).is_err(), "{cut}");
        }
        let mut lying = message.clone();
        // The first record as a long one claiming 4 GiB.
        lying.splice(2..3, [0xff, 0xff, 0xff, 0xff]);
        lying[0] &= !FLAG_SR;
        assert!(parse(&lying).is_err());
        let mut chunked = message.clone();
        chunked[0] |= FLAG_CF;
        assert!(parse(&chunked).is_err());
        let mut trailing = message;
        trailing.push(0);
        assert!(parse(&trailing).is_err());
        assert!(matches!(
            parse(&vec![0; MAX_MESSAGE_BYTES + 1]),
            Err(IdentityError::TooLarge { .. })
        ));
        let many: Vec<Record> = (0..=MAX_RECORDS)
            .map(|_| Record::new(TNF_WELL_KNOWN, b"T", &[], Vec::new()))
            .collect();
        assert!(matches!(
            parse(&encode(&many)),
            Err(IdentityError::TooLarge { .. })
        ));
        let text = encode(&[Record::new(TNF_WELL_KNOWN, b"T", &[], b"\x02enhi".to_vec())]);
        assert!(matches!(
            read_handover_select(&text),
            Err(IdentityError::Nfc(_))
        ));
    }
}
