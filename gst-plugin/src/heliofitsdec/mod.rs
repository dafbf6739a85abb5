// SPDX-License-Identifier: MPL-2.0

/**
 * element-heliofitsdec:
 *
 * Decodes FITS files, the standard format of solar data, into GRAY16_LE frames:
 * a primary or IMAGE extension array of any BITPIX, or a tile-compressed image
 * (`RICE_1` as SDO/AIA level-1 files are, `GZIP_1`, `GZIP_2`, `NOCOMPRESS`;
 * helio-fits). Each file is one frame; files may follow each other in one byte
 * stream (`multifilesrc`, or files concatenated), and are split where the next
 * `SIMPLE = T` header starts. A file is decoded when the next one begins or the
 * stream ends (until then more extensions of it may follow), so a live source
 * sees one file of latency.
 *
 * Samples become `round(physical * scale + offset)` clamped to 0..65535, with
 * `physical = BZERO + BSCALE * stored`; BLANK and NaN samples become 0. The
 * defaults (scale 1, offset 0) keep the DN of AIA level 1 (14-bit counts) as
 * they are, the values helio codes. Pixels clamped at either end are counted and
 * reported once per stream with a warning saying how to set scale/offset.
 *
 * FITS stores the bottom row first; with `flip` (default) the first output row
 * is the top one, so the Sun appears as SunPy and ds9 show it.
 *
 * A file that is not FITS, holds no 2-D image, uses an unsupported compression
 * (HCOMPRESS_1, PLIO_1, quantized floats: expand it with `funpack` from
 * Debian's `libcfitsio-bin`) or is cut short is an error naming the problem; set
 * the base class `max-errors` above 0 to skip up to that many bad files in a
 * row instead (each posts a warning).
 *
 * ```shell
 * gst-launch-1.0 filesrc location=aia_lev1_171a.fits ! heliofitsdec ! helioenc ! filesink location=aia.helio
 * gst-launch-1.0 multifilesrc location=data/aia171-fits/frame_%02d.fits stop-index=2 \
 *     caps="image/fits,framerate=1/1" ! heliofitsdec ! heliocolormap wavelength=171 \
 *     ! pngenc ! multifilesink location=aia_%02d.png
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioFitsDec(ObjectSubclass<imp::HelioFitsDec>)
        @extends gst_video::VideoDecoder, gst::Element, gst::Object;
}

/// The media type of FITS data (RFC 4047).
pub const FITS_CAPS_NAME: &str = "image/fits";

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "heliofitsdec",
        // Secondary: decodebin may pick it for image/fits (nothing else decodes it).
        gst::Rank::SECONDARY,
        HelioFitsDec::static_type(),
    )
}
