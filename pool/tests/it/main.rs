//! The pool against real guest components, in process: calls, limits, scale to zero, single flight.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod calls;
mod harness;
mod hostile;
mod limits;
mod reuse;
mod scaling;
mod wasi_p3;

/// Every guest some module here exercises.
mod covered {
    pub(crate) use crate::calls::*;
    pub(crate) use crate::hostile::*;
    pub(crate) use crate::limits::*;
    pub(crate) use crate::reuse::*;
    pub(crate) use crate::scaling::*;
    pub(crate) use crate::wasi_p3::*;
}

use harness::assert_test_exists;
wasmgate_tests::foreach_http!(assert_test_exists);
wasmgate_tests::foreach_limits!(assert_test_exists);
