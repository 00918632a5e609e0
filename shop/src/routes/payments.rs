//! Payment confirmation: `POST /api/payments/confirm/`.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::auth::AuthUser;
use crate::app::AppState;
use crate::json::{AnyString, ApiError, ApiJson, OrderRef};
use crate::state::PaymentRefusal;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(super) struct ConfirmIn {
    payment_key: AnyString,
    order_id: OrderRef,
    amount: i64,
}

#[derive(Debug, Serialize)]
pub(super) struct ConfirmOut {
    status: &'static str,
    order_id: String,
    amount: u64,
}

pub(super) async fn confirm(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ConfirmIn>,
) -> Result<axum::Json<ConfirmOut>, ApiError> {
    let id = body
        .order_id
        .0
        .ok_or_else(|| ApiError::bad_request("order not found"))?;
    let amount = state
        .orders
        .confirm(user, id, body.amount)
        .map_err(|refusal| {
            ApiError::bad_request(match refusal {
                PaymentRefusal::NotFound => format!("order ORDER_{id} not found"),
                PaymentRefusal::NotYours => format!("order ORDER_{id} is not yours"),
                PaymentRefusal::AlreadyPaid => format!("order ORDER_{id} is already paid"),
                PaymentRefusal::AmountMismatch { expected } => format!(
                    "amount mismatch for order ORDER_{id}: expected {expected}, got {}",
                    body.amount
                ),
            })
        })?;
    Ok(axum::Json(ConfirmOut {
        status: "paid",
        order_id: format!("ORDER_{id}"),
        amount,
    }))
}
