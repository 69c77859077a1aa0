//! The ISO/IEC 18013-5 exchange over NFC, as ISO 7816-4 short APDUs, both sides: the phone's
//! card emulation ([`PhoneNfc`]) and the reader's ([`ReaderNfc`]). The platform (Android HCE,
//! the reader's NFC stack) only moves the bytes.
//!
//! * Engagement (static handover, §8.2.2.1): the phone emulates an NFC Forum Type 4 Tag — the
//!   NDEF application (`D2 76 00 00 85 01 01`), its capability container (`E1 03`) and its NDEF
//!   file (`E1 04`) holding the Handover Select message — which the reader reads with SELECT
//!   and READ BINARY.
//! * Data transfer (§8.3.3.1.2): the reader selects the mdoc application
//!   (`A0 00 00 02 48 04 00`) and sends each session message in `ENVELOPE` commands (`C3`),
//!   encapsulated in a BER-TLV data object `53`, chained (CLA bit `0x10`) in chunks of 255
//!   bytes; the phone's message comes back in a `53` object, in chunks fetched with
//!   `GET RESPONSE` (`C0`) while it answers `61 xx`.
//!
//! Hand-written: the framing is a few bytes, and no maintained crate does ISO 7816-4 short
//! APDUs without a smart-card stack around them. Short APDUs with chaining are what every NFC
//! controller speaks; the engagement says so (largest command 255, largest response 256).

use crate::IdentityError;
use crate::error::too_large;

/// The mdoc NFC data transfer application (ISO/IEC 18013-5 §8.3.3.1.2).
pub const MDOC_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x48, 0x04, 0x00];
/// The NFC Forum Type 4 Tag NDEF application.
pub const NDEF_AID: [u8; 7] = [0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01];
/// The Type 4 Tag's capability container and NDEF file.
const CC_FILE: [u8; 2] = [0xE1, 0x03];
const NDEF_FILE: [u8; 2] = [0xE1, 0x04];
/// Largest command data and response data in one short APDU, as the engagement announces.
pub const MAX_COMMAND_DATA: u32 = 255;
/// Largest response data in one short APDU.
pub const MAX_RESPONSE_DATA: u32 = 256;
/// Largest session message either side collects (a session message's own limit).
pub const MAX_MESSAGE_BYTES: usize = crate::session::MAX_MESSAGE_BYTES;
/// Largest NDEF file the reader reads.
const MAX_NDEF_BYTES: usize = crate::ndef::MAX_MESSAGE_BYTES;

const INS_SELECT: u8 = 0xA4;
const INS_READ_BINARY: u8 = 0xB0;
const INS_ENVELOPE: u8 = 0xC3;
const INS_GET_RESPONSE: u8 = 0xC0;
const CLA_CHAINING: u8 = 0x10;
/// Tag of the data object that carries a session message.
const TAG_MESSAGE: u8 = 0x53;
/// Bytes of data per command or response chunk (short APDUs).
const CHUNK: usize = 255;

/// Status words (ISO/IEC 7816-4).
const SW_OK: u16 = 0x9000;
const SW_MORE: u8 = 0x61;
const SW_NOT_FOUND: u16 = 0x6A82;
const SW_WRONG_LENGTH: u16 = 0x6700;
const SW_WRONG_DATA: u16 = 0x6A80;
const SW_CONDITIONS: u16 = 0x6985;
const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;
const SW_WRONG_OFFSET: u16 = 0x6B00;

/// A command APDU (short form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte (CLA): `0x00` for interindustry commands, chaining in bit 5.
    pub cla: u8,
    /// Instruction byte (INS): SELECT, READ BINARY, ENVELOPE, GET RESPONSE.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Data (at most 255 bytes).
    pub data: Vec<u8>,
    /// Expected length (`Some(0)` encodes 256), if any.
    pub le: Option<u8>,
}

impl Command {
    /// The APDU's bytes.
    ///
    /// # Errors
    /// [`IdentityError::Nfc`] for data over 255 bytes, which a short APDU cannot carry.
    pub fn to_bytes(&self) -> Result<Vec<u8>, IdentityError> {
        let mut bytes = vec![self.cla, self.ins, self.p1, self.p2];
        if !self.data.is_empty() {
            let length = u8::try_from(self.data.len()).map_err(|_| {
                IdentityError::Nfc("a short APDU carries at most 255 bytes of data".into())
            })?;
            bytes.push(length);
            bytes.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            bytes.push(le);
        }
        Ok(bytes)
    }

