//! Login (`POST /api/auth/login/`) and the bearer-token extractor guarding the other routes.

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::json::{ApiError, ApiJson};
use crate::state::{authenticate, refresh_token};

#[derive(Debug, Deserialize)]
pub(super) struct LoginIn {
    username: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub(super) struct LoginOut {
    access: String,
    refresh: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginIn>,
) -> Result<axum::Json<LoginOut>, ApiError> {
    let user = authenticate(&body.username, &body.password).ok_or_else(|| {
        ApiError::unauthorized("no active account found with the given credentials")
    })?;
    Ok(axum::Json(LoginOut {
        access: state.tokens.issue(user),
        refresh: refresh_token(),
    }))
}

/// The user index behind a valid `Authorization: Bearer TOKEN` header.
#[derive(Debug, Clone, Copy)]
pub(super) struct AuthUser(pub(super) u32);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let not_provided =
            || ApiError::unauthorized("authentication credentials were not provided");
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(not_provided)?
            .to_str()
            .map_err(|_| not_provided())?;
        let (scheme, token) = value.split_once(' ').ok_or_else(not_provided)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(not_provided());
        }
        state
            .tokens
            .user_for(token.trim())
            .map(AuthUser)
            .ok_or_else(|| ApiError::unauthorized("given token not valid for any token type"))
    }
}
