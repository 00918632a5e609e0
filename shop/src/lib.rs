//! The built-in demo shop that load tests run against: the seed project's Django shop API
//! (login, products, cart, orders, payment confirmation) reproduced with axum, with real
//! state, bounded memory, request counters at `/_stats` and optional injected latency and
//! errors.
//!
//! # Layout
//!
//! This file only declares modules and re-exports the public API. Modules import each other
//! without cycles, leaves first:
//!
//! - `seed`, `error`, `sync`, `json`, `stats`: leaves (constants, the error type,
//!   locking, JSON helpers, counters);
//! - `config`, `ring`, `catalog`, `state`: configuration and the stores;
//! - `app`: the state the handlers share;
//! - `routes`: the HTTP surface over that state;
//! - `shop`: the public [`Shop`] handle that builds the state and serves the routes.

mod app;
mod catalog;
mod config;
mod error;
mod json;
mod ring;
mod routes;
mod seed;
mod shop;
mod state;
mod stats;
mod sync;

pub use config::{LatencyRange, ShopConfig};
pub use error::ShopError;
pub use seed::{PASSWORD, PRODUCT_COUNT, USER_COUNT};
pub use shop::Shop;
pub use stats::{ShopLatency, ShopStats};
