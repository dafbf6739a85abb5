//! helio-synth: deterministic synthetic SDO/AIA-like solar image sequences.
//!
//! One plasma model (emission measure in a few temperature bins per feature)
//! is rendered through a per-wavelength temperature response, so channels are
//! correlated but not copies. Every random quantity is a counter-based hash of
//! `(seed, feature id, ...)`; `Sun::frame(t)` is a pure function of the config
//! and `t`, so frames can be produced in any order, in parallel, or one
//! channel at a time (`Sun::frame_into`, what a GStreamer source needs).

mod hash;
pub mod io;
mod noise;
mod render;
pub mod stats;

use std::fmt;

pub use render::CHANNEL_INFO;

/// AIA wavelengths (Angstrom).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Wavelength {
    A94,
    A131,
    A171,
    A193,
    A211,
    A304,
    A335,
    A1600,
    A1700,
}

impl Wavelength {
    pub const ALL: [Wavelength; 9] = [
        Wavelength::A94,
        Wavelength::A131,
        Wavelength::A171,
        Wavelength::A193,
        Wavelength::A211,
        Wavelength::A304,
        Wavelength::A335,
        Wavelength::A1600,
        Wavelength::A1700,
    ];

    pub fn angstrom(self) -> u32 {
        match self {
            Wavelength::A94 => 94,
            Wavelength::A131 => 131,
            Wavelength::A171 => 171,
            Wavelength::A193 => 193,
            Wavelength::A211 => 211,
            Wavelength::A304 => 304,
            Wavelength::A335 => 335,
            Wavelength::A1600 => 1600,
            Wavelength::A1700 => 1700,
        }
    }

    pub fn from_angstrom(a: u32) -> Result<Self, ConfigError> {
        Wavelength::ALL
            .iter()
            .copied()
            .find(|w| w.angstrom() == a)
            .ok_or(ConfigError::UnknownWavelength(a.to_string()))
    }

    pub(crate) fn index(self) -> usize {
        Wavelength::ALL.iter().position(|&w| w == self).unwrap()
    }

    /// Parse a comma separated list like "171,193,304".
    pub fn parse_list(s: &str) -> Result<Vec<Wavelength>, ConfigError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            out.push(part.parse()?);
        }
        if out.is_empty() {
            return Err(ConfigError::NoWavelengths);
        }
        Ok(out)
    }
}

impl std::str::FromStr for Wavelength {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let t = s.trim().trim_end_matches(['A', 'a', 'Å']);
        match t.parse::<u32>() {
            Ok(a) => Wavelength::from_angstrom(a),
            Err(_) => Err(ConfigError::UnknownWavelength(s.to_string())),
        }
    }
}

impl fmt::Display for Wavelength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.angstrom())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown wavelength '{0}': AIA wavelengths are 94, 131, 171, 193, 211, 304, 335, 1600, 1700")]
    UnknownWavelength(String),
    #[error("no wavelengths given")]
    NoWavelengths,
    #[error("wavelength {0} listed twice")]
    DuplicateWavelength(u32),
    #[error("frame size {0}x{1} invalid: width and height must be in 16..=4096")]
    BadSize(u32, u32),
    #[error("cadence {0} s invalid: must be within 12..=3600 s")]
    BadCadence(f64),
    #[error("bit depth {0} invalid: must be within 8..=16")]
    BadBitDepth(u32),
    #[error("view invalid: {0}")]
    BadView(String),
}

/// Which part of a (virtual) full-disk frame the output shows. The default is
/// the whole frame; a window lets you render native-resolution crops of a
/// 4096x4096 Sun cheaply (only the window's pixels are computed).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct View {
    /// Size of the virtual full frame (square), e.g. 4096 for AIA native.
    pub full_size: u32,
    /// Top-left corner of the output window inside the virtual frame
    /// (may be negative or extend past the frame).
    pub x0: i64,
    pub y0: i64,
}

/// Scene preset: `Random` draws everything from the seed; `LimbFlare` also
/// places a large active region on the west limb with a flare in progress
/// (used to calibrate against the AIA 2012-07-19 off-limb flare cutouts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Scene {
    #[default]
    Random,
    LimbFlare,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SunConfig {
    pub width: u32,
    pub height: u32,
    pub wavelengths: Vec<Wavelength>,
    /// Seconds between frames (12..=3600).
    pub cadence_s: f64,
    pub seed: u64,
    /// Output DN range is [0, 2^bit_depth - 1]; signal scales with it (14 = AIA).
    pub bit_depth: u32,
    /// AIA-flare-style alternation of short and long exposures.
    pub exposure_changes: bool,
    /// Photon + read noise (on by default; off gives the expected DN).
    pub noise: bool,
    pub view: Option<View>,
    pub scene: Scene,
}