    /// Parses a short command APDU (cases 1 to 4).
    ///
    /// # Errors
    /// [`IdentityError::Nfc`] for a truncated or inconsistent APDU, or an extended one.
    pub fn parse(bytes: &[u8]) -> Result<Self, IdentityError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(IdentityError::Nfc("an APDU has at least 4 bytes".into()));
        };
        let (data, le) = match body {
            [] => (Vec::new(), None),
            [le] => (Vec::new(), Some(*le)),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 {
                    return Err(IdentityError::Nfc(
                        "extended APDUs are not supported: chain short ones".into(),
                    ));
                }
                match rest.len().checked_sub(lc) {
                    Some(0) => (rest.to_vec(), None),
                    Some(1) => (
                        rest.get(..lc).unwrap_or_default().to_vec(),
                        rest.last().copied(),
                    ),
                    _ => {
                        return Err(IdentityError::Nfc(
                            "APDU length does not match its data".into(),
                        ));
                    }
                }
            }
        };
        Ok(Command {
            cla: *cla,
            ins: *ins,
            p1: *p1,
            p2: *p2,
            data,
            le,
        })
    }

    fn select_application(aid: &[u8]) -> Self {
        Command {
            cla: 0x00,
            ins: INS_SELECT,
            p1: 0x04,
            p2: 0x00,
            data: aid.to_vec(),
            le: Some(0),
        }
    }

    fn select_file(file: [u8; 2]) -> Self {
        Command {
            cla: 0x00,
            ins: INS_SELECT,
            p1: 0x00,
            p2: 0x0C,
            data: file.to_vec(),
            le: None,
        }
    }

    fn read_binary(offset: usize, length: usize) -> Self {
        let [high, low] = u16::try_from(offset).unwrap_or(u16::MAX).to_be_bytes();
        Command {
            cla: 0x00,
            ins: INS_READ_BINARY,
            p1: high & 0x7F,
            p2: low,
            data: Vec::new(),
            le: Some(u8::try_from(length.min(CHUNK)).unwrap_or(0xFF)),
        }
    }

    fn get_response(available: u8) -> Self {
        Command {
            cla: 0x00,
            ins: INS_GET_RESPONSE,
            p1: 0x00,
            p2: 0x00,
            data: Vec::new(),
            le: Some(available),
        }
    }
}

/// A response APDU: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response data, without its status word.
    pub data: Vec<u8>,
    /// Status word (`0x9000` success).
    pub status: u16,
}

impl Response {
    fn status(status: u16) -> Self {
        Response {
            data: Vec::new(),
            status,
        }
    }

    /// The APDU's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.data.clone();
        bytes.extend_from_slice(&self.status.to_be_bytes());
        bytes
    }

    /// Parses a response APDU.
    ///
    /// # Errors
    /// [`IdentityError::Nfc`] for fewer than 2 bytes or more than 258.
    pub fn parse(bytes: &[u8]) -> Result<Self, IdentityError> {
        if bytes.len() > CHUNK + 3 {
            return Err(IdentityError::Nfc(
                "a short response APDU carries at most 256 bytes".into(),
            ));
        }
        let [data @ .., sw1, sw2] = bytes else {
            return Err(IdentityError::Nfc(
                "a response APDU has a status word".into(),
            ));
        };
        Ok(Response {
            data: data.to_vec(),
            status: u16::from_be_bytes([*sw1, *sw2]),
        })
    }
}

/// A session message in a BER-TLV data object `53`.
fn wrap(message: &[u8]) -> Vec<u8> {
    let length = message.len();
    let mut object = vec![TAG_MESSAGE];
    match length {
        0..=0x7F => object.push(u8::try_from(length).unwrap_or(0)),
        0x80..=0xFF => object.extend([0x81, u8::try_from(length).unwrap_or(0)]),
        0x100..=0xFFFF => {
            object.push(0x82);
            object.extend(u16::try_from(length).unwrap_or(0).to_be_bytes());
        }
        _ => {
            object.push(0x83);
            object.extend(
                u32::try_from(length)
                    .unwrap_or(0)
                    .to_be_bytes()
                    .get(1..)
                    .unwrap_or_default(),
            );
        }
    }
    object.extend_from_slice(message);
    object
}

