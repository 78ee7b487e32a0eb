//! The price book as the app and CLI use it: the shipped prices, plus what the
//! ledger holds (imported and the user's own).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::core::genai_prices::{is_genai_prices, parse_genai_prices};
use crate::core::price_file::{
    PriceFileError, PriceImport, PriceSpec, apply_provider_rules, book_rules, parse_book,
    parse_litellm,
};
use crate::core::pricing::{ModelPrice, Origin, Resolved};
use crate::core::{PriceBook, UsageRecord};
use crate::store::{RepriceOutcome, Store, StoreError};

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

/// The day the prices were last checked: the shipped book's date, or the
/// ledger's newest import of a price file.
pub fn checked_on(store: &Store) -> Result<Option<Date>, StoreError> {
    // The book's date alone, not the whole book.
    #[derive(serde::Deserialize)]
    struct Dated {
        version: Date,
    }
    let Ok(Dated { version: shipped }) = serde_json::from_str::<Dated>(SHIPPED) else {
        return Ok(None);
    };
    let imported = store.imported_price_versions()?;
    Ok(Some(crate::core::pricing::checked_on(
        shipped,
        imported.iter().map(String::as_str),
    )))
}

/// Shipped prices with the ledger's imported and user prices on top, and
/// the team's shared price book when the ledger is in a team that has one.
pub fn load(store: &Store) -> Result<PriceBook, StoreError> {
    let mut book = PriceBook::new(shipped());
    let rules = book_rules(SHIPPED).unwrap_or_default();
    for stored in store
        .stored_prices()?
        .into_iter()
        .chain(store.team_prices()?)
    {
        match stored.spec.to_price(stored.origin, &stored.version) {
            Ok(mut price) => {
                apply_provider_rules(&mut price, &rules);
                book.add(price)
            }
            Err(e) => tracing::warn!("ignoring a stored price for {}: {e}", stored.spec.model),
        }
    }
    Ok(book)
}

#[derive(Debug, thiserror::Error)]
pub enum SavePriceError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Saves a price of the user's own and reprices the records of that model, so
/// totals follow at once. Returns the price and how many records changed.
pub fn save_user_price(
    store: &mut Store,
    spec: &PriceSpec,
) -> Result<(ModelPrice, u64), SavePriceError> {
    let version = format!("user {}", Timestamp::now().to_zoned(TimeZone::UTC).date());
    let price = spec
        .to_price(Origin::User, &version)
        .map_err(|e| SavePriceError::Invalid(e.to_string()))?;
    store.save_prices(Origin::User, std::slice::from_ref(spec), &version)?;
    let book = load(store)?;
    let key = Resolved {
        provider: price.provider.clone(),
        model: price.model.clone(),
    };
    let matches = |r: &UsageRecord| book.resolve(&r.provider, &r.model).is_ok_and(|x| x == key);
    let changed = store.reprice(&book, matches)?.changed;
    Ok((price, changed))
}

/// What `update` made of a price file.
#[derive(Debug)]
pub struct Update {
    /// `litellm` or `genai-prices`.
    pub format: &'static str,
    pub import: PriceImport,
    /// The records that had no price: how many have one now, how many not.
    pub priced: RepriceOutcome,
    /// What repricing the priced records would change; nothing is changed.
    pub preview: RepriceOutcome,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{0}")]
    File(#[from] PriceFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Takes the prices of a LiteLLM or genai-prices file, in force from `from`
/// (a genai-prices file dates its own changes). The records that had no price
/// are priced at once; a priced record keeps its cost until the user reprices,
/// and `preview` says what that would change.
pub fn update(store: &mut Store, text: &str, from: Date) -> Result<Update, UpdateError> {
    let genai = is_genai_prices(text);
    let format = if genai { "genai-prices" } else { "litellm" };
    let version = format!("{format} {from}");
    let import = if genai {
        parse_genai_prices(text, &version, from)?
    } else {
        parse_litellm(text, &version, from)?
    };
    let specs: Vec<PriceSpec> = import.prices.iter().map(PriceSpec::from_price).collect();
    store.save_prices(Origin::Imported, &specs, &version)?;
    let book = load(store)?;
    let priced = store.reprice(&book, |r| r.cost.is_unpriced())?;
    let preview = store.reprice_or_preview(&book, |r| !r.cost.is_unpriced(), true)?;
    Ok(Update {
        format,
        import,
        priced,
        preview,
    })
}
