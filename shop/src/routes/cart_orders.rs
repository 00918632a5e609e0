//! Cart and order routes: `POST /api/cart/items/` and `POST /api/orders/`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::AuthUser;
use crate::app::AppState;
use crate::catalog;
use crate::json::{AnyString, ApiError, ApiJson};
use crate::state::CartLine;

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
pub(super) struct CartItemIn {
    product: u64,
    #[serde(default = "one")]
    quantity: u32,
}

pub(super) async fn add_item(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CartItemIn>,
) -> Result<(StatusCode, axum::Json<CartLine>), ApiError> {
    if !catalog::exists(body.product) {
        return Err(ApiError::bad_request(format!(
            "product {} does not exist",
            body.product
        )));
    }
    if body.quantity < 1 {
        return Err(ApiError::bad_request("quantity must be at least 1"));
    }
    let line = state.carts.add(user, body.product, body.quantity);
    Ok((StatusCode::CREATED, axum::Json(line)))
}

/// Shipping details: all required strings, validated but not stored.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(super) struct OrderIn {
    shipping_name: AnyString,
    shipping_phone: AnyString,
    shipping_postal_code: AnyString,
    shipping_address: AnyString,
    shipping_address_detail: AnyString,
}

#[derive(Debug, Serialize)]
struct OrderItemOut {
    product: u64,
    quantity: u32,
    price: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct OrderOut {
    id: u64,
    order_id: String,
    total_amount: u64,
    status: &'static str,
    items: Vec<OrderItemOut>,
}

pub(super) async fn create_order(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(_shipping): ApiJson<OrderIn>,
) -> Result<(StatusCode, axum::Json<OrderOut>), ApiError> {
    let lines = state.carts.take(user);
    if lines.is_empty() {
        return Err(ApiError::bad_request("cart is empty"));
    }
    let items: Vec<OrderItemOut> = lines
        .iter()
        .map(|line| OrderItemOut {
            product: line.product,
            quantity: line.quantity,
            price: catalog::price(line.product),
        })
        .collect();
    let total_amount = items.iter().fold(0u64, |sum, item| {
        sum.saturating_add(item.price.saturating_mul(u64::from(item.quantity)))
    });
    let id = state.orders.create(user, total_amount);
    Ok((
        StatusCode::CREATED,
        axum::Json(OrderOut {
            id,
            order_id: format!("ORDER_{id}"),
            total_amount,
            status: "pending",
            items,
        }),
    ))
}
