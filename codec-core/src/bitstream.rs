//! Bitstream v1: sequence header and frame packets (layout in `codec-core/BITSTREAM.md`).
//!
//! Everything here is plain byte work with no model or runtime involved, so the
//! parser element (helioparse) and the fuzzers can use it on untrusted input:
//! every length is checked against the buffer and against bounds derived from the
//! frame size before anything is allocated, and every failure is a [`ParseError`].

use std::fmt;

use crate::intensity::IntensityTransform;

/// Sequence header magic, bytes 0..4 of every keyframe access unit.
pub const HEADER_MAGIC: [u8; 4] = *b"HLIO";
/// Frame packet sync word. Distinct from [`HEADER_MAGIC`] in its last two bytes.
pub const PACKET_SYNC: [u8; 4] = *b"HLFR";
pub const VERSION: u8 = 1;
/// Size of a v1 sequence header without a wavelength list (every monochrome
/// stream), CRC included; a list of n wavelengths adds 2n bytes
/// ([`SequenceHeader::encoded_len`]).
pub const SEQUENCE_HEADER_LEN: usize = 28;
/// Longest sequence header: one wavelength per channel at [`MAX_CHANNELS`].
pub const MAX_SEQUENCE_HEADER_LEN: usize = SEQUENCE_HEADER_LEN + 2 * MAX_CHANNELS as usize;
/// Size of a packet header (sync .. CRC), before the payload.
pub const PACKET_HEADER_LEN: usize = 20;

pub const MIN_DIMENSION: u32 = 64;
pub const MAX_DIMENSION: u32 = 4096;
pub const MIN_BIT_DEPTH: u8 = 8;
pub const MAX_BIT_DEPTH: u8 = 16;
/// SDO/AIA has 9 EUV/UV channels; leave room for other instruments.
pub const MAX_CHANNELS: u8 = 16;

/// Largest payload a packet for a `width` x `height` plane may declare: 4 bytes per
/// pixel (far above any learned codec's rate) plus 64 KiB of slack for tiny frames.
pub fn max_payload_len(width: u32, height: u32) -> usize {
    width as usize * height as usize * 4 + 64 * 1024
}

/// Bound used when the frame size is unknown (a packet seen without its header).
pub fn max_payload_len_any() -> usize {
    max_payload_len(MAX_DIMENSION, MAX_DIMENSION)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// Intra frame: decodable on its own.
    I = 0,
    /// Predicted frame: needs the same channel's reconstruction in the previous frame.
    P = 1,
    /// Cross-channel prediction (multispectral): predicted from another channel
    /// of the same frame, already decoded (`PacketHeader::ref_channel`).
    X = 2,
}

impl FrameType {
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::I),
            1 => Some(Self::P),
            2 => Some(Self::X),
            _ => None,
        }
    }
}

/// How the latents are entropy coded; tells a decoder which model family it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntropyModelKind {
    /// Mean-scale hyperprior: factorized z, Gaussian y conditioned on h_s(z).
    Hyperprior = 1,
    /// The hyperprior's z, then y in uneven channel groups, each coded in two
    /// checkerboard passes (anchors, then non-anchors with local context).
    ChannelGroupsCheckerboard = 2,
}

impl EntropyModelKind {
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Hyperprior),
            2 => Some(Self::ChannelGroupsCheckerboard),
            _ => None,
        }
    }

    /// The `entropy_model` string of model.json that maps to this kind.
    pub fn from_model_json(name: &str) -> Option<Self> {
        match name {
            "hyperprior" => Some(Self::Hyperprior),
            "channel-groups-checkerboard" => Some(Self::ChannelGroupsCheckerboard),
            _ => None,
        }
    }
}

