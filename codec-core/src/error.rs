//! The crate's error type. Messages are written for the person running the
//! pipeline: they name the path, value or id involved and, where one exists, the fix.

use crate::bitstream::ParseError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ONNX Runtime could not be loaded or a network could not be created or run.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The model package is missing, unreadable or inconsistent.
    #[error("model package: {0}")]
    Model(String),
    /// The encoder/decoder configuration or the input frame is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The bitstream is damaged (CRC mismatch, impossible field values, bad payload).
    #[error("corrupt bitstream: {0}")]
    Corrupt(String),
    /// The input ends before the access unit does.
    #[error("truncated bitstream: need {needed} bytes, have {have}")]
    Truncated { needed: usize, have: usize },
    /// Well-formed, but uses something this build does not implement.
    #[error("unsupported bitstream: {0}")]
    Unsupported(String),
    /// The stream was coded with a different model package than the one loaded.
    #[error(
        "model mismatch: the stream was coded with model id {stream}, but the decoder's packages give model id {loaded}; \
         decode with the same model packages the encoder used"
    )]
    ModelMismatch { stream: String, loaded: String },
    /// A frame needs a reference or a sequence header that the decoder does not have;
    /// skip input until the next keyframe (sequence header + I packet).
    #[error("need a keyframe (sequence header + I-frame) before this frame can be decoded")]
    NeedKeyframe,
    /// A P-frame whose reference is missing or is not the previous frame (stream
    /// joined mid-GoP, frames lost, decoder reset, or a frame size change); the
    /// decoder holds no reference afterwards: skip input until the next keyframe.
    #[error("P-frame {frame_number} cannot be decoded: {reason}; waiting for the next keyframe")]
    NoReference { frame_number: u32, reason: String },
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::NeedMore { needed, have } => Error::Truncated { needed, have },
            ParseError::UnsupportedVersion(_) => Error::Unsupported(e.to_string()),
            other => Error::Corrupt(other.to_string()),
        }
    }
}
