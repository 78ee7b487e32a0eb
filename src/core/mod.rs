//! The pure domain: no GTK, no SQL, no file or network I/O. Time comes in as a parameter.

pub mod alerts;
pub mod breakdown;
pub mod check;
pub mod forecast;
pub mod genai_prices;
pub mod money;
pub mod outlook;
pub mod period;
pub mod plan;
pub mod policy;
pub mod price_file;
pub mod pricing;
pub mod report;
pub mod usage;

pub use money::Money;
pub use pricing::PriceBook;
pub use usage::{Cost, UsageRecord};