/// First 8 bytes of SHA-256 over the model package (see `models/PACKAGE.md`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ModelId(pub [u8; 8]);

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelId({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not enough bytes yet; `needed` is the total the unit needs so far.
    #[error("need {needed} bytes, have {have}")]
    NeedMore { needed: usize, have: usize },
    #[error("no sequence header magic or packet sync word at this position (found {found:02x?})")]
    NoSync { found: Vec<u8> },
    #[error("bitstream version {0} is not supported (this build reads version {VERSION})")]
    UnsupportedVersion(u8),
    #[error("sequence header CRC mismatch (stored {stored:08x}, computed {computed:08x})")]
    HeaderCrc { stored: u32, computed: u32 },
    #[error("frame packet CRC mismatch (stored {stored:08x}, computed {computed:08x})")]
    PacketCrc { stored: u32, computed: u32 },
    #[error("{field} = {value} is out of range ({allowed})")]
    BadField { field: &'static str, value: u64, allowed: &'static str },
    #[error("payload length {len} exceeds the bound {max} for this frame size")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("sequence header not followed by a frame packet")]
    HeaderWithoutPacket,
    #[error("{0} trailing bytes after the access unit")]
    TrailingBytes(usize),
}

type ParseResult<T> = std::result::Result<T, ParseError>;

fn need(data: &[u8], needed: usize) -> ParseResult<()> {
    if data.len() < needed {
        Err(ParseError::NeedMore { needed, have: data.len() })
    } else {
        Ok(())
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn check_range(field: &'static str, value: u64, lo: u64, hi: u64, allowed: &'static str) -> ParseResult<()> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ParseError::BadField { field, value, allowed })
    }
}

/// Stream-wide parameters, repeated at every keyframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceHeader {
    pub width: u32,
    pub height: u32,
    /// Planes per frame (1 = monochrome; multispectral streams send one packet per channel).
    pub channels: u8,
    pub bit_depth: u8,
    pub transform: IntensityTransform,
    pub entropy_model: EntropyModelKind,
    /// Quality levels of the model package (informative; packets carry the level used).
    pub quality_levels: u8,
    pub model_id: ModelId,
    /// Wavelength of each channel (Angstrom, strictly increasing), or empty when
    /// unknown. Multispectral streams (channels > 1) carry one per channel.
    pub wavelengths: Vec<u16>,
}

impl SequenceHeader {
    /// Checks the field bounds (the same ones the parser enforces).
    pub fn validate(&self) -> ParseResult<()> {
        let (lo, hi) = (MIN_DIMENSION as u64, MAX_DIMENSION as u64);
        check_range("width", self.width as u64, lo, hi, "64..=4096")?;
        check_range("height", self.height as u64, lo, hi, "64..=4096")?;
        check_range("channels", self.channels as u64, 1, MAX_CHANNELS as u64, "1..=16")?;
        check_range("bit depth", self.bit_depth as u64, MIN_BIT_DEPTH as u64, MAX_BIT_DEPTH as u64, "8..=16")?;
        check_range("quality levels", self.quality_levels as u64, 1, 255, "1..=255")?;
        let n = self.wavelengths.len();
        if (self.channels > 1 && n != self.channels as usize) || (self.channels == 1 && n > 1) {
            return Err(ParseError::BadField {
                field: "wavelength count",
                value: n as u64,
                allowed: "one per channel (monochrome streams: 0 or 1)",
            });
        }
        if self.wavelengths.first() == Some(&0) || self.wavelengths.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ParseError::BadField {
                field: "wavelengths",
                value: self.wavelengths.iter().map(|&w| w as u64).min().unwrap_or(0),
                allowed: "nonzero and strictly increasing",
            });
        }
        Ok(())
    }

    /// Bytes of this header: 28, plus 2 per wavelength.
    pub fn encoded_len(&self) -> usize {
        SEQUENCE_HEADER_LEN + 2 * self.wavelengths.len()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write(&mut out);
        out
    }

    /// Appends the header bytes. Panics if a dimension exceeds u16 (validate first).
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&HEADER_MAGIC);
        out.push(VERSION);
        out.push(self.encoded_len() as u8);
        out.extend_from_slice(&u16::try_from(self.width).expect("width fits u16").to_be_bytes());
        out.extend_from_slice(&u16::try_from(self.height).expect("height fits u16").to_be_bytes());
        out.push(self.channels);
        out.push(self.bit_depth);
        out.push(self.transform.id());
        out.push(self.entropy_model as u8);
        out.push(self.quality_levels);
        out.push(0); // reserved flags
        out.extend_from_slice(&self.model_id.0);
        for w in &self.wavelengths {
            out.extend_from_slice(&w.to_be_bytes());
        }
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// Parses the header at the start of `data` (trailing bytes are left alone).
    pub fn parse(data: &[u8]) -> ParseResult<Self> {
        need(data, 6)?;
        if data[..4] != HEADER_MAGIC {
            return Err(ParseError::NoSync { found: data[..4].to_vec() });
        }
        if data[4] != VERSION {
            return Err(ParseError::UnsupportedVersion(data[4]));
        }
        let len = data[5] as usize;
        if !(SEQUENCE_HEADER_LEN..=MAX_SEQUENCE_HEADER_LEN).contains(&len) || !len.is_multiple_of(2) {
            return Err(ParseError::BadField {
                field: "header length",
                value: len as u64,
                allowed: "28 + 2 x wavelengths (28..=60, even)",
            });
        }
        need(data, len)?;
        let h = &data[..len];
        let stored = be32(&h[len - 4..len]);
        let computed = crc32fast::hash(&h[..len - 4]);
        if stored != computed {
            return Err(ParseError::HeaderCrc { stored, computed });
        }
        if h[15] != 0 {
            return Err(ParseError::BadField { field: "header flags", value: h[15] as u64, allowed: "0" });
        }
        let transform = IntensityTransform::from_id(h[12]).ok_or(ParseError::BadField {
            field: "intensity transform id",
            value: h[12] as u64,
            allowed: "0 (linear) or 1 (sqrt)",
        })?;
        let entropy_model = EntropyModelKind::from_id(h[13]).ok_or(ParseError::BadField {
            field: "entropy model kind",
            value: h[13] as u64,
            allowed: "1 (hyperprior) or 2 (channel groups + checkerboard)",
        })?;
        let header = SequenceHeader {
            width: be16(&h[6..8]) as u32,
            height: be16(&h[8..10]) as u32,
            channels: h[10],
            bit_depth: h[11],
            transform,
            entropy_model,
            quality_levels: h[14],
            model_id: ModelId(h[16..24].try_into().expect("8 bytes")),
            wavelengths: h[24..len - 4].chunks_exact(2).map(be16).collect(),
        };
        header.validate()?;
        Ok(header)
    }

    /// Payload bound for one packet of this stream.
    pub fn max_payload_len(&self) -> usize {
        max_payload_len(self.width, self.height)
    }
}

