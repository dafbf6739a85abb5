// SPDX-License-Identifier: MPL-2.0

//! `video/x-multispectral`: raw video of several wavelengths of one scene per
//! buffer (GStreamer has no N-plane gray format). Layout and fields in
//! docs/MULTISPECTRAL.md. Not `video/x-raw-...`: GStreamer warns about any
//! media type with that prefix (the 0.10 naming).
//!
//! A buffer holds `channels` planes back to back, in the order of
//! `wavelengths`, each laid out exactly like a default video/x-raw GRAY8 /
//! GRAY16_LE frame of `width` x `height` (rows padded to 4 bytes). That is
//! byte for byte a GRAY frame of `width` x `height * channels`, which lets
//! helioenc/heliodec reuse the video encoder/decoder base classes through
//! [`MsInfo::stacked_video_info`].

use gst_video::VideoFormat;

/// Media type of multispectral raw video.
pub(crate) const MS_CAPS_NAME: &str = "video/x-multispectral";
/// Most wavelengths per stream (the bitstream's channel limit).
pub(crate) const MAX_CHANNELS: usize = helio_core::bitstream::MAX_CHANNELS as usize;

/// Parsed multispectral caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MsInfo {
    pub format: VideoFormat,
    pub width: u32,
    pub height: u32,
    pub fps: gst::Fraction,
    pub par: gst::Fraction,
    /// Angstrom, strictly increasing: plane `c` is `wavelengths[c]`.
    pub wavelengths: Vec<u32>,
}

impl MsInfo {
    /// Reads and checks fixed multispectral caps; the error says which field is wrong.
    pub fn from_caps(caps: &gst::CapsRef) -> Result<MsInfo, String> {
        let s = caps.structure(0).ok_or("empty caps")?;
        if s.name() != MS_CAPS_NAME {
            return Err(format!("caps are {}, not {MS_CAPS_NAME}", s.name()));
        }
        let format = match s.get::<&str>("format").map_err(|_| "no fixed format field (GRAY8 or GRAY16_LE)")? {
            "GRAY8" => VideoFormat::Gray8,
            "GRAY16_LE" => VideoFormat::Gray16Le,
            other => return Err(format!("format {other} is not supported (GRAY8 or GRAY16_LE)")),
        };
        let dim = |name: &str| -> Result<u32, String> {
            match s.get::<i32>(name) {
                Ok(v) if v > 0 => Ok(v as u32),
                Ok(v) => Err(format!("{name} = {v} must be positive")),
                Err(_) => Err(format!("no fixed {name} field")),
            }
        };
        let (width, height) = (dim("width")?, dim("height")?);
        let fps = s.get::<gst::Fraction>("framerate").unwrap_or(gst::Fraction::new(0, 1));
        let par = s.get::<gst::Fraction>("pixel-aspect-ratio").unwrap_or(gst::Fraction::new(1, 1));
        let wavelengths: Vec<u32> = match s.get::<gst::Array>("wavelengths") {
            Ok(a) => a
                .iter()
                .map(|v| match v.get::<i32>() {
                    Ok(w) if (1..=65535).contains(&w) => Ok(w as u32),
                    _ => Err(format!("wavelength {v:?} is not an integer in 1..=65535 (Angstrom)")),
                })
                .collect::<Result<_, _>>()?,
            Err(_) => return Err("no wavelengths field (an int array, e.g. wavelengths=(int)<171, 193, 304>)".into()),
        };
        if wavelengths.is_empty() || wavelengths.len() > MAX_CHANNELS {
            return Err(format!("{} wavelengths; 1..={MAX_CHANNELS} are supported", wavelengths.len()));
        }
        if wavelengths.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("wavelengths {wavelengths:?} must be distinct and increasing"));
        }
        if let Ok(channels) = s.get::<i32>("channels")
            && channels as usize != wavelengths.len()
        {
            return Err(format!("channels = {channels} but {} wavelengths are listed", wavelengths.len()));
        }
        Ok(MsInfo { format, width, height, fps, par, wavelengths })
    }

    pub fn channels(&self) -> usize {
        self.wavelengths.len()
    }

    pub fn to_caps(&self) -> gst::Caps {
        gst::Caps::builder(MS_CAPS_NAME)
            .field("format", self.format.to_str())
            .field("width", self.width as i32)
            .field("height", self.height as i32)
            .field("framerate", self.fps)
            .field("pixel-aspect-ratio", self.par)
            .field("channels", self.channels() as i32)
            .field("wavelengths", gst::Array::new(self.wavelengths.iter().map(|&w| w as i32)))
            .build()
    }

    // The layout helpers below serve elements that build or cut such buffers.
    #[allow(dead_code)]
    fn bytes_per_sample(&self) -> usize {
        if self.format == VideoFormat::Gray8 { 1 } else { 2 }
    }

    /// Bytes per row of a plane: GStreamer's default for GRAY (a multiple of 4).
    #[allow(dead_code)]
    pub fn plane_stride(&self) -> usize {
        (self.width as usize * self.bytes_per_sample()).div_ceil(4) * 4
    }

    #[allow(dead_code)]
    pub fn plane_size(&self) -> usize {
        self.plane_stride() * self.height as usize
    }

    #[allow(dead_code)]
    pub fn buffer_size(&self) -> usize {
        self.plane_size() * self.channels()
    }

    /// The same bytes seen as one GRAY frame of the planes stacked vertically.
    pub fn stacked_video_info(&self) -> gst_video::VideoInfo {
        gst_video::VideoInfo::builder(self.format, self.width, self.height * self.channels() as u32)
            .fps(self.fps)
            .par(self.par)
            .build()
            .expect("GRAY video info")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(extra: &str) -> gst::Caps {
        format!("{MS_CAPS_NAME}, format=GRAY16_LE, width=371, height=64, framerate=12/1{extra}").parse().unwrap()
    }

    #[test]
    fn round_trip_and_layout() {
        gst::init().unwrap();
        let info = MsInfo::from_caps(&caps(", channels=3, wavelengths=(int)<171, 193, 304>")).unwrap();
        assert_eq!(info.wavelengths, [171, 193, 304]);
        assert_eq!(MsInfo::from_caps(&info.to_caps()).unwrap(), info);
        // 371 samples of 2 bytes = 742 bytes, padded to 744.
        assert_eq!(info.plane_stride(), 744);
        assert_eq!(info.buffer_size(), 3 * 744 * 64);
        let stacked = info.stacked_video_info();
        assert_eq!((stacked.height(), stacked.stride()[0] as usize, stacked.size()), (192, 744, info.buffer_size()));
    }

    #[test]
    fn invalid_fields_are_named() {
        gst::init().unwrap();
        for (extra, needle) in [
            ("", "wavelengths"),
            (", wavelengths=(int)<193, 171>", "increasing"),
            (", wavelengths=(int)<171, 171>", "increasing"),
            (", wavelengths=(int)<0, 171>", "1..=65535"),
            (", channels=2, wavelengths=(int)<171, 193, 304>", "channels = 2"),
        ] {
            let err = MsInfo::from_caps(&caps(extra)).unwrap_err();
            assert!(err.contains(needle), "{extra}: {err}");
        }
        let gray32: gst::Caps =
            format!("{MS_CAPS_NAME}, format=GRAY32, width=4, height=4, wavelengths=(int)<171>").parse().unwrap();
        assert!(MsInfo::from_caps(&gray32).unwrap_err().contains("GRAY32"));
    }
}
