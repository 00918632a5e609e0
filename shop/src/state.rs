//! The shop's mutable state: users, login tokens, per-user carts and the bounded order store.
//!
//! Nothing here takes a global lock: carts have one mutex per user, tokens and orders live in
//! sharded [`Ring`]s.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::ring::Ring;
use crate::seed::{PASSWORD, USER_COUNT};
use crate::sync::lock;

/// How many orders are kept before the oldest are dropped.
pub(crate) const MAX_ORDERS: usize = 1_000_000;
/// How many login tokens stay valid before the oldest expire.
pub(crate) const MAX_TOKENS: usize = 1_000_000;
const SHARDS: usize = 64;
const USER_PREFIX: &str = "load_test_user_";

/// Index of a user (`load_test_user_{i}`), if the credentials are right.
pub(crate) fn authenticate(username: &str, password: &str) -> Option<u32> {
    let digits = username.strip_prefix(USER_PREFIX)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits.len() == 1 || !digits.starts_with('0'));
    if !canonical || password != PASSWORD {
        return None;
    }
    let index: u32 = digits.parse().ok()?;
    (usize::try_from(index).ok()? < USER_COUNT).then_some(index)
}

#[derive(Debug)]
struct TokenRecord {
    secret: u64,
    user: u32,
}

/// Opaque bearer tokens: 32 hex digits encoding a (scrambled) ring id and a random secret.
#[derive(Debug)]
pub(crate) struct Tokens {
    ring: Ring<TokenRecord>,
    key: u64,
}

impl Tokens {
    pub(crate) fn new() -> Self {
        Self {
            ring: Ring::new(MAX_TOKENS, SHARDS),
            key: fastrand::u64(..),
        }
    }

    /// Issues a new access token for the user; earlier tokens stay valid.
    pub(crate) fn issue(&self, user: u32) -> String {
        let secret = fastrand::u64(..);
        let id = self.ring.insert_with(|_| TokenRecord { secret, user });
        format!("{:016x}{secret:016x}", id ^ self.key)
    }

    /// The user a token belongs to, if it is valid.
    pub(crate) fn user_for(&self, token: &str) -> Option<u32> {
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let id = u64::from_str_radix(&token[..16], 16).ok()? ^ self.key;
        let secret = u64::from_str_radix(&token[16..], 16).ok()?;
        self.ring
            .with(id, |rec| (rec.secret == secret).then_some(rec.user))
            .flatten()
    }
}

/// A random refresh token (not used by any route, returned for API compatibility).
pub(crate) fn refresh_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// One line of a cart, as returned by `POST /api/cart/items/`.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct CartLine {
    pub(crate) id: u64,
    pub(crate) product: u64,
    pub(crate) quantity: u32,
}

/// One cart per user, each behind its own mutex.
#[derive(Debug)]
pub(crate) struct Carts {
    carts: Box<[Mutex<Vec<CartLine>>]>,
    next_line: AtomicU64,
}

impl Carts {
    pub(crate) fn new() -> Self {
        Self {
            carts: (0..USER_COUNT).map(|_| Mutex::new(Vec::new())).collect(),
            next_line: AtomicU64::new(1),
        }
    }

    fn cart(&self, user: u32) -> &Mutex<Vec<CartLine>> {
        // users come from `authenticate`, so the index is always in range
        &self.carts[user as usize % self.carts.len()]
    }

    /// Adds a product; adding one already in the cart raises its quantity.
    pub(crate) fn add(&self, user: u32, product: u64, quantity: u32) -> CartLine {
        let mut cart = lock(self.cart(user));
        if let Some(line) = cart.iter_mut().find(|l| l.product == product) {
            line.quantity = line.quantity.saturating_add(quantity);
            return *line;
        }
        let line = CartLine {
            id: self.next_line.fetch_add(1, Ordering::Relaxed),
            product,
            quantity,
        };
        cart.push(line);
        line
    }

    /// Empties the user's cart, returning what was in it.
    pub(crate) fn take(&self, user: u32) -> Vec<CartLine> {
        std::mem::take(&mut *lock(self.cart(user)))
    }
}