/// The message inside a data object `53`, which must fill `object`.
fn unwrap(object: &[u8]) -> Result<&[u8], IdentityError> {
    let broken = || IdentityError::Nfc("a session message is not in a data object 53".into());
    let (&tag, rest) = object.split_first().ok_or_else(broken)?;
    let (&first, rest) = rest.split_first().ok_or_else(broken)?;
    if tag != TAG_MESSAGE {
        return Err(broken());
    }
    let (length, rest) = match first {
        0..=0x7F => (usize::from(first), rest),
        0x81..=0x83 => {
            let count = usize::from(first - 0x80);
            let (bytes, rest) = rest.split_at_checked(count).ok_or_else(broken)?;
            let length = bytes
                .iter()
                .fold(0usize, |n, byte| (n << 8) | usize::from(*byte));
            (length, rest)
        }
        _ => return Err(broken()),
    };
    if rest.len() != length {
        return Err(broken());
    }
    Ok(rest)
}

/// The capability container of the phone's Type 4 Tag: version 2.0, the largest READ BINARY
/// and UPDATE BINARY, and the NDEF file (its id, largest size, read open, write closed).
fn capability_container(ndef_file_size: usize) -> Vec<u8> {
    let size = u16::try_from(ndef_file_size)
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    vec![
        0x00,
        0x0F,
        0x20,
        0x00,
        0xFF,
        0x00,
        0xFF,
        0x04,
        0x06,
        NDEF_FILE[0],
        NDEF_FILE[1],
        size[0],
        size[1],
        0x00,
        0xFF,
    ]
}

/// Which file of the Type 4 Tag is selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagFile {
    None,
    CapabilityContainer,
    Ndef,
}

/// Which application the reader selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    Nothing,
    Tag(TagFile),
    Mdoc,
}

/// The phone's card emulation: the Type 4 Tag with its Handover Select message (for an NFC
/// engagement), and the mdoc application carrying the session's messages.
#[derive(Debug)]
pub struct PhoneNfc {
    /// The NDEF file: NLEN, then the Handover Select message (empty: no NFC engagement).
    ndef_file: Vec<u8>,
    selected: Selected,
    /// A message went over the limit: refused until the reader selects again.
    overflowed: bool,
    message: Vec<u8>,
    answer: Vec<u8>,
    sent: usize,
}

impl PhoneNfc {
    /// The card emulation of a presentation, with its Handover Select message when the
    /// engagement is by NFC.
    #[must_use]
    pub fn new(handover_select: Option<&[u8]>) -> Self {
        let ndef_file = handover_select.map_or_else(Vec::new, |select| {
            let mut file = u16::try_from(select.len())
                .unwrap_or(0)
                .to_be_bytes()
                .to_vec();
            file.extend_from_slice(select);
            file
        });
        PhoneNfc {
            ndef_file,
            selected: Selected::Nothing,
            overflowed: false,
            message: Vec::new(),
            answer: Vec::new(),
            sent: 0,
        }
    }

