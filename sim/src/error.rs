//! What can stop a simulation before it runs: bad costs, a bad workload or bad options.

/// A simulator failure; each message says what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The costs file is not valid JSON of the documented shape, or its numbers make no sense.
    #[error("costs: {reason}")]
    Costs {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A call names a function the workload does not list.
    #[error("call {index} names function {function}, but the workload lists {functions} functions")]
    UnknownFunction {
        /// The call's position in the workload.
        index: usize,
        /// The function index it names.
        function: u32,
        /// How many functions the workload lists.
        functions: usize,
    },
    /// The options do not describe a runnable simulation.
    #[error("{0}")]
    InvalidOptions(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
