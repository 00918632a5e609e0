//! Every conversion between the wire's generated types and the domain's, in
//! both directions, so prost types stay at the edge: run settings, scenarios,
//! user assignments and arrival shares ([`run`]), and interval statistics
//! ([`stats`]). What comes off the wire is validated here: a message that
//! does not make sense is a [`ConvertError`], never a panic further in.

mod error;
mod run;
mod stats;

pub use error::ConvertError;
pub use run::{assignment_from_wire, assignment_to_wire, scenario_from_wire, scenario_to_wire};
pub use stats::{decode_interval, encode_interval, measured_from_wire};
