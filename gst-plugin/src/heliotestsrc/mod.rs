// SPDX-License-Identifier: MPL-2.0

/**
 * element-heliotestsrc:
 *
 * Test source for solar video: emits frames of the deterministic synthetic
 * SDO/AIA-like Sun of `helio-synth` (one AIA wavelength or several, full disk with
 * active regions, coronal holes, loops, flares, photon and read noise).
 *
 * The Sun evolves by `cadence` seconds of solar time per frame while the
 * output runs at the `fps` playback rate (default 5/1), so one second of
 * output at the defaults shows one minute of solar time. Frames depend only
 * on the settings and the frame index, so the same `seed` gives the same
 * bytes, and seeking (TIME format, flushing) jumps straight to a frame.
 *
 * GRAY16_LE output carries DN in `[0, 2^bit-depth - 1]` (14-bit like AIA by
 * default). GRAY8 output maps those DN to 8 bits with the square-root display
 * scaling helio uses for photon-counting data,
 * `t = (sqrt(DN + 3/8) - sqrt(3/8)) / (sqrt(max + 3/8) - sqrt(3/8))`.
 *
 * Buffer offsets are the frame (solar time) index: frame `n` shows the Sun at
 * `n * cadence` seconds after the sequence start.
 *
 * Multispectral output: `wavelengths=171,193,304` (or `all`) emits
 * `video/x-multispectral` frames holding those bands in ascending order
 * (docs/MULTISPECTRAL.md), all rendered from the same synthetic plasma, seed
 * and solar time, so the bands are correlated the way AIA's are.
 *
 * ```shell
 * gst-launch-1.0 heliotestsrc num-buffers=30 wavelength=193 ! \
 *     video/x-raw,format=GRAY16_LE,width=512,height=512 ! helioenc ! filesink location=sun.helio
 * gst-launch-1.0 heliotestsrc is-live=true ! video/x-raw,format=GRAY8 ! videoconvert ! autovideosink
 * gst-launch-1.0 heliotestsrc num-buffers=30 wavelengths=171,193,304 ! \
 *     video/x-multispectral,width=512,height=512 ! helioenc ! filesink location=sun3.helio
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioTestSrc(ObjectSubclass<imp::HelioTestSrc>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "heliotestsrc",
        gst::Rank::NONE,
        HelioTestSrc::static_type(),
    )
}