/// The fixed fields in front of a packet's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    pub frame_type: FrameType,
    /// 1-based quality level (index into the model's `qualities`).
    pub quality: u8,
    /// Plane of a multispectral frame (0 for monochrome).
    pub channel: u8,
    /// X-frames: the channel of the same frame they are predicted from (below
    /// `channel`); 0 for I and P.
    pub ref_channel: u8,
    /// Increments by one per frame (wrapping); a jump means frames were lost.
    pub frame_number: u32,
    pub payload_len: u32,
}

/// A packet whose CRC has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub header: PacketHeader,
    pub payload: &'a [u8],
}

impl PacketHeader {
    fn field_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&PACKET_SYNC);
        b[4] = self.frame_type as u8;
        b[5] = self.quality;
        b[6] = self.channel;
        b[7] = self.ref_channel;
        b[8..12].copy_from_slice(&self.frame_number.to_be_bytes());
        b[12..16].copy_from_slice(&self.payload_len.to_be_bytes());
        b
    }

    /// Parses the 20 header bytes without checking the payload CRC.
    /// `max_payload` bounds the declared length (see [`max_payload_len`]).
    pub fn parse(data: &[u8], max_payload: usize) -> ParseResult<(Self, u32)> {
        need(data, 4)?;
        if data[..4] != PACKET_SYNC {
            return Err(ParseError::NoSync { found: data[..4].to_vec() });
        }
        need(data, PACKET_HEADER_LEN)?;
        let frame_type = FrameType::from_id(data[4]).ok_or(ParseError::BadField {
            field: "frame type",
            value: data[4] as u64,
            allowed: "0 (I), 1 (P) or 2 (X)",
        })?;
        if data[5] == 0 {
            return Err(ParseError::BadField { field: "quality", value: 0, allowed: "1..=255" });
        }
        if data[6] >= MAX_CHANNELS {
            return Err(ParseError::BadField { field: "channel index", value: data[6] as u64, allowed: "0..=15" });
        }
        let ref_ok = match frame_type {
            FrameType::X => data[7] < data[6],
            FrameType::I | FrameType::P => data[7] == 0,
        };
        if !ref_ok {
            return Err(ParseError::BadField {
                field: "reference channel",
                value: data[7] as u64,
                allowed: "below the packet's channel for X-frames, else 0",
            });
        }
        let payload_len = be32(&data[12..16]);
        if payload_len as usize > max_payload {
            return Err(ParseError::PayloadTooLarge { len: payload_len as usize, max: max_payload });
        }
        let header = PacketHeader {
            frame_type,
            quality: data[5],
            channel: data[6],
            ref_channel: data[7],
            frame_number: be32(&data[8..12]),
            payload_len,
        };
        Ok((header, be32(&data[16..20])))
    }
}

