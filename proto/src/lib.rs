//! The wire contract between master and workers (`stampede.v1`), generated from
//! `proto/stampede/v1/coordinator.proto`, and the conversions between the wire
//! statistics and the domain's ([`convert`]) so prost types stay at the edge.

pub mod convert;

/// Version of the worker/master protocol, checked at the handshake.
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest message the master accepts from a worker (tonic's default, made
/// explicit): a report of thousands of names is a few hundred kB; a larger
/// message fails that worker's stream, and the master serves on.
pub const MAX_WORKER_MESSAGE: usize = 4 << 20;

/// Largest message a worker accepts from the master: the scenario with its
/// data and script files travels in one.
pub const MAX_MASTER_MESSAGE: usize = 256 << 20;

/// Generated code for package `stampede.v1`.
#[allow(
    missing_debug_implementations,
    clippy::all,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod v1 {
    tonic::include_proto!("stampede.v1");
}
