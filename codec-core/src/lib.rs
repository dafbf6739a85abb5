//! helio codec core: a learned video codec for solar imagery, without GStreamer.
//!
//! Layers, bottom up:
//! - [`bitstream`]: sequence header and frame packets (see `BITSTREAM.md`).
//! - [`intensity`]: invertible transforms from 8/16-bit samples to the networks' range.
//! - [`entropy`]: range coding of integer symbols with integer CDF tables (constriction).
//! - [`latent_codecs`]: entropy models composed from small latent codecs (hyperprior, ...).
//! - [`runtime`] / [`model`]: ONNX Runtime loading and the trained model package.
//! - [`frame_coding`]: padding, gained latent coding and payload sections shared by:
//! - [`intra`]: the I-frame codec (analysis, hyperprior, synthesis);
//! - [`inter`]: the P-frame codec (scale-space flow: motion, warp, residual),
//!   with [`warp`]: the scale-space warp when the package leaves it to codec-core.
//! - [`codec`]: the frame-level [`Encoder`] / [`Decoder`] (GoP structure, references)
//!   used by the GStreamer elements.

pub mod bitstream;
pub mod codec;
pub mod entropy;
pub mod error;
pub mod frame_coding;
pub mod frame_threads;
pub mod intensity;
pub mod inter;
pub mod intra;
pub mod latent_codecs;
pub mod model;
pub mod runtime;
pub mod warp;

pub use codec::{
    DEFAULT_KEYFRAME_QUALITY_OFFSET, DecodedFrame, Decoder, DecoderConfig, EncodedFrame, Encoder, EncoderConfig, PFrameDecision,
    RdCost,
};
pub use error::{Error, Result};
pub use frame_threads::FrameThreadedDecoder;
pub use model::ModelSource;
pub use runtime::ExecutionProvider;
