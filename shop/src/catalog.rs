//! The fixed product catalog, with every product and page body serialized once up front.

use axum::body::Bytes;
use serde::Serialize;

use crate::seed::PRODUCT_COUNT;

/// Products per page, like DRF's `PageNumberPagination.page_size`.
pub(crate) const PAGE_SIZE: u64 = 20;
/// Stock of every product (it never goes down).
pub(crate) const STOCK: u32 = 1000;

#[derive(Debug, Serialize)]
struct Product {
    id: u64,
    name: String,
    price: u64,
    stock: u32,
    is_active: bool,
}

impl Product {
    fn new(id: u64) -> Self {
        Self {
            id,
            name: format!("성능테스트 상품 {id}"),
            price: price(id),
            stock: STOCK,
            is_active: true,
        }
    }
}

/// Price in won of a product id (whether or not it exists).
pub(crate) fn price(id: u64) -> u64 {
    10_000 + id * 1_000
}

/// Whether a product id exists.
pub(crate) fn exists(id: u64) -> bool {
    (1..=PRODUCT_COUNT).contains(&id)
}

/// Pre-rendered JSON for product details and page result arrays.
pub(crate) struct Catalog {
    details: Vec<Bytes>,
    pages: Vec<String>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("products", &self.details.len())
            .field("pages", &self.pages.len())
            .finish()
    }
}

impl Catalog {
    pub(crate) fn new() -> Self {
        let products: Vec<Product> = (1..=PRODUCT_COUNT).map(Product::new).collect();
        let details = products
            .iter()
            .map(|p| Bytes::from(serde_json::to_vec(p).unwrap_or_default()))
            .collect();
        let pages = products
            .chunks(PAGE_SIZE as usize)
            .map(|page| serde_json::to_string(page).unwrap_or_default())
            .collect();
        Self { details, pages }
    }

    /// JSON of one product.
    pub(crate) fn detail(&self, id: u64) -> Option<Bytes> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.details.get(index).cloned()
    }

    /// Number of pages.
    pub(crate) fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// JSON array of the products on a 1-based page.
    pub(crate) fn page_results(&self, page: usize) -> Option<&str> {
        self.pages.get(page.checked_sub(1)?).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_products() {
        let catalog = Catalog::new();
        assert_eq!(catalog.page_count(), 5);
        let one: serde_json::Value = serde_json::from_slice(&catalog.detail(1).unwrap()).unwrap();
        assert_eq!(
            one,
            serde_json::json!({"id": 1, "name": "성능테스트 상품 1", "price": 11000, "stock": 1000, "is_active": true})
        );
        assert!(catalog.detail(0).is_none());
        assert!(catalog.detail(101).is_none());
        let last: serde_json::Value =
            serde_json::from_str(catalog.page_results(5).unwrap()).unwrap();
        assert_eq!(last.as_array().unwrap().len(), 20);
        assert_eq!(last[19]["id"], 100);
        assert!(catalog.page_results(0).is_none());
        assert!(catalog.page_results(6).is_none());
    }
}