/// Appends one packet (header, CRC, payload).
pub fn write_packet(header: &PacketHeader, payload: &[u8], out: &mut Vec<u8>) {
    let header = PacketHeader { payload_len: u32::try_from(payload.len()).expect("payload < 4 GiB"), ..*header };
    let fields = header.field_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&fields);
    crc.update(payload);
    out.extend_from_slice(&fields);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out.extend_from_slice(payload);
}

/// Parses and CRC-checks the packet at the start of `data`; returns it and its size.
pub fn parse_packet(data: &[u8], max_payload: usize) -> ParseResult<(Packet<'_>, usize)> {
    let (header, stored) = PacketHeader::parse(data, max_payload)?;
    let total = PACKET_HEADER_LEN + header.payload_len as usize;
    need(data, total)?;
    let payload = &data[PACKET_HEADER_LEN..total];
    let mut crc = crc32fast::Hasher::new();
    crc.update(&data[..16]);
    crc.update(payload);
    let computed = crc.finalize();
    if stored != computed {
        return Err(ParseError::PacketCrc { stored, computed });
    }
    Ok((Packet { header, payload }, total))
}

/// One access unit: an optional sequence header (present on keyframes) and a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit<'a> {
    pub header: Option<SequenceHeader>,
    pub packet: Packet<'a>,
}

/// Parses exactly one access unit spanning all of `data`. `known` bounds the payload
/// of a packet that arrives without its own header (else the global bound applies).
pub fn parse_access_unit<'a>(data: &'a [u8], known: Option<&SequenceHeader>) -> ParseResult<AccessUnit<'a>> {
    let (header, rest) = if data.starts_with(&HEADER_MAGIC) {
        let h = SequenceHeader::parse(data)?;
        let n = h.encoded_len();
        (Some(h), &data[n..])
    } else {
        (None, data)
    };
    let max = header.as_ref().or(known).map_or_else(max_payload_len_any, SequenceHeader::max_payload_len);
    if header.is_some() && rest.len() >= 4 && rest[..4] != PACKET_SYNC {
        return Err(ParseError::HeaderWithoutPacket);
    }
    let (packet, used) = parse_packet(rest, max).map_err(|e| match e {
        // Report sizes relative to the whole unit.
        ParseError::NeedMore { needed, have } => {
            let off = data.len() - rest.len();
            ParseError::NeedMore { needed: needed + off, have: have + off }
        }
        e => e,
    })?;
    if used != rest.len() {
        return Err(ParseError::TrailingBytes(rest.len() - used));
    }
    Ok(AccessUnit { header, packet })
}

/// Offset of the first sequence header magic or packet sync word in `data`.
/// A match is only a candidate: confirm it with [`peek_unit_len`] (which checks
/// the header CRC) and the packet CRC, since payload bytes can mimic a sync word.
pub fn find_next_sync(data: &[u8]) -> Option<usize> {
    data.windows(4).position(|w| w == HEADER_MAGIC || w == PACKET_SYNC)
}

/// How many bytes the access unit at the start of `data` spans, from the headers
/// alone (the packet CRC is not checked; the payload may not be there yet).
/// `Ok(None)`: need more data. `Err`: not a valid unit start; resync with
/// [`find_next_sync`] from offset 1.
pub fn peek_unit_len(data: &[u8]) -> ParseResult<Option<usize>> {
    peek_unit_len_with(data, None)
}

