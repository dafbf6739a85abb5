//! Arbitrary bytes through every bitstream entry point a parser or decoder
//! uses on untrusted input: no panic, no huge allocation, and anything that
//! parses re-serializes to the same bytes.
#![no_main]

use helio_core::bitstream::{self, SequenceHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bitstream::find_next_sync(data);
    let _ = SequenceHeader::parse(data);
    let _ = helio_core::intra::read_payload(data);
    let _ = helio_core::inter::read_payload(data);

    let peeked = bitstream::peek_unit_len(data);
    let known = SequenceHeader::parse(data).ok();
    let _ = bitstream::peek_unit_len_with(data, known.as_ref());

    // A frame of several units (multispectral): every unit it yields must
    // lie inside the input, back to back, covering all of it.
    if let Ok(units) = bitstream::split_units(data, known.as_ref()) {
        assert_eq!(units.iter().map(|u| u.len()).sum::<usize>(), data.len());
        assert!(units.len() <= bitstream::MAX_CHANNELS as usize);
    }

    if let Ok(unit) = bitstream::parse_access_unit(data, None) {
        // A whole valid unit: peek must agree on its length...
        assert_eq!(peeked, Ok(Some(data.len())));
        // ...and writing it back gives the same bytes.
        let mut out = Vec::new();
        if let Some(h) = &unit.header {
            h.write(&mut out);
        }
        bitstream::write_packet(&unit.packet.header, unit.packet.payload, &mut out);
        assert_eq!(out, data);
    }
});