impl Default for SunConfig {
    fn default() -> Self {
        SunConfig {
            width: 512,
            height: 512,
            wavelengths: vec![Wavelength::A171],
            cadence_s: 12.0,
            seed: 0,
            bit_depth: 14,
            exposure_changes: false,
            noise: true,
            view: None,
            scene: Scene::Random,
        }
    }
}

impl SunConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(16..=4096).contains(&self.width) || !(16..=4096).contains(&self.height) {
            return Err(ConfigError::BadSize(self.width, self.height));
        }
        if !(self.cadence_s.is_finite() && (12.0..=3600.0).contains(&self.cadence_s)) {
            return Err(ConfigError::BadCadence(self.cadence_s));
        }
        if !(8..=16).contains(&self.bit_depth) {
            return Err(ConfigError::BadBitDepth(self.bit_depth));
        }
        if self.wavelengths.is_empty() {
            return Err(ConfigError::NoWavelengths);
        }
        for (i, w) in self.wavelengths.iter().enumerate() {
            if self.wavelengths[..i].contains(w) {
                return Err(ConfigError::DuplicateWavelength(w.angstrom()));
            }
        }
        if let Some(v) = self.view {
            if !(16..=65536).contains(&v.full_size) {
                return Err(ConfigError::BadView(format!("full_size {} not in 16..=65536", v.full_size)));
            }
            let fs = v.full_size as i64;
            if v.x0 < -fs || v.y0 < -fs || v.x0 > 2 * fs || v.y0 > 2 * fs {
                return Err(ConfigError::BadView(format!("window origin ({}, {}) far outside the frame", v.x0, v.y0)));
            }
        }
        Ok(())
    }

    pub fn max_dn(&self) -> u16 {
        ((1u32 << self.bit_depth) - 1) as u16
    }
}

/// One multi-wavelength frame; `channels[i]` is row-major `width*height` DN
/// for `cfg.wavelengths[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub t_index: u64,
    /// Exposure time (s) used for each channel.
    pub exposure_s: Vec<f64>,
    pub channels: Vec<Vec<u16>>,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("channel {0} out of range (config has {1} wavelengths)")]
    BadChannel(usize, usize),
    #[error("buffer has {0} samples, frame needs {1}")]
    BadBuffer(usize, usize),
}

/// A synthetic Sun: static per-sequence maps and features, precomputed once.
pub struct Sun {
    cfg: SunConfig,
    model: render::Model,
}

impl Sun {
    pub fn new(cfg: SunConfig) -> Result<Sun, ConfigError> {
        cfg.validate()?;
        let model = render::Model::new(&cfg);
        Ok(Sun { cfg, model })
    }

    pub fn config(&self) -> &SunConfig {
        &self.cfg
    }

    /// Exposure time (s) of `channel` at frame `t_index`.
    pub fn exposure_s(&self, channel: usize, t_index: u64) -> f64 {
        self.model.exposure(&self.cfg, self.cfg.wavelengths[channel], t_index)
    }

    /// All channels of frame `t_index`.
    pub fn frame(&self, t_index: u64) -> Frame {
        let chans: Vec<usize> = (0..self.cfg.wavelengths.len()).collect();
        let n = (self.cfg.width * self.cfg.height) as usize;
        let mut channels = vec![vec![0u16; n]; chans.len()];
        {
            let mut outs: Vec<&mut [u16]> = channels.iter_mut().map(|c| c.as_mut_slice()).collect();
            self.model.render(&self.cfg, t_index, &chans, &mut outs);
        }
        Frame {
            width: self.cfg.width,
            height: self.cfg.height,
            t_index,
            exposure_s: chans.iter().map(|&c| self.exposure_s(c, t_index)).collect(),
            channels,
        }
    }

    /// Render one channel of frame `t_index` into `out` (row-major,
    /// `width*height`). Same bytes as `frame(t_index).channels[channel]`.
    pub fn frame_into(&self, out: &mut [u16], channel: usize, t_index: u64) -> Result<(), FrameError> {
        let nc = self.cfg.wavelengths.len();
        if channel >= nc {
            return Err(FrameError::BadChannel(channel, nc));
        }
        let n = (self.cfg.width * self.cfg.height) as usize;
        if out.len() != n {
            return Err(FrameError::BadBuffer(out.len(), n));
        }
        self.model.render(&self.cfg, t_index, &[channel], &mut [out]);
        Ok(())
    }

    /// Expected intensity in DN/s before exposure and noise (for tests and
    /// calibration), one channel.
    pub fn expected_rate(&self, channel: usize, t_index: u64) -> Vec<f32> {
        self.model.rates(&self.cfg, t_index, &[channel]).pop().unwrap()
    }
}