/// [`peek_unit_len`] with the stream's last sequence header, which bounds the
/// payload of packets that arrive without a header far tighter than the global bound.
pub fn peek_unit_len_with(data: &[u8], known: Option<&SequenceHeader>) -> ParseResult<Option<usize>> {
    let lift = |r: ParseResult<usize>| match r {
        Ok(n) => Ok(Some(n)),
        Err(ParseError::NeedMore { .. }) => Ok(None),
        Err(e) => Err(e),
    };
    if data.len() < 4 {
        // Too short to tell; but reject early what can't become a sync word.
        let prefix_ok = HEADER_MAGIC.starts_with(data) || PACKET_SYNC.starts_with(data);
        return if prefix_ok { Ok(None) } else { Err(ParseError::NoSync { found: data.to_vec() }) };
    }
    let (header, off) = if data.starts_with(&HEADER_MAGIC) {
        match SequenceHeader::parse(data) {
            Ok(h) => {
                let n = h.encoded_len();
                (Some(h), n)
            }
            Err(ParseError::NeedMore { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
    } else {
        (None, 0)
    };
    let rest = &data[off..];
    if header.is_some() && rest.len() >= 4 && rest[..4] != PACKET_SYNC {
        return Err(ParseError::HeaderWithoutPacket);
    }
    let max = header.as_ref().or(known).map_or_else(max_payload_len_any, SequenceHeader::max_payload_len);
    lift(PacketHeader::parse(rest, max).map(|(h, _)| off + PACKET_HEADER_LEN + h.payload_len as usize))
}

/// Whether a frame (its access units, as a parser outputs them) is a
/// keyframe: no packet needs the previous frame. Only looks at the headers;
/// the decoder checks the rest.
pub fn is_keyframe(data: &[u8]) -> bool {
    match split_units(data, None) {
        Ok(units) if !units.is_empty() => units.iter().all(|u| {
            let packet = match SequenceHeader::parse(u) {
                Ok(h) => &u[h.encoded_len()..],
                Err(_) => u,
            };
            matches!(PacketHeader::parse(packet, max_payload_len_any()),
                Ok((header, _)) if header.frame_type != FrameType::P)
        }),
        _ => false,
    }
}

/// Splits `data`, the access units of one frame (one per channel of a
/// multispectral frame, in channel order), into those units. Each unit's
/// headers are checked as in [`peek_unit_len_with`]; a unit cut short is
/// [`ParseError::NeedMore`]. A sequence header in the first unit bounds the
/// payloads of the units after it.
pub fn split_units<'a>(data: &'a [u8], known: Option<&SequenceHeader>) -> ParseResult<Vec<&'a [u8]>> {
    let mut units = Vec::new();
    let mut header = known.cloned();
    let mut rest = data;
    while !rest.is_empty() {
        let len = peek_unit_len_with(rest, header.as_ref())?
            .ok_or(ParseError::NeedMore { needed: data.len() - rest.len() + PACKET_HEADER_LEN, have: data.len() })?;
        if len > rest.len() {
            return Err(ParseError::NeedMore { needed: data.len() - rest.len() + len, have: data.len() });
        }
        if rest.starts_with(&HEADER_MAGIC) {
            header = Some(SequenceHeader::parse(rest)?);
        }
        units.push(&rest[..len]);
        rest = &rest[len..];
        if units.len() > MAX_CHANNELS as usize {
            return Err(ParseError::BadField {
                field: "access units in one frame",
                value: units.len() as u64,
                allowed: "at most 16 (one per channel)",
            });
        }
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SequenceHeader {
        SequenceHeader {
            width: 371,
            height: 501,
            channels: 1,
            bit_depth: 14,
            transform: IntensityTransform::Sqrt,
            entropy_model: EntropyModelKind::Hyperprior,
            quality_levels: 4,
            model_id: ModelId([1, 2, 3, 4, 5, 6, 7, 8]),
            wavelengths: vec![],
        }
    }

    fn ms_header() -> SequenceHeader {
        SequenceHeader { channels: 3, wavelengths: vec![171, 193, 304], ..header() }
    }

    /// The units of one 3-channel frame: header + I (ch 0), X from 0 (ch 1), X from 1 (ch 2).
    fn ms_frame() -> Vec<u8> {
        let mut out = ms_header().to_bytes();
        for (channel, frame_type, ref_channel) in [(0, FrameType::I, 0), (1, FrameType::X, 0), (2, FrameType::X, 1)] {
            let ph = PacketHeader { frame_type, quality: 2, channel, ref_channel, frame_number: 9, payload_len: 0 };
            write_packet(&ph, &[channel; 12], &mut out);
        }
        out
    }

    #[test]
    fn multispectral_header_carries_wavelengths() {
        let bytes = ms_header().to_bytes();
        assert_eq!(bytes.len(), SEQUENCE_HEADER_LEN + 6);
        assert_eq!(bytes[5] as usize, bytes.len());
        assert_eq!(&bytes[24..30], &[0, 171, 0, 193, 1, 48]);
        assert_eq!(SequenceHeader::parse(&bytes).unwrap(), ms_header());
        // Monochrome headers stay 28 bytes, as before wavelengths existed.
        assert_eq!(header().encoded_len(), SEQUENCE_HEADER_LEN);
        // A wavelength list that does not match the channels, or is not increasing.
        for bad in [
            SequenceHeader { wavelengths: vec![171, 193], ..ms_header() },
            SequenceHeader { wavelengths: vec![193, 171, 304], ..ms_header() },
            SequenceHeader { wavelengths: vec![0, 171, 304], ..ms_header() },
            SequenceHeader { channels: 3, ..header() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
            assert!(SequenceHeader::parse(&bad.to_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn frame_of_several_units_splits_per_channel() {
        let data = ms_frame();
        let units = split_units(&data, None).unwrap();
        assert_eq!(units.len(), 3);
        let known = ms_header();
        for (c, u) in units.iter().enumerate() {
            let au = parse_access_unit(u, Some(&known)).unwrap();
            assert_eq!(au.header.is_some(), c == 0);
            assert_eq!(au.packet.header.channel as usize, c);
            assert_eq!(au.packet.payload, &[c as u8; 12]);
        }
        let x = parse_access_unit(units[2], Some(&known)).unwrap().packet.header;
        assert_eq!((x.frame_type, x.ref_channel), (FrameType::X, 1));
        // Cut anywhere: never a panic; NeedMore inside a unit, the whole units
        // before a cut between units (the decoder counts them against channels).
        let ends: Vec<usize> = units.iter().scan(0, |end, u| {
            *end += u.len();
            Some(*end)
        }).collect();
        for n in 0..data.len() {
            match split_units(&data[..n], None) {
                Ok(u) => assert!(n == 0 || ends[..u.len()].last() == Some(&n), "cut at {n}: {} units", u.len()),
                Err(e) => assert!(matches!(e, ParseError::NeedMore { .. }), "cut at {n}: {e}"),
            }
        }
    }

    #[test]
    fn x_frame_reference_must_be_an_earlier_channel() {
        for (channel, frame_type, ref_channel, ok) in [
            (1, FrameType::X, 0, true),
            (1, FrameType::X, 1, false),
            (0, FrameType::X, 0, false),
            (2, FrameType::P, 1, false),
            (2, FrameType::I, 0, true),
        ] {
            let mut out = Vec::new();
            let ph = PacketHeader { frame_type, quality: 1, channel, ref_channel, frame_number: 0, payload_len: 0 };
            write_packet(&ph, &[1, 2, 3], &mut out);
            assert_eq!(parse_packet(&out, 100).is_ok(), ok, "{ph:?}");
        }
    }

    fn unit(payload: &[u8]) -> Vec<u8> {
        let mut out = header().to_bytes();
        let ph = PacketHeader {
            frame_type: FrameType::I,
            quality: 3,
            channel: 0,
            ref_channel: 0,
            frame_number: 7,
            payload_len: 0,
        };
        write_packet(&ph, payload, &mut out);
        out
    }

    #[test]
    fn header_round_trip_and_size() {
        let bytes = header().to_bytes();
        assert_eq!(bytes.len(), SEQUENCE_HEADER_LEN);
        assert_eq!(SequenceHeader::parse(&bytes).unwrap(), header());
    }

    #[test]
    fn access_unit_round_trip() {
        let payload: Vec<u8> = (0..1000u32).map(|i| (i * 37 % 251) as u8).collect();
        let bytes = unit(&payload);
        assert_eq!(peek_unit_len(&bytes).unwrap(), Some(bytes.len()));
        let au = parse_access_unit(&bytes, None).unwrap();
        assert_eq!(au.header, Some(header()));
        assert_eq!(au.packet.payload, &payload[..]);
        assert_eq!(au.packet.header.frame_number, 7);
        assert_eq!(au.packet.header.quality, 3);
        assert_eq!(au.packet.header.payload_len as usize, payload.len());
        // The packet alone is a unit too (P-frames, or I packets after the header was seen).
        let packet = &bytes[SEQUENCE_HEADER_LEN..];
        assert_eq!(peek_unit_len(packet).unwrap(), Some(packet.len()));
        assert!(parse_access_unit(packet, Some(&header())).unwrap().header.is_none());
    }

    #[test]
    fn every_header_byte_flip_is_rejected() {
        let bytes = unit(b"payload");
        for i in 0..SEQUENCE_HEADER_LEN {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(SequenceHeader::parse(&b).is_err(), "flip byte {i} bit {bit} accepted");
                assert!(parse_access_unit(&b, None).is_err(), "flip byte {i} bit {bit}: unit accepted");
            }
        }
    }

    #[test]
    fn every_packet_byte_flip_is_rejected() {
        let bytes = unit(&[0x5a; 64]);
        for i in SEQUENCE_HEADER_LEN..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(parse_access_unit(&b, None).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn truncation_needs_more_never_panics() {
        let bytes = unit(&[9u8; 300]);
        for n in 0..bytes.len() {
            assert_eq!(peek_unit_len(&bytes[..n]).unwrap(), if n < SEQUENCE_HEADER_LEN + PACKET_HEADER_LEN {
                None
            } else {
                Some(bytes.len())
            });
            match parse_access_unit(&bytes[..n], None) {
                Err(ParseError::NeedMore { needed, have }) => {
                    assert_eq!(have, n);
                    assert!(needed > n && needed <= bytes.len(), "n={n} needed={needed}");
                }
                other => panic!("prefix of {n} bytes gave {other:?}"),
            }
        }
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = unit(b"abc");
        bytes.push(0);
        assert_eq!(parse_access_unit(&bytes, None), Err(ParseError::TrailingBytes(1)));
    }

    #[test]
    fn huge_declared_length_is_rejected_before_allocating() {
        let mut bytes = unit(b"abc");
        let len_at = SEQUENCE_HEADER_LEN + 12;
        bytes[len_at..len_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(peek_unit_len(&bytes), Err(ParseError::PayloadTooLarge { .. })));
        // Without the header only the global bound applies, but it still applies.
        assert!(matches!(peek_unit_len(&bytes[SEQUENCE_HEADER_LEN..]), Err(ParseError::PayloadTooLarge { .. })));
    }

    #[test]
    fn bounds_on_dimensions_and_depth() {
        for (w, h, bd, ok) in [
            (64, 64, 8, true),
            (4096, 4096, 16, true),
            (101, 67, 14, true),
            (63, 64, 8, false),
            (64, 4097, 8, false),
            (64, 64, 7, false),
            (64, 64, 17, false),
        ] {
            let hdr = SequenceHeader { width: w, height: h, bit_depth: bd, ..header() };
            assert_eq!(hdr.validate().is_ok(), ok, "{w}x{h}@{bd}");
            if w <= u16::MAX as u32 && h <= u16::MAX as u32 {
                assert_eq!(SequenceHeader::parse(&hdr.to_bytes()).is_ok(), ok, "{w}x{h}@{bd} parse");
            }
        }
    }

    #[test]
    fn sync_search_finds_both_words() {
        let bytes = unit(b"xyz");
        let mut stream = vec![0u8, 1, 2];
        stream.extend_from_slice(&bytes);
        assert_eq!(find_next_sync(&stream), Some(3));
        assert_eq!(find_next_sync(&stream[4..]).map(|p| p + 4), Some(3 + SEQUENCE_HEADER_LEN));
        assert_eq!(find_next_sync(b"HLI"), None);
        assert!(peek_unit_len(b"HL").unwrap().is_none());
        assert!(peek_unit_len(b"Hx").is_err());
        assert!(peek_unit_len(b"xxxx").is_err());
    }

    #[test]
    fn header_then_garbage_is_rejected() {
        let mut bytes = header().to_bytes();
        bytes.extend_from_slice(b"JUNKJUNKJUNKJUNKJUNKJUNK");
        assert_eq!(peek_unit_len(&bytes), Err(ParseError::HeaderWithoutPacket));
    }
}