    /// Handles one command APDU. `answer` is called once a whole session message has arrived,
    /// with its bytes: it returns the phone's message to send back (`None`: nothing, the
    /// session is over). Never fails: every problem is a status word.
    pub fn handle(
        &mut self,
        command: &[u8],
        answer: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> Vec<u8> {
        let response = match Command::parse(command) {
            Ok(command) => self.step(&command, answer),
            Err(_) => Response::status(SW_WRONG_LENGTH),
        };
        response.to_bytes()
    }

    fn step(
        &mut self,
        command: &Command,
        answer: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> Response {
        match (command.ins, self.selected) {
            (INS_SELECT, _) if command.p1 == 0x04 => {
                self.message.clear();
                self.answer.clear();
                self.overflowed = false;
                if command.data == MDOC_AID {
                    self.selected = Selected::Mdoc;
                    Response::status(SW_OK)
                } else if command.data == NDEF_AID && !self.ndef_file.is_empty() {
                    self.selected = Selected::Tag(TagFile::None);
                    Response::status(SW_OK)
                } else {
                    self.selected = Selected::Nothing;
                    Response::status(SW_NOT_FOUND)
                }
            }
            (INS_SELECT, Selected::Tag(_)) if command.p1 == 0x00 => {
                match <[u8; 2]>::try_from(command.data.as_slice()) {
                    Ok(CC_FILE) => {
                        self.selected = Selected::Tag(TagFile::CapabilityContainer);
                        Response::status(SW_OK)
                    }
                    Ok(NDEF_FILE) => {
                        self.selected = Selected::Tag(TagFile::Ndef);
                        Response::status(SW_OK)
                    }
                    _ => Response::status(SW_NOT_FOUND),
                }
            }
            (INS_READ_BINARY, Selected::Tag(file)) => {
                let contents = match file {
                    TagFile::CapabilityContainer => capability_container(self.ndef_file.len()),
                    TagFile::Ndef => self.ndef_file.clone(),
                    TagFile::None => return Response::status(SW_CONDITIONS),
                };
                let offset = usize::from(u16::from_be_bytes([command.p1 & 0x7F, command.p2]));
                let wanted = match command.le {
                    Some(0) | None => CHUNK + 1,
                    Some(le) => usize::from(le),
                };
                match contents.get(offset..) {
                    Some(rest) => Response {
                        data: rest
                            .get(..wanted.min(rest.len()))
                            .unwrap_or_default()
                            .to_vec(),
                        status: SW_OK,
                    },
                    None => Response::status(SW_WRONG_OFFSET),
                }
            }
            (INS_ENVELOPE, Selected::Mdoc) => {
                if self.overflowed
                    || self.message.len() + command.data.len() > MAX_MESSAGE_BYTES + 8
                {
                    self.message.clear();
                    self.overflowed = true;
                    return Response::status(SW_WRONG_LENGTH);
                }
                self.message.extend_from_slice(&command.data);
                if command.cla & CLA_CHAINING != 0 {
                    return Response::status(SW_OK);
                }
                let object = std::mem::take(&mut self.message);
                let Ok(message) = unwrap(&object) else {
                    return Response::status(SW_WRONG_DATA);
                };
                match answer(message) {
                    Some(reply) => {
                        self.answer = wrap(&reply);
                        self.sent = 0;
                        self.next_chunk()
                    }
                    None => Response::status(SW_OK),
                }
            }
            (INS_GET_RESPONSE, Selected::Mdoc) => self.next_chunk(),
            (_, Selected::Nothing) => Response::status(SW_CONDITIONS),
            _ => Response::status(SW_INS_NOT_SUPPORTED),
        }
    }

    /// The next chunk of the answer, with `61 xx` while more remains.
    fn next_chunk(&mut self) -> Response {
        let rest = self.answer.get(self.sent..).unwrap_or_default();
        let chunk = rest
            .get(..(CHUNK + 1).min(rest.len()))
            .unwrap_or_default()
            .to_vec();
        self.sent += chunk.len();
        let remaining = self.answer.len() - self.sent;
        let status = if remaining == 0 {
            SW_OK
        } else {
            u16::from_be_bytes([SW_MORE, u8::try_from(remaining.min(CHUNK + 1)).unwrap_or(0)])
        };
        Response {
            data: chunk,
            status,
        }
    }
}

/// What the reader does after a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderStep {
    /// Send this command APDU and give the phone's response to [`ReaderNfc::receive`].
    Send(Command),
    /// The exchange is over: the Handover Select message read (an engagement), or the
    /// phone's session message (a data transfer; empty when the phone sent none).
    Done(Vec<u8>),
}

/// Where the reader is in its exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Reading the tag: the commands left to send before the NDEF file's length.
    TagSetup(Vec<Command>),
    /// The NDEF file's length asked.
    NdefLength,
    /// Reading the NDEF file: its length, what was read.
    NdefFile(usize),
    /// Sending the message: the commands left.
    Sending(Vec<Command>),
    /// Collecting the phone's message.
    Receiving,
    /// Over.
    Done,
}

/// The reader's side of one NFC exchange: reading the phone's engagement, or carrying one
/// session message and collecting the phone's.
#[derive(Debug)]
pub struct ReaderNfc {
    stage: Stage,
    collected: Vec<u8>,
}

impl ReaderNfc {
    /// Reads the phone's Handover Select message from its Type 4 Tag; returns the first
    /// command.
    #[must_use]
    pub fn read_engagement() -> (Self, Command) {
        let reader = ReaderNfc {
            stage: Stage::TagSetup(vec![
                Command::select_file(CC_FILE),
                Command::read_binary(0, 15),
                Command::select_file(NDEF_FILE),
            ]),
            collected: Vec::new(),
        };
        (reader, Command::select_application(&NDEF_AID))
    }

    /// Carries `message` (a SessionEstablishment or a SessionData) to the phone and collects
    /// its answer; returns the first command (the mdoc application's SELECT).
    #[must_use]
    pub fn send(message: &[u8]) -> (Self, Command) {
        let object = wrap(message);
        let chunks: Vec<&[u8]> = object.chunks(CHUNK).collect();
        let last = chunks.len().saturating_sub(1);
        let mut commands: Vec<Command> = chunks
            .into_iter()
            .enumerate()
            .map(|(index, chunk)| Command {
                cla: if index < last { CLA_CHAINING } else { 0x00 },
                ins: INS_ENVELOPE,
                p1: 0x00,
                p2: 0x00,
                data: chunk.to_vec(),
                le: Some(0),
            })
            .collect();
        commands.reverse();
        let reader = ReaderNfc {
            stage: Stage::Sending(commands),
            collected: Vec::new(),
        };
        (reader, Command::select_application(&MDOC_AID))
    }

