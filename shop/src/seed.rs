//! The seed data's fixed sizes and credentials: how many users and products exist, and the
//! password every user logs in with.

/// Number of users, `load_test_user_0` to `load_test_user_{USER_COUNT - 1}`.
pub const USER_COUNT: usize = 1000;
/// Password of every user.
pub const PASSWORD: &str = "testpass123";
/// Number of products, ids `1..=PRODUCT_COUNT`.
pub const PRODUCT_COUNT: u64 = 100;
