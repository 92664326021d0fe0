//! Signed claims for wasmgate components (work in progress).
