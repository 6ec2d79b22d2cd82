//! How a streamlet invocation fails, and what the client is told.

use std::fmt;

use s3s::{S3Error, S3ErrorCode};

use super::host::GuestError;
use super::runtime::Limits;

/// Why an invocation failed.
#[derive(Debug, Clone)]
pub enum StreamletError {
    /// The streamlet returned an error.
    Guest(GuestError),
    /// It trapped (a panic, `unreachable`, an out-of-bounds access).
    Trap(String),
    /// It ran past its time limit.
    Timeout { limit_ms: u128 },
    /// It asked for more memory than its limit.
    Memory { limit_bytes: usize },
    /// The module cannot be used (not a component, wrong world, missing).
    Module(String),
    /// The host failed around the call.
    Internal(String),
}

impl StreamletError {
    /// Classifies a wasmtime error from instantiation or a call.
    #[must_use]
    pub fn from_trap(e: wasmtime::Error, limits: &Limits) -> Self {
        if let Some(trap) = e.downcast_ref::<wasmtime::Trap>()
            && *trap == wasmtime::Trap::Interrupt
        {
            return Self::Timeout {
                limit_ms: limits.timeout.as_millis(),
            };
        }
        let text = format!("{e:#}");
        if text.contains("memory") && (text.contains("limit") || text.contains("grow")) {
            return Self::Memory {
                limit_bytes: limits.memory_bytes,
            };
        }
        Self::Trap(
            text.lines()
                .next()
                .unwrap_or("trap")
                .chars()
                .take(300)
                .collect(),
        )
    }

    /// A short label for metrics (`reason`).
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Guest(_) => "error",
            Self::Trap(_) => "trap",
            Self::Timeout { .. } => "timeout",
            Self::Memory { .. } => "memory",
            Self::Module(_) => "module",
            Self::Internal(_) => "internal",
        }
    }

    /// The S3 error for the client: 400 when the streamlet rejected the input, 503 (retryable)
    /// when it says a dependency is down, 500 otherwise; the message names the streamlet and
    /// the stage.
    #[must_use]
    pub fn to_s3(&self, streamlet: &str, stage: usize) -> S3Error {
        let (code, what) = match self {
            Self::Guest(GuestError::Rejected(m)) => (
                S3ErrorCode::InvalidRequest,
                format!("rejected the request: {m}"),
            ),
            Self::Guest(GuestError::Unavailable(m)) => (
                S3ErrorCode::ServiceUnavailable,
                format!("is unavailable: {m}"),
            ),
            _ => (S3ErrorCode::InternalError, self.to_string()),
        };
        S3Error::with_message(
            code,
            format!("streamlet `{streamlet}` (pipeline stage {stage}) {what}"),
        )
    }
}

impl fmt::Display for StreamletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Guest(GuestError::Rejected(m)) => write!(f, "rejected the input: {m}"),
            Self::Guest(GuestError::InvalidInput(m)) => write!(f, "failed on its input: {m}"),
            Self::Guest(GuestError::Unavailable(m)) => write!(f, "is unavailable: {m}"),
            Self::Guest(GuestError::Internal(m)) => write!(f, "failed: {m}"),
            Self::Trap(m) => write!(f, "trapped: {m}"),
            Self::Timeout { limit_ms } => write!(f, "ran past its time limit of {limit_ms} ms"),
            Self::Memory { limit_bytes } => write!(
                f,
                "needed more than its memory limit of {limit_bytes} bytes"
            ),
            Self::Module(m) => write!(f, "module cannot be used: {m}"),
            Self::Internal(m) => write!(f, "host failure: {m}"),
        }
    }
}

impl std::error::Error for StreamletError {}
