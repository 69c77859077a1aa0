//! The ApCV exchange over NFC (`docs/protocols/apcv.md`): ISO/IEC 7816-4 short APDUs. The
//! reader selects Carnet's application by its AID, sends its challenge in `ENVELOPE` commands
//! (chained with CLA bit 0x10 while more follows), and fetches the answer with
//! `GET RESPONSE` (`61 xx` while more remains). The core builds and parses the APDUs on both
//! sides; the platform (Android HCE, the reader's NFC stack) only moves the bytes.
//!
//! Hand-written: the framing is a few bytes, and no maintained crate does ISO 7816-4 short
//! APDUs without a smart-card stack around them.

use crate::IdentityError;
use crate::error::too_large;

/// Carnet's application identifier (proprietary range `F0`, "CARNET", version 1).
pub const AID: [u8; 8] = [0xF0, 0x43, 0x41, 0x52, 0x4E, 0x45, 0x54, 0x01];
/// Largest challenge the holder accepts over NFC.
pub const MAX_CHALLENGE_BYTES: usize = 4096;
/// Largest answer the reader collects over NFC.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

const INS_SELECT: u8 = 0xA4;
const INS_ENVELOPE: u8 = 0xC3;
const INS_GET_RESPONSE: u8 = 0xC0;
const CLA_CHAINING: u8 = 0x10;
/// Bytes of data per command or response chunk (short APDUs).
const CHUNK: usize = 255;

/// Status words (ISO/IEC 7816-4): success, more data to fetch (`0x61xx`), file not found.
const SW_OK: u16 = 0x9000;
const SW_MORE: u8 = 0x61;
const SW_NOT_FOUND: u16 = 0x6A82;
const SW_WRONG_LENGTH: u16 = 0x6700;
const SW_REFUSED: u16 = 0x6985;
const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;

/// A command APDU (short form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte (CLA): `0x00` for interindustry commands, chaining in bit 5.
    pub cla: u8,
    /// Instruction byte (INS): SELECT, ENVELOPE, GET RESPONSE.
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
    /// [`IdentityError::Nfc`] (or [`IdentityError::NotConsented`], [`IdentityError::TooLarge`]) for data over 255 bytes, which a short APDU
    /// cannot carry (chain it: [`challenge_commands`]).
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
    /// [`IdentityError::Nfc`] (or [`IdentityError::NotConsented`], [`IdentityError::TooLarge`]) for a truncated or inconsistent APDU.
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
                        "extended APDUs are not supported".into(),
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
    /// [`IdentityError::Nfc`] (or [`IdentityError::NotConsented`], [`IdentityError::TooLarge`]) for fewer than 2 bytes or more than 258.
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

/// The reader's commands carrying `challenge`: `SELECT` by AID, then chained `ENVELOPE`s.
pub fn challenge_commands(challenge: &[u8]) -> Vec<Command> {
    let mut commands = vec![Command {
        cla: 0x00,
        ins: INS_SELECT,
        p1: 0x04,
        p2: 0x00,
        data: AID.to_vec(),
        le: Some(0),
    }];
    let chunks: Vec<&[u8]> = challenge.chunks(CHUNK).collect();
    let last = chunks.len().saturating_sub(1);
    for (index, chunk) in chunks.into_iter().enumerate() {
        commands.push(Command {
            cla: if index < last { CLA_CHAINING } else { 0x00 },
            ins: INS_ENVELOPE,
            p1: 0x00,
            p2: 0x00,
            data: chunk.to_vec(),
            le: Some(0),
        });
    }
    commands
}

/// The `GET RESPONSE` a reader sends after `61 xx`.
pub fn get_response(available: u8) -> Command {
    Command {
        cla: 0x00,
        ins: INS_GET_RESPONSE,
        p1: 0x00,
        p2: 0x00,
        data: Vec::new(),
        le: Some(available),
    }
}

/// The reader's side of one exchange: feeds it each response, learns what to send next.
#[derive(Debug, Default)]
pub struct ReaderExchange {
    answer: Vec<u8>,
}

