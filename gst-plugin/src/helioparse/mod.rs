// SPDX-License-Identifier: MPL-2.0

/**
 * element-helioparse:
 *
 * Splits a helio byte stream (e.g. a `.helio` file) into access units: finds
 * the sync words, skips damaged data (bad CRC, garbage) with a warning, marks
 * keyframes, and sets `video/x-helio, parsed=true` caps from the sequence
 * header (size, bit depth, `streamheader`).
 *
 * ```shell
 * gst-launch-1.0 filesrc location=in.helio ! helioparse default-framerate=1/12 ! heliodec ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioParse(ObjectSubclass<imp::HelioParse>)
        @extends gst_base::BaseParse, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "helioparse",
        gst::Rank::PRIMARY + 1,
        HelioParse::static_type(),
    )
}
