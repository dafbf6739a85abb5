// SPDX-License-Identifier: MPL-2.0

//! Typefinders for helio elementary streams and for FITS files, so that
//! `filesrc ! decodebin` (and `filesrc ! typefind`) recognise `.helio` and
//! `.fits` files (GStreamer 1.22 has no FITS typefinder of its own).

use gst::glib;
use helio_core::bitstream::{self as bs, SequenceHeader};

use crate::common;

/// How far into the data to look for a sequence header when it is not at 0.
const SEARCH_WINDOW: usize = 4096;

fn typefind(tf: &mut gst::TypeFind) {
    let caps = gst::Caps::builder(common::HELIO_CAPS_NAME).build();

    // Files written by helioenc start with a keyframe: sequence header (with
    // its own CRC) followed by a packet sync word.
    // (Multispectral headers are longer: they list the wavelengths.)
    let header_len = tf
        .peek(0, bs::SEQUENCE_HEADER_LEN as u32)
        .map_or(bs::SEQUENCE_HEADER_LEN, |d| (d[5] as usize).clamp(bs::SEQUENCE_HEADER_LEN, bs::MAX_SEQUENCE_HEADER_LEN));
    if let Some(data) = tf.peek(0, (header_len + 4) as u32)
        && SequenceHeader::parse(data).is_ok_and(|h| h.encoded_len() == header_len)
        && data[header_len..] == bs::PACKET_SYNC
    {
        tf.suggest(gst::TypeFindProbability::Maximum, &caps);
        return;
    }

    // A cut stream: look for a CRC-valid sequence header a little further in.
    let window = tf
        .length()
        .map_or(SEARCH_WINDOW, |len| (len as usize).min(SEARCH_WINDOW));
    // Without a known length, peek what there is (short streams).
    let mut size = window;
    let data = loop {
        if let Some(data) = tf.peek(0, size as u32) {
            break data.to_vec();
        }
        size /= 2;
        if size < bs::SEQUENCE_HEADER_LEN + 4 {
            return;
        }
    };
    let mut pos = 0;
    while let Some(offset) = bs::find_next_sync(&data[pos..]) {
        let at = pos + offset;
        if SequenceHeader::parse(&data[at..]).is_ok() {
            tf.suggest(gst::TypeFindProbability::Likely, &caps);
            return;
        }
        pos = at + 1;
    }
}

/// Every FITS file starts with this card (the value right-aligned in column 30).
const FITS_START: &[u8; 30] = b"SIMPLE  =                    T";

fn typefind_fits(tf: &mut gst::TypeFind) {
    if tf.peek(0, FITS_START.len() as u32).is_some_and(|d| d == FITS_START) {
        let caps = gst::Caps::builder(crate::heliofitsdec::FITS_CAPS_NAME).build();
        tf.suggest(gst::TypeFindProbability::Maximum, &caps);
    }
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::TypeFind::register(
        Some(plugin),
        "fits_typefind",
        gst::Rank::SECONDARY,
        Some("fits,fit,fts"),
        Some(&gst::Caps::builder(crate::heliofitsdec::FITS_CAPS_NAME).build()),
        typefind_fits,
    )?;
    gst::TypeFind::register(
        Some(plugin),
        "helio_typefind",
        gst::Rank::PRIMARY,
        Some("helio"),
        Some(&gst::Caps::builder(common::HELIO_CAPS_NAME).build()),
        typefind,
    )
}
