// SPDX-License-Identifier: MPL-2.0

/**
 * element-heliocolormap:
 *
 * Colours single-channel solar frames with the standard SDO/AIA colour tables
 * (SolarSoft `aia_lct.pro`, SunPy's `sdoaia171` etc.): GRAY8 or GRAY16_LE in,
 * RGB (or RGBx / BGRx) out, same size and frame rate.
 *
 * Each input value `v` becomes a table index
 * `round(255 * stretch((clamp(v, min, max) - min) / (max - min)))`, with
 * `stretch` = `scaling` (linear `x`, sqrt `sqrt(x)`, log
 * `log(1 + 1000 x) / log(1001)`), and the table of `wavelength` gives its
 * colour. `max` 0 is the whole input range: 255 for GRAY8, `2^bit-depth - 1`
 * for GRAY16_LE (14 bits = SDO/AIA DN by default). The range is fixed, not
 * measured per frame, so consecutive frames (and an original beside its
 * decoded copy) are coloured the same way; set `min`/`max` to stretch a
 * narrower range.
 *
 * GRAY16_LE from helio (heliotestsrc, heliodec of a 16-bit stream, 16-bit
 * PNGs) holds photon counts in DN: the default `scaling=sqrt` suits them.
 * GRAY8 from helio (heliotestsrc's GRAY8, heliodec of an 8-bit stream) is
 * already sqrt-scaled display data: use `scaling=linear` there.
 *
 * Every property can be changed while playing; the next frame uses it. An
 * invalid value (a wavelength without a table, `min` not below `max`) fails
 * the start (READY->PAUSED) or the caps negotiation with an error naming the
 * valid values; while playing it is refused with a warning and the previous
 * colouring stays.
 *
 * ```shell
 * gst-launch-1.0 heliotestsrc num-buffers=1 ! heliocolormap ! pngenc ! filesink location=sun171.png
 * gst-launch-1.0 heliotestsrc wavelength=304 is-live=true ! heliocolormap wavelength=304 \
 *     ! videoconvert ! autovideosink
 * gst-launch-1.0 filesrc location=aia171.helio ! helioparse ! heliodec \
 *     ! heliocolormap wavelength=171 scaling=log ! pngenc ! multifilesink location=dec_%02d.png
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;
mod tables;

pub use imp::Scaling;

glib::wrapper! {
    pub struct HelioColormap(ObjectSubclass<imp::HelioColormap>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Scaling::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "heliocolormap",
        gst::Rank::NONE,
        HelioColormap::static_type(),
    )
}
