//! helio-eval: rate-distortion and speed measurement of helio against the anchor codecs
//! (x264, x265, JPEG 2000, PNG), all run in-process through GStreamer.

pub mod codecs;
pub mod ffmpeg;
pub mod font;
pub mod frames;
pub mod gstrun;
pub mod intensity;
pub mod metrics;
pub mod report;