/// What the reader does after a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderStep {
    /// Send the next command of [`challenge_commands`].
    Continue,
    /// Send this `GET RESPONSE`.
    Send(Command),
    /// The whole answer (a `APCV1:` payload's bytes: the packed DeviceResponse).
    Done(Vec<u8>),
}

impl ReaderExchange {
    /// Takes a response to the last command sent.
    ///
    /// # Errors
    /// [`IdentityError::Nfc`] (or [`IdentityError::NotConsented`], [`IdentityError::TooLarge`]) for an error status (the holder refused, the
    /// application is not there) or an answer over [`MAX_ANSWER_BYTES`].
    pub fn receive(&mut self, response: &[u8]) -> Result<ReaderStep, IdentityError> {
        let response = Response::parse(response)?;
        self.answer.extend_from_slice(&response.data);
        if self.answer.len() > MAX_ANSWER_BYTES {
            return Err(too_large("NFC answer", format!("{MAX_ANSWER_BYTES} bytes")));
        }
        let [sw1, sw2] = response.status.to_be_bytes();
        match (response.status, sw1) {
            (_, SW_MORE) => Ok(ReaderStep::Send(get_response(sw2))),
            (SW_OK, _) if self.answer.is_empty() => Ok(ReaderStep::Continue),
            (SW_OK, _) => Ok(ReaderStep::Done(std::mem::take(&mut self.answer))),
            (SW_NOT_FOUND, _) => Err(IdentityError::Nfc(
                "the phone has no Carnet application ready".into(),
            )),
            (SW_REFUSED, _) => Err(IdentityError::NotConsented),
            (status, _) => Err(IdentityError::Nfc(format!(
                "the phone answered {status:04X}"
            ))),
        }
    }
}

/// The holder's side: a state machine the platform feeds each command APDU with.
#[derive(Debug, Default)]
pub struct HolderSession {
    selected: bool,
    /// A challenge went over the limit: refused until the reader selects again.
    overflowed: bool,
    challenge: Vec<u8>,
    answer: Vec<u8>,
    sent: usize,
}

