// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

//! GStreamer plugin for helio, a learned video codec for solar imagery
//! (SDO/AIA, up to 16-bit single-channel frames).
//!
//! Elements:
//! - `helioenc`: GRAY8 / GRAY16_LE raw video -> `video/x-helio`: I-frames, and
//!   P-frames within a GoP (`keyframe-interval`) when an inter package is loaded
//!   (`inter-model-dir`, or the embedded one); `p-frame-decision` = `rd` keeps
//!   the cheaper of P and I by rate-distortion cost, `always` codes P
//! - `heliodec`: `video/x-helio` -> GRAY8 / GRAY16_LE raw video (P-frames need
//!   the encoder's inter package and the previous decoded frame)
//! - `helioparse`: splits a helio byte stream into access units, checks CRCs,
//!   marks keyframes and sets caps from the sequence header
//! - `heliotestsrc`: deterministic synthetic SDO/AIA-like Sun (helio-synth),
//!   GRAY16_LE in DN or GRAY8 sqrt-scaled
//! - `heliocolormap`: GRAY8 / GRAY16_LE -> RGB / RGBx / BGRx with the SDO/AIA
//!   colour tables (SolarSoft `aia_lct.pro`)
//! - `heliostats`: decoded frames (and optionally the originals on `ref`) -> one
//!   line of text per frame for textoverlay: frame number and type, bits per pixel,
//!   running bitrate, PSNR
//! - `heliofitsdec`: FITS files (plain, or RICE_1 / GZIP tile-compressed as
//!   SDO/AIA level 1) -> GRAY16_LE, one frame per file
//!
//! - `heliomsjoin`: one GRAY stream per wavelength (`sink_171`, ...) ->
//!   `video/x-multispectral`, matched by timestamp
//! - `heliomssplit`: `video/x-multispectral` -> one GRAY stream per wavelength
//!   (`src_171`, ...)
//!
//! plus typefinders for the helio byte stream (`*.helio` files) and FITS files.

use gst::glib;

mod common;
mod framing;
mod heliocolormap;
mod heliodec;
mod heliofitsdec;
mod helioenc;
mod heliomsjoin;
mod heliomssplit;
mod heliostats;
mod helioparse;
mod multispectral;
mod heliotestsrc;
mod typefind;

pub use common::{ExecutionProvider, PFrameDecision};

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    use gst::prelude::*;
    ExecutionProvider::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    PFrameDecision::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    if !gst::meta::CustomMeta::is_registered(common::FRAME_META) {
        gst::meta::CustomMeta::register(common::FRAME_META, &[]);
    }
    helioenc::register(plugin)?;
    heliodec::register(plugin)?;
    heliofitsdec::register(plugin)?;
    helioparse::register(plugin)?;
    heliotestsrc::register(plugin)?;
    heliocolormap::register(plugin)?;
    heliomsjoin::register(plugin)?;
    heliomssplit::register(plugin)?;
    heliostats::register(plugin)?;
    typefind::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    helio,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
