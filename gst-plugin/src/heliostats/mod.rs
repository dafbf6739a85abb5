// SPDX-License-Identifier: MPL-2.0

/**
 * element-heliostats:
 *
 * Turns decoded helio frames into a line of text per frame for `textoverlay`'s
 * `text_sink`: frame number and type, running time, bits per pixel of the coded frame,
 * the running bitrate over the last `window` seconds and, when a reference (the
 * original frames) is linked to the `ref` pad, the PSNR of the decoded frame.
 *
 * ```text
 * #12 P 0:00:12.0 | 0.0213 bpp | 38.2 kbit/s | PSNR 41.23 dB
 * ```
 *
 * The numbers come from the `HelioFrameMeta` custom meta heliodec puts on every frame
 * (frame number, type, coded bytes), so heliostats goes right after heliodec (or after
 * elements that keep metas, such as a tee and queue). For other codecs (x264, x265),
 * link their coded stream to the request pad `coded` as well: each decoded frame takes
 * the size of the coded buffer with the same timestamp, and its type from the
 * `DELTA_UNIT` flag (frames are counted from 0). Frames with neither count as frames of
 * unknown size (`? bpp`). `prefix` labels the lines (e.g. `x265 `).
 *
 * Reference frames are matched by frame number: the reference buffer's offset when it
 * has one (heliotestsrc numbers its frames), else its position in the reference stream;
 * reference frames the decoder never produced (lost, or dropped until a keyframe) are
 * skipped. Both must have the same format and size. PSNR is taken in the 8-bit display
 * domain of the benchmarks: GRAY8 as is, GRAY16_LE through helio's square-root
 * transform of `bit-depth`-bit DN, `round(255 t)`.
 *
 * Every frame also posts an element message `helio-stats` (`frame-number`,
 * `frame-type`, `bytes`, `bpp`, `bitrate` in bit/s, `psnr` in dB when there is a
 * reference) for applications.
 *
 * ```shell
 * gst-launch-1.0 heliotestsrc num-buffers=60 ! helioenc ! heliodec ! tee name=d \
 *     d. ! queue ! heliostats ! o.text_sink \
 *     d. ! queue ! heliocolormap ! textoverlay name=o valignment=top halignment=left \
 *     ! videoconvert ! autovideosink
 * gst-launch-1.0 heliotestsrc num-buffers=60 ! tee name=t \
 *     t. ! queue ! helioenc ! heliodec ! tee name=d \
 *     d. ! queue ! s.sink  t. ! queue ! s.ref  heliostats name=s ! o.text_sink \
 *     d. ! queue ! heliocolormap ! textoverlay name=o ! videoconvert ! autovideosink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct HelioStats(ObjectSubclass<imp::HelioStats>)
        @extends gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "heliostats",
        gst::Rank::NONE,
        HelioStats::static_type(),
    )
}