impl HolderSession {
    /// Handles one command. `answer` is called once the whole challenge has arrived, with its
    /// bytes: it asks for consent and returns the answer to send (or `None`: refused).
    /// Never fails: every problem is a status word.
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
        match command.ins {
            INS_SELECT if command.p1 == 0x04 => {
                if command.data == AID {
                    *self = HolderSession {
                        selected: true,
                        ..HolderSession::default()
                    };
                    Response::status(SW_OK)
                } else {
                    Response::status(SW_NOT_FOUND)
                }
            }
            _ if !self.selected => Response::status(SW_NOT_FOUND),
            INS_ENVELOPE => {
                if self.overflowed
                    || self.challenge.len() + command.data.len() > MAX_CHALLENGE_BYTES
                {
                    self.challenge.clear();
                    self.overflowed = true;
                    return Response::status(SW_WRONG_LENGTH);
                }
                self.challenge.extend_from_slice(&command.data);
                if command.cla & CLA_CHAINING != 0 {
                    return Response::status(SW_OK);
                }
                match answer(&std::mem::take(&mut self.challenge)) {
                    Some(bytes) => {
                        self.answer = bytes;
                        self.sent = 0;
                        self.next_chunk()
                    }
                    None => Response::status(SW_REFUSED),
                }
            }
            INS_GET_RESPONSE => self.next_chunk(),
            _ => Response::status(SW_INS_NOT_SUPPORTED),
        }
    }

    /// The next chunk of the answer, with `61 xx` while more remains.
    fn next_chunk(&mut self) -> Response {
        let rest = self.answer.get(self.sent..).unwrap_or_default();
        let chunk = rest
            .get(..CHUNK.min(rest.len()))
            .unwrap_or_default()
            .to_vec();
        self.sent += chunk.len();
        let remaining = self.answer.len() - self.sent;
        let status = if remaining == 0 {
            SW_OK
        } else {
            u16::from_be_bytes([SW_MORE, remaining.min(CHUNK + 1) as u8])
        };
        Response {
            data: chunk,
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a whole exchange between a reader and a holder, through bytes only.
    fn exchange(challenge: &[u8], answer: Option<Vec<u8>>) -> Result<Vec<u8>, IdentityError> {
        let mut holder = HolderSession::default();
        let mut reader = ReaderExchange::default();
        let mut answer = answer;
        let mut seen = None;
        for command in challenge_commands(challenge) {
            let response = holder.handle(&command.to_bytes().unwrap(), |c| {
                seen = Some(c.to_vec());
                answer.take()
            });
            let mut step = reader.receive(&response)?;
            while let ReaderStep::Send(next) = step {
                let response = holder.handle(&next.to_bytes().unwrap(), |_| None);
                step = reader.receive(&response)?;
            }
            if let ReaderStep::Done(bytes) = step {
                assert_eq!(seen.as_deref(), Some(challenge));
                return Ok(bytes);
            }
        }
        Err(IdentityError::Nfc("no answer".into()))
    }

    #[test]
    fn a_short_apdu_refuses_more_than_255_bytes_of_data() {
        let command = |size: usize| Command {
            cla: 0x80,
            ins: 0xC3,
            p1: 0,
            p2: 0,
            data: vec![7; size],
            le: None,
        };
        let bytes = command(255).to_bytes().unwrap();
        assert_eq!((bytes[4], bytes.len()), (255, 260));
        assert_eq!(Command::parse(&bytes).unwrap(), command(255));
        assert!(command(256).to_bytes().is_err());
    }

    #[test]
    fn challenges_and_answers_of_any_size_cross_in_chunks() {
        for (challenge_len, answer_len) in
            [(1, 1), (255, 255), (256, 256), (700, 3000), (4096, 9000)]
        {
            let challenge: Vec<u8> = (0..challenge_len).map(|i| i as u8).collect();
            let answer: Vec<u8> = (0..answer_len).map(|i| (i * 7) as u8).collect();
            assert_eq!(exchange(&challenge, Some(answer.clone())).unwrap(), answer);
        }
    }

    #[test]
    fn refusals_and_hostile_apdus_are_status_words_or_typed_errors() {
        assert!(exchange(b"challenge", None).is_err(), "no consent");
        let mut holder = HolderSession::default();
        // Not selected yet, unknown AID, truncated and inconsistent APDUs.
        let envelope = challenge_commands(b"x").pop().unwrap().to_bytes().unwrap();
        assert_eq!(holder.handle(&envelope, |_| None), [0x6A, 0x82]);
        let other_aid = Command {
            data: vec![0xA0, 0, 0, 0],
            ..challenge_commands(b"x").remove(0)
        };
        assert_eq!(
            holder.handle(&other_aid.to_bytes().unwrap(), |_| None),
            [0x6A, 0x82]
        );
        for hostile in [
            &[][..],
            &[0x00, 0xA4],
            &[0x00, 0xC3, 0, 0, 10, 1, 2],
            &[0x00, 0xC3, 0, 0, 0, 1],
        ] {
            assert_eq!(
                holder.handle(hostile, |_| None),
                [0x67, 0x00],
                "{hostile:?}"
            );
        }
        // A challenge over the limit is refused, not buffered.
        holder.handle(
            &challenge_commands(b"x").remove(0).to_bytes().unwrap(),
            |_| None,
        );
        let mut status = Vec::new();
        for command in challenge_commands(&vec![0; MAX_CHALLENGE_BYTES + 1])
            .into_iter()
            .skip(1)
        {
            status = holder.handle(&command.to_bytes().unwrap(), |_| Some(vec![1]));
        }
        assert_eq!(status, [0x67, 0x00]);
        assert!(Response::parse(&[0x90]).is_err());
        assert!(Response::parse(&vec![0; 300]).is_err());
        let mut reader = ReaderExchange::default();
        assert!(reader.receive(&[0x69, 0x85]).is_err());
    }
}