#[derive(Debug)]
struct OrderRecord {
    user: u32,
    total: u64,
    paid: bool,
}

/// Why a payment confirmation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaymentRefusal {
    NotFound,
    NotYours,
    AlreadyPaid,
    AmountMismatch { expected: u64 },
}

/// The most recent [`MAX_ORDERS`] orders.
#[derive(Debug)]
pub(crate) struct Orders {
    ring: Ring<OrderRecord>,
}

impl Orders {
    pub(crate) fn new() -> Self {
        Self {
            ring: Ring::new(MAX_ORDERS, SHARDS),
        }
    }

    /// Records a pending order and returns its id.
    pub(crate) fn create(&self, user: u32, total: u64) -> u64 {
        self.ring.insert_with(|_| OrderRecord {
            user,
            total,
            paid: false,
        })
    }

    /// Marks the order paid if it is the user's, unpaid, and the amount matches.
    pub(crate) fn confirm(&self, user: u32, id: u64, amount: i64) -> Result<u64, PaymentRefusal> {
        self.ring
            .with(id, |order| {
                if order.user != user {
                    Err(PaymentRefusal::NotYours)
                } else if order.paid {
                    Err(PaymentRefusal::AlreadyPaid)
                } else if u64::try_from(amount).ok() != Some(order.total) {
                    Err(PaymentRefusal::AmountMismatch {
                        expected: order.total,
                    })
                } else {
                    order.paid = true;
                    Ok(order.total)
                }
            })
            .unwrap_or(Err(PaymentRefusal::NotFound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticates_only_canonical_users() {
        assert_eq!(authenticate("load_test_user_0", PASSWORD), Some(0));
        assert_eq!(authenticate("load_test_user_999", PASSWORD), Some(999));
        assert_eq!(authenticate("load_test_user_1000", PASSWORD), None);
        assert_eq!(authenticate("load_test_user_01", PASSWORD), None);
        assert_eq!(authenticate("load_test_user_+1", PASSWORD), None);
        assert_eq!(authenticate("load_test_user_", PASSWORD), None);
        assert_eq!(authenticate("load_test_user_1", "nope"), None);
        assert_eq!(authenticate("admin", PASSWORD), None);
    }

    #[test]
    fn tokens_round_trip_and_reject_forgeries() {
        let tokens = Tokens::new();
        let a = tokens.issue(7);
        let b = tokens.issue(7);
        assert_ne!(a, b);
        assert_eq!(tokens.user_for(&a), Some(7));
        assert_eq!(tokens.user_for(&b), Some(7));
        let mut forged = a.clone().into_bytes();
        forged[31] = if forged[31] == b'0' { b'1' } else { b'0' };
        assert_eq!(tokens.user_for(std::str::from_utf8(&forged).unwrap()), None);
        assert_eq!(tokens.user_for("short"), None);
        assert_eq!(tokens.user_for(&"z".repeat(32)), None);
        assert_eq!(tokens.user_for("ｚ"), None);
    }

    #[test]
    fn carts_merge_lines_and_empty_on_take() {
        let carts = Carts::new();
        let first = carts.add(3, 10, 1);
        let again = carts.add(3, 10, 2);
        assert_eq!((again.id, again.quantity), (first.id, 3));
        carts.add(3, 11, 1);
        assert_eq!(carts.take(3).len(), 2);
        assert!(carts.take(3).is_empty());
    }

    #[test]
    fn payment_checks() {
        let orders = Orders::new();
        let id = orders.create(1, 500);
        assert_eq!(
            orders.confirm(1, id + 1, 500),
            Err(PaymentRefusal::NotFound)
        );
        assert_eq!(orders.confirm(2, id, 500), Err(PaymentRefusal::NotYours));
        assert_eq!(
            orders.confirm(1, id, 499),
            Err(PaymentRefusal::AmountMismatch { expected: 500 })
        );
        assert_eq!(orders.confirm(1, id, 500), Ok(500));
        assert_eq!(orders.confirm(1, id, 500), Err(PaymentRefusal::AlreadyPaid));
    }
}
