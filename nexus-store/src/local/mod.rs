//! The embedded local-directory store (work in progress).
