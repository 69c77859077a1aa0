//! The ISO/IEC 18013-5 exchange over Bluetooth Low Energy (§8.3.3.1.1), mdoc peripheral
//! server mode: the phone is the GATT server of the service whose UUID its engagement gives,
//! with three characteristics — State (the reader writes `01` to start, `02` to end),
//! Client2Server (the reader's messages, written) and Server2Client (the phone's, notified).
//! A session message crosses in fragments of at most ATT MTU − 3 bytes, each led by `01` when
//! more follows and `00` for the last. The platform's BLE stack moves the fragments; this
//! module cuts and joins them, within the session message's size limit.

use crate::IdentityError;
use crate::error::too_large;

/// The State characteristic of mdoc peripheral server mode.
pub const STATE_UUID: [u8; 16] = characteristic(1);
/// The Client2Server characteristic (the reader writes).
pub const CLIENT_TO_SERVER_UUID: [u8; 16] = characteristic(2);
/// The Server2Client characteristic (the phone notifies).
pub const SERVER_TO_CLIENT_UUID: [u8; 16] = characteristic(3);
/// State: the reader starts the transfer.
pub const STATE_START: u8 = 0x01;
/// State: the transfer ends.
pub const STATE_END: u8 = 0x02;
/// The smallest ATT MTU (Bluetooth Core: 23 bytes).
pub const MIN_MTU: usize = 23;
/// The largest ATT MTU taken (Bluetooth Core: 517 bytes).
pub const MAX_MTU: usize = 517;

/// `0000000N-A123-48CE-896B-4C76973373E6`, the base of the mdoc service's characteristics.
const fn characteristic(number: u8) -> [u8; 16] {
    [
        0x00, 0x00, 0x00, number, 0xA1, 0x23, 0x48, 0xCE, 0x89, 0x6B, 0x4C, 0x76, 0x97, 0x33, 0x73,
        0xE6,
    ]
}

/// `message` in fragments for an ATT MTU of `mtu` (clamped to 23–517): each at most
/// `mtu − 3` bytes, its first byte `01` while more follows, `00` on the last.
#[must_use]
pub fn fragments(message: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let data = mtu.clamp(MIN_MTU, MAX_MTU) - 3 - 1;
    let chunks: Vec<&[u8]> = if message.is_empty() {
        vec![&[]]
    } else {
        message.chunks(data).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| {
            let mut fragment = vec![u8::from(index < last)];
            fragment.extend_from_slice(chunk);
            fragment
        })
        .collect()
}

/// A message being joined from its fragments.
#[derive(Debug, Default)]
pub struct Reassembly {
    buffer: Vec<u8>,
}

impl Reassembly {
    /// Takes one fragment: the whole message once its last fragment arrived.
    ///
    /// # Errors
    /// [`IdentityError::Structure`] for an empty fragment or
    /// another leading byte, [`IdentityError::TooLarge`] past the session message's limit
    /// (what was gathered is dropped).
    pub fn push(&mut self, fragment: &[u8]) -> Result<Option<Vec<u8>>, IdentityError> {
        let Some((&more, data)) = fragment.split_first() else {
            return Err(IdentityError::Structure("an empty BLE fragment".into()));
        };
        if more > 1 {
            self.buffer.clear();
            return Err(IdentityError::Structure(
                "a BLE fragment starts with 00 or 01".into(),
            ));
        }
        if self.buffer.len() + data.len() > crate::session::MAX_MESSAGE_BYTES {
            self.buffer.clear();
            return Err(too_large(
                "BLE message",
                format!("{} bytes", crate::session::MAX_MESSAGE_BYTES),
            ));
        }
        self.buffer.extend_from_slice(data);
        Ok((more == 0).then(|| std::mem::take(&mut self.buffer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_in_fragments_at_every_mtu() {
        for mtu in [0, 23, 185, 517, 10_000] {
            for length in [0, 1, 19, 20, 181, 182, 183, 5000] {
                let message: Vec<u8> = (0..length).map(|i| i as u8).collect();
                let pieces = fragments(&message, mtu);
                assert!(
                    pieces
                        .iter()
                        .all(|p| p.len() <= mtu.clamp(MIN_MTU, MAX_MTU) - 3)
                );
                let mut joined = Reassembly::default();
                let mut whole = None;
                for piece in &pieces {
                    assert!(whole.is_none(), "nothing after the last fragment");
                    whole = joined.push(piece).unwrap();
                }
                assert_eq!(whole, Some(message), "{mtu} {length}");
            }
        }
        assert_eq!(STATE_UUID[3], 1);
        assert_eq!(SERVER_TO_CLIENT_UUID[15], 0xE6);
    }

    #[test]
    fn hostile_fragments_are_typed_errors() {
        let mut joined = Reassembly::default();
        assert!(joined.push(&[]).is_err());
        assert!(joined.push(&[2, 1]).is_err());
        let big = vec![1; 513];
        let mut refused = false;
        for _ in 0..(crate::session::MAX_MESSAGE_BYTES / 512 + 2) {
            if matches!(joined.push(&big), Err(IdentityError::TooLarge { .. })) {
                refused = true;
                break;
            }
        }
        assert!(refused);
        // After a refusal it starts afresh.
        assert_eq!(joined.push(&[0, 9]).unwrap(), Some(vec![9]));
    }
}
