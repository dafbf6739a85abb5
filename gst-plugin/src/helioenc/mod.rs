// SPDX-License-Identifier: MPL-2.0

/**
 * element-helioenc:
 *
 * Encodes single-channel raw video (GRAY8, or GRAY16_LE holding up to 16
 * significant bits, 14 for SDO/AIA) into a helio elementary stream with the
 * learned intra codec of `helio-codec-core`.
 *
 * ```shell
 * gst-launch-1.0 videotestsrc num-buffers=10 ! video/x-raw,format=GRAY16_LE,width=256,height=256 ! \
 *     helioenc quality=5 ! filesink location=out.helio
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioEnc(ObjectSubclass<imp::HelioEnc>)
        @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "helioenc",
        gst::Rank::PRIMARY,
        HelioEnc::static_type(),
    )
}
