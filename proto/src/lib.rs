//! The wire contract between master and workers (`stampede.v1`), generated from
//! `proto/stampede/v1/coordinator.proto`. Domain types never leak in here; the
//! conversions live in the crates that own the domain types.

/// Version of the worker/master protocol, checked at the handshake.
pub const PROTOCOL_VERSION: u32 = 1;

/// Generated code for package `stampede.v1`.
#[allow(missing_debug_implementations, clippy::all, unreachable_pub)]
pub mod v1 {
    tonic::include_proto!("stampede.v1");
}
