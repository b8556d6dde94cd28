//! A layer to hand to the next node: the OMQ `sn.onion_request` message.

use std::fmt;

use x25519_dalek::PublicKey;

use super::PeelError;
use crate::protocol::bencode::BtValue;
use crate::protocol::onion::EncType;

/// A layer to relay to the next node: the OMQ `sn.onion_request` message.
///
/// Bt form ([`NextLayer::to_bt`], SS `omq.cpp encode_onion_data`):
/// `d4:data<blob>8:enc_type<str>13:ephemeral_key32:<raw key>6:hop_noi<n>ee`.
#[derive(Clone)]
pub struct NextLayer {
    /// The next layer's ciphertext.
    pub blob: Vec<u8>,
    /// Its ephemeral X25519 key.
    pub ephemeral_key: PublicKey,
    /// Its cipher.
    pub enc_type: EncType,
    /// Its hop number.
    pub hop_no: u32,
}

impl fmt::Debug for NextLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextLayer")
            .field("blob_len", &self.blob.len())
            .field("enc_type", &self.enc_type)
            .field("hop_no", &self.hop_no)
            .finish_non_exhaustive()
    }
}

impl NextLayer {
    /// Encodes as the `sn.onion_request` bt dict.
    pub fn to_bt(&self) -> Vec<u8> {
        let mut d = std::collections::BTreeMap::new();
        d.insert(b"data".to_vec(), BtValue::Bytes(self.blob.clone()));
        d.insert(
            b"enc_type".to_vec(),
            BtValue::Bytes(self.enc_type.as_wire().into()),
        );
        d.insert(
            b"ephemeral_key".to_vec(),
            BtValue::Bytes(self.ephemeral_key.as_bytes().to_vec()),
        );
        d.insert(b"hop_no".to_vec(), BtValue::Int(i64::from(self.hop_no)));
        BtValue::Dict(d).encode()
    }

    /// Decodes the `sn.onion_request` bt dict (`enc_type` defaults to AES-GCM, `hop_no` to 0).
    pub fn from_bt(bytes: &[u8]) -> Result<Self, PeelError> {
        let BtValue::Dict(d) =
            BtValue::decode(bytes).map_err(|_| PeelError::Malformed("invalid bt dict"))?
        else {
            return Err(PeelError::Malformed("invalid bt dict"));
        };
        let blob = d
            .get(&b"data"[..])
            .and_then(BtValue::as_bytes)
            .ok_or(PeelError::Malformed("required data payload not found"))?
            .to_vec();
        let enc_type = match d.get(&b"enc_type"[..]) {
            None => EncType::AesGcm,
            Some(v) => v
                .as_bytes()
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| EncType::from_wire(s).ok())
                .ok_or(PeelError::Malformed("Invalid encryption type"))?,
        };
        let key: [u8; 32] = d
            .get(&b"ephemeral_key"[..])
            .and_then(BtValue::as_bytes)
            .and_then(|b| b.try_into().ok())
            .ok_or(PeelError::Malformed("ephemeral key not found"))?;
        let hop_no = match d.get(&b"hop_no"[..]) {
            None => 0,
            Some(v) => {
                let n = v.as_int().ok_or(PeelError::Malformed("invalid hop_no"))?;
                u32::try_from(n.max(0)).unwrap_or(u32::MAX)
            }
        };
        Ok(NextLayer {
            blob,
            ephemeral_key: PublicKey::from(key),
            enc_type,
            hop_no,
        })
    }
}
