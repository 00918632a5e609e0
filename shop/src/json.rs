//! JSON in and out: the `{"detail": ..}` error response and a body extractor that answers
//! 400 (never axum's 422) for malformed JSON or wrong field types.

use std::borrow::Cow;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// An error answered as `{"detail": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    detail: Cow<'static, str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    pub(crate) fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub(crate) fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub(crate) fn unauthorized(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }
}

#[derive(Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(Detail {
                detail: &self.detail,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        response
    }
}

/// A pre-serialized JSON body.
pub(crate) fn raw_json(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

/// Like `axum::Json` as an extractor, but every failure is a 400 `{"detail"}`.
///
/// The content type is not checked: load-test clients are not always careful about it.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "request body too large")
            } else {
                ApiError::bad_request("could not read request body")
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|err| ApiError::bad_request(format!("invalid json body: {err}")))
    }
}

/// A field that must be a JSON string; its value is not kept (no allocation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnyString;

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyString, E> {
                Ok(AnyString)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// An order reference: the integer id `N` or the string `"ORDER_N"` (or `"N"`).
///
/// Holds `None` for a string that cannot name any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OrderRef(pub(crate) Option<u64>);

impl OrderRef {
    pub(crate) fn parse(text: &str) -> Self {
        let digits = text.strip_prefix("ORDER_").unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Self(None);
        }
        Self(digits.parse().ok())
    }
}

impl<'de> Deserialize<'de> for OrderRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = OrderRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an order id (an integer or a string like \"ORDER_1\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OrderRef, E> {
                Ok(OrderRef(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OrderRef, E> {
                Ok(OrderRef(u64::try_from(v).ok()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OrderRef, E> {
                Ok(OrderRef::parse(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ref_forms() {
        let parse = |json: &str| serde_json::from_str::<OrderRef>(json).map(|r| r.0);
        assert_eq!(parse("7").unwrap(), Some(7));
        assert_eq!(parse("\"ORDER_7\"").unwrap(), Some(7));
        assert_eq!(parse("\"7\"").unwrap(), Some(7));
        assert_eq!(parse("\"ORDER_\"").unwrap(), None);
        assert_eq!(parse("\"ORDER_x\"").unwrap(), None);
        assert_eq!(parse("-1").unwrap(), None);
        assert!(parse("1.5").is_err());
        assert!(parse("null").is_err());
    }

    #[test]
    fn any_string_rejects_other_types() {
        assert!(serde_json::from_str::<AnyString>("\"a\\nb\"").is_ok());
        assert!(serde_json::from_str::<AnyString>("1").is_err());
        assert!(serde_json::from_str::<AnyString>("null").is_err());
    }
}
