//! Public product routes: the paginated list and product details.

use std::io::Write;

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::app::AppState;
use crate::catalog;
use crate::json::{ApiError, raw_json};
use crate::seed::PRODUCT_COUNT;

const LIST_PATH: &str = "/api/products/";

/// `GET /api/products/?page=N`, shaped like DRF's `PageNumberPagination`.
pub(super) async fn list(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, ApiError> {
    let pages = state.catalog.page_count();
    let page = requested_page(req.uri().query(), pages).ok_or_else(invalid_page)?;
    let results = state.catalog.page_results(page).ok_or_else(invalid_page)?;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost");

    let mut body = Vec::with_capacity(results.len() + 2 * host.len() + 128);
    // writing into a Vec cannot fail
    let _ = write!(body, "{{\"count\":{PRODUCT_COUNT},\"next\":");
    push_link(&mut body, host, (page < pages).then_some(page + 1));
    body.extend_from_slice(b",\"previous\":");
    push_link(&mut body, host, (page > 1).then_some(page - 1));
    body.extend_from_slice(b",\"results\":");
    body.extend_from_slice(results.as_bytes());
    body.push(b'}');
    Ok(raw_json(StatusCode::OK, body))
}

fn invalid_page() -> ApiError {
    ApiError::not_found("invalid page")
}

/// The 1-based page asked for: absent means 1, `last` means the last page.
fn requested_page(query: Option<&str>, pages: usize) -> Option<usize> {
    let value = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "page")
        .map(|(_, value)| value);
    match value {
        None => Some(1),
        Some("last") => Some(pages),
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().ok().filter(|p| (1..=pages).contains(p))
        }
        Some(_) => None,
    }
}

/// Writes a page link as a JSON string (or `null`); page 1 has no `page` parameter, like DRF.
fn push_link(body: &mut Vec<u8>, host: &str, page: Option<usize>) {
    let link = match page {
        None => None,
        Some(1) => Some(format!("http://{host}{LIST_PATH}")),
        Some(n) => Some(format!("http://{host}{LIST_PATH}?page={n}")),
    };
    // serializing a string or null into a Vec cannot fail
    let _ = serde_json::to_writer(body, &link);
}

/// `GET /api/products/{id}/`: 404 for anything but an existing numeric id.
pub(super) async fn detail(
    State(state): State<AppState>,
    params: Result<RawPathParams, RawPathParamsRejection>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("no product matches the given query");
    let params = params.map_err(|_| not_found())?;
    let id = params
        .iter()
        .next()
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|id| catalog::exists(*id))
        .ok_or_else(not_found)?;
    let body = state.catalog.detail(id).ok_or_else(not_found)?;
    Ok(raw_json(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use super::requested_page;

    #[test]
    fn page_parameter() {
        assert_eq!(requested_page(None, 5), Some(1));
        assert_eq!(requested_page(Some("page=3"), 5), Some(3));
        assert_eq!(requested_page(Some("x=1&page=5"), 5), Some(5));
        assert_eq!(requested_page(Some("page=last"), 5), Some(5));
        assert_eq!(requested_page(Some("page=6"), 5), None);
        assert_eq!(requested_page(Some("page=0"), 5), None);
        assert_eq!(requested_page(Some("page=abc"), 5), None);
        assert_eq!(requested_page(Some("page="), 5), None);
        assert_eq!(requested_page(Some("page=+1"), 5), None);
        assert_eq!(
            requested_page(Some("page=99999999999999999999999"), 5),
            None
        );
    }
}
