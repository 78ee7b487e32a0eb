//! The price book as the app and CLI use it: the shipped prices, plus what the
//! ledger holds (imported and the user's own).

use crate::core::PriceBook;
use crate::core::price_file::parse_book;
use crate::core::pricing::ModelPrice;
use crate::store::{Store, StoreError};

const SHIPPED: &str = include_str!("../data/prices/prices.json");

/// The shipped prices. The file is part of the build and tested, so a parse
/// failure here is a broken build, reported rather than hidden.
pub fn shipped() -> Vec<ModelPrice> {
    match parse_book(SHIPPED) {
        Ok((_, prices)) => prices,
        Err(e) => {
            tracing::error!("the shipped price book is invalid: {e}");
            Vec::new()
        }
    }
}

/// Shipped prices with the ledger's imported and user prices on top.
pub fn load(store: &Store) -> Result<PriceBook, StoreError> {
    let mut book = PriceBook::new(shipped());
    for stored in store.stored_prices()? {
        match stored.spec.to_price(stored.origin, &stored.version) {
            Ok(price) => book.add(price),
            Err(e) => tracing::warn!("ignoring a stored price for {}: {e}", stored.spec.model),
        }
    }
    Ok(book)
}
