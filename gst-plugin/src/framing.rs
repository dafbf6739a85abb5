// SPDX-License-Identifier: MPL-2.0

//! Splitting a helio byte stream into frames (one access unit each, or one
//! per channel for multispectral streams), shared by `helioparse` and the
//! unparsed-input path of `heliodec`. All byte-level knowledge lives
//! in `helio_core::bitstream`; this only turns its answers into
//! "skip n / need n / here is a unit of n bytes".

use helio_core::bitstream::{self as bs, FrameType, ParseError, SequenceHeader};

/// One frame's CRC-checked access unit(s) at the start of the scanned data.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Bytes the frame spans (sequence header, if any, plus its packets).
    pub len: usize,
    /// Decodable without a reference, given the sequence header (no P packet).
    pub keyframe: bool,
    /// I for a keyframe, P when a packet needs the previous frame.
    pub frame_type: FrameType,
    /// Channel of the first packet (0 unless the frame start was lost).
    pub channel: u8,
    /// Packets found; fewer than the stream's channels when the frame is damaged.
    pub units: u8,
    /// Frame counter of the packet (wraps; a jump means lost frames).
    pub frame_number: u32,
    /// The sequence header in front of the packet, with its bytes.
    pub header: Option<(SequenceHeader, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub enum Scan {
    /// No valid unit starts here: drop `skip` (> 0) bytes, then scan again.
    Skip { skip: usize, reason: String },
    /// A unit may start here but needs at least this many bytes in total.
    NeedMore(usize),
    /// A complete access unit with valid CRCs.
    Unit(Unit),
}

/// Smallest possible access unit (a packet header with an empty payload).
pub const MIN_UNIT_LEN: usize = bs::PACKET_HEADER_LEN;

fn at_sync(data: &[u8]) -> bool {
    data.starts_with(&bs::HEADER_MAGIC) || data.starts_with(&bs::PACKET_SYNC)
}

/// Bytes at the end of `data` to keep when no sync word was found: a sync
/// word may straddle the end.
fn keep_tail(data: &[u8]) -> usize {
    (1..bs::HEADER_MAGIC.len())
        .rev()
        .find(|&n| {
            n <= data.len() && {
                let tail = &data[data.len() - n..];
                bs::HEADER_MAGIC.starts_with(tail) || bs::PACKET_SYNC.starts_with(tail)
            }
        })
        .unwrap_or(0)
}

/// Looks at the start of `data` for a whole frame: one access unit, then for a
/// multispectral stream the units of the frame's other channels. A frame cut
/// short by damage ends at the first unit that does not continue it (the
/// decoder rejects it; the parser never waits for data that will not come).
/// `known` is the stream's last sequence header.
pub fn scan(data: &[u8], known: Option<&SequenceHeader>) -> Scan {
    let first = match scan_unit(data, known) {
        Scan::Unit(u) => u,
        other => return other,
    };
    let header = first.header.as_ref().map(|(h, _)| h).or(known);
    let channels = header.map_or(1, |h| h.channels);
    if channels <= 1 || first.channel != 0 {
        return Scan::Unit(first);
    }
    let mut frame = first.clone();
    while frame.units < channels {
        match scan_unit(&data[frame.len..], header) {
            Scan::Unit(u) if u.header.is_none() && u.channel == frame.units && u.frame_number == frame.frame_number => {
                frame.len += u.len;
                frame.units += 1;
                if u.frame_type == FrameType::P {
                    frame.frame_type = FrameType::P;
                    frame.keyframe = false;
                }
            }
            Scan::NeedMore(n) => return Scan::NeedMore(frame.len + n),
            _ => break,
        }
    }
    Scan::Unit(frame)
}

/// One access unit at the start of `data`.
fn scan_unit(data: &[u8], known: Option<&SequenceHeader>) -> Scan {
    if data.len() >= 4 && !at_sync(data) {
        return match bs::find_next_sync(data) {
            Some(offset) => Scan::Skip {
                skip: offset,
                reason: "no sync word".into(),
            },
            None => {
                let skip = data.len() - keep_tail(data);
                Scan::Skip {
                    skip,
                    reason: "no sync word".into(),
                }
            }
        };
    }

    let len = match bs::peek_unit_len_with(data, known) {
        Ok(Some(len)) => len,
        Ok(None) => {
            // The fixed-size headers are not complete yet.
            let min = if data.starts_with(&bs::HEADER_MAGIC) {
                bs::SEQUENCE_HEADER_LEN + bs::PACKET_HEADER_LEN
            } else {
                bs::PACKET_HEADER_LEN
            };
            return Scan::NeedMore(min.max(data.len() + 1));
        }
        Err(err) => {
            return Scan::Skip {
                skip: 1,
                reason: err.to_string(),
            };
        }
    };
    if data.len() < len {
        return Scan::NeedMore(len);
    }

    match bs::parse_access_unit(&data[..len], known) {
        Ok(au) => Scan::Unit(Unit {
            len,
            keyframe: au.packet.header.frame_type != FrameType::P,
            frame_type: match au.packet.header.frame_type {
                FrameType::P => FrameType::P,
                _ => FrameType::I,
            },
            channel: au.packet.header.channel,
            units: 1,
            frame_number: au.packet.header.frame_number,
            header: au.header.map(|h| {
                let n = h.encoded_len();
                (h, data[..n].to_vec())
            }),
        }),
        // Cannot happen after peek_unit_len said the unit is complete, but be safe.
        Err(ParseError::NeedMore { needed, .. }) => Scan::NeedMore(needed.max(len + 1)),
        Err(err) => Scan::Skip {
            skip: 1,
            reason: err.to_string(),
        },
    }
}

pub use bs::is_keyframe;

/// Parses a sequence header (e.g. from caps `streamheader`).
pub fn parse_sequence_header(data: &[u8]) -> Option<SequenceHeader> {
    SequenceHeader::parse(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_tail_keeps_partial_sync() {
        assert_eq!(keep_tail(b"xxxxHL"), 2);
        assert_eq!(keep_tail(b"xxxxHLI"), 3);
        assert_eq!(keep_tail(b"xxxxHLF"), 3);
        assert_eq!(keep_tail(b"xxxxH"), 1);
        assert_eq!(keep_tail(b"xxxxx"), 0);
    }

    #[test]
    fn garbage_is_skipped() {
        match scan(b"garbage without sync", None) {
            Scan::Skip { skip, .. } => assert_eq!(skip, 20),
            other => panic!("{other:?}"),
        }
        match scan(b"junkHLFR", None) {
            Scan::Skip { skip, .. } => assert_eq!(skip, 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_sync_needs_more() {
        assert!(matches!(scan(b"HLFR", None), Scan::NeedMore(n) if n >= MIN_UNIT_LEN));
        assert!(matches!(scan(b"HL", None), Scan::NeedMore(_)));
    }
}