    /// Takes the phone's response to the last command sent.
    ///
    /// # Errors
    /// [`IdentityError::Nfc`] for an error status (no such application, a message refused),
    /// broken framing, or an exchange that is over; [`IdentityError::TooLarge`] beyond the
    /// limits.
    pub fn receive(&mut self, response: &[u8]) -> Result<ReaderStep, IdentityError> {
        let response = Response::parse(response)?;
        let [sw1, sw2] = response.status.to_be_bytes();
        let more = sw1 == SW_MORE;
        if response.status != SW_OK && !more {
            self.stage = Stage::Done;
            return Err(match response.status {
                SW_NOT_FOUND => IdentityError::Nfc(
                    "the phone shows no card over NFC (no such application)".into(),
                ),
                status => IdentityError::Nfc(format!("the phone answered {status:04X}")),
            });
        }
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::TagSetup(mut commands) => match commands.first().cloned() {
                Some(next) => {
                    commands.remove(0);
                    self.stage = Stage::TagSetup(commands);
                    Ok(ReaderStep::Send(next))
                }
                None => {
                    self.stage = Stage::NdefLength;
                    Ok(ReaderStep::Send(Command::read_binary(0, 2)))
                }
            },
            Stage::NdefLength => {
                let [high, low] = <[u8; 2]>::try_from(response.data.as_slice())
                    .map_err(|_| IdentityError::Nfc("the tag's NDEF file has no length".into()))?;
                let length = usize::from(u16::from_be_bytes([high, low]));
                if length == 0 || length > MAX_NDEF_BYTES {
                    return Err(too_large("NDEF file", format!("{MAX_NDEF_BYTES} bytes")));
                }
                self.stage = Stage::NdefFile(length);
                Ok(ReaderStep::Send(Command::read_binary(2, length)))
            }
            Stage::NdefFile(length) => {
                if response.data.is_empty() {
                    return Err(IdentityError::Nfc("the tag's NDEF file ends early".into()));
                }
                self.collected.extend_from_slice(&response.data);
                if self.collected.len() >= length {
                    self.collected.truncate(length);
                    return Ok(ReaderStep::Done(std::mem::take(&mut self.collected)));
                }
                let offset = 2 + self.collected.len();
                self.stage = Stage::NdefFile(length);
                Ok(ReaderStep::Send(Command::read_binary(
                    offset,
                    length - self.collected.len(),
                )))
            }
            Stage::Sending(mut commands) => match commands.pop() {
                Some(next) => {
                    self.stage = Stage::Sending(commands);
                    Ok(ReaderStep::Send(next))
                }
                None => self.collect(&response.data, more, sw2),
            },
            Stage::Receiving => self.collect(&response.data, more, sw2),
            Stage::Done => Err(IdentityError::Nfc("this NFC exchange is over".into())),
        }
    }

    /// Adds a chunk of the phone's message: `GET RESPONSE` while more remains, else the
    /// whole message.
    fn collect(
        &mut self,
        data: &[u8],
        more: bool,
        available: u8,
    ) -> Result<ReaderStep, IdentityError> {
        self.collected.extend_from_slice(data);
        if self.collected.len() > MAX_MESSAGE_BYTES + 8 {
            return Err(too_large(
                "NFC answer",
                format!("{MAX_MESSAGE_BYTES} bytes"),
            ));
        }
        if more {
            self.stage = Stage::Receiving;
            return Ok(ReaderStep::Send(Command::get_response(available)));
        }
        if self.collected.is_empty() {
            return Ok(ReaderStep::Done(Vec::new()));
        }
        let object = std::mem::take(&mut self.collected);
        Ok(ReaderStep::Done(unwrap(&object)?.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one exchange between a reader and a phone, through bytes only.
    fn run(
        phone: &mut PhoneNfc,
        (mut reader, first): (ReaderNfc, Command),
        mut answer: Option<Vec<u8>>,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), IdentityError> {
        let mut seen = None;
        let mut command = first;
        for _ in 0..2000 {
            let response = phone.handle(&command.to_bytes().unwrap(), |message| {
                seen = Some(message.to_vec());
                answer.take()
            });
            match reader.receive(&response)? {
                ReaderStep::Send(next) => command = next,
                ReaderStep::Done(bytes) => return Ok((bytes, seen)),
            }
        }
        panic!("the exchange did not end");
    }

    #[test]
    fn the_engagement_and_messages_of_any_size_cross_in_chunks() {
        for size in [1, 200, 300, MAX_NDEF_BYTES] {
            let select: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut phone = PhoneNfc::new(Some(&select));
            let (read, _) = run(&mut phone, ReaderNfc::read_engagement(), None).unwrap();
            assert_eq!(read, select, "{size}");
        }
        let mut oversized = PhoneNfc::new(Some(&[0; MAX_NDEF_BYTES + 1]));
        assert!(matches!(
            run(&mut oversized, ReaderNfc::read_engagement(), None),
            Err(IdentityError::TooLarge { .. })
        ));
        let mut phone = PhoneNfc::new(None);
        for (message_len, answer_len) in
            [(1, 1), (126, 127), (255, 256), (700, 3000), (9000, 70_000)]
        {
            let message: Vec<u8> = (0..message_len).map(|i| i as u8).collect();
            let answer: Vec<u8> = (0..answer_len).map(|i| (i * 7) as u8).collect();
            let (got, seen) =
                run(&mut phone, ReaderNfc::send(&message), Some(answer.clone())).unwrap();
            assert_eq!((got, seen), (answer, Some(message)));
        }
        // The phone has nothing to say (the reader ended the session).
        let (got, _) = run(&mut phone, ReaderNfc::send(b"end"), None).unwrap();
        assert!(got.is_empty());
    }

    #[test]
    fn hostile_apdus_are_status_words_and_bad_responses_typed_errors() {
        // No NFC engagement: the tag application is not there.
        let mut phone = PhoneNfc::new(None);
        assert!(matches!(
            run(&mut phone, ReaderNfc::read_engagement(), None),
            Err(IdentityError::Nfc(_))
        ));
        for hostile in [
            &[][..],
            &[0x00, 0xA4],
            &[0x00, 0xC3, 0, 0, 10, 1, 2],
            &[0x00, 0xC3, 0, 0, 0, 1],
        ] {
            assert_eq!(phone.handle(hostile, |_| None), [0x67, 0x00], "{hostile:?}");
        }
        // Nothing selected, then a message not in a data object 53.
        assert_eq!(
            phone.handle(&[0x00, 0xC3, 0, 0, 1, 0x53, 0], |_| None),
            [0x69, 0x85]
        );
        let select = Command::select_application(&MDOC_AID).to_bytes().unwrap();
        assert_eq!(phone.handle(&select, |_| None), [0x90, 0x00]);
        assert_eq!(
            phone.handle(&[0x00, 0xC3, 0, 0, 2, 0x54, 0], |_| None),
            [0x6A, 0x80]
        );
        assert_eq!(
            phone.handle(&[0x00, 0xC3, 0, 0, 2, 0x53, 5], |_| None),
            [0x6A, 0x80]
        );
        // A message over the limit is refused, not buffered.
        let mut status = Vec::new();
        for _ in 0..(MAX_MESSAGE_BYTES / CHUNK + 2) {
            status = phone.handle(
                &Command {
                    cla: CLA_CHAINING,
                    ins: INS_ENVELOPE,
                    p1: 0,
                    p2: 0,
                    data: vec![0; CHUNK],
                    le: None,
                }
                .to_bytes()
                .unwrap(),
                |_| Some(vec![1]),
            );
        }
        assert_eq!(status, [0x67, 0x00]);
        assert!(Response::parse(&[0x90]).is_err());
        assert!(Response::parse(&vec![0; 300]).is_err());
        let (mut reader, _) = ReaderNfc::send(b"x");
        assert!(reader.receive(&[0x6A, 0x82]).is_err());
        assert!(
            reader.receive(&[0x90, 0x00]).is_err(),
            "over after an error"
        );
        assert!(unwrap(&[0x53, 0x82, 0x00]).is_err());
        assert!(unwrap(&[0x53, 0x84, 0, 0, 0, 1, 0]).is_err());
        assert_eq!(unwrap(&wrap(&[7; 300])).unwrap(), &[7; 300][..]);
        assert!(
            Command {
                cla: 0,
                ins: 0,
                p1: 0,
                p2: 0,
                data: vec![0; 256],
                le: None
            }
            .to_bytes()
            .is_err()
        );
    }
}
