//! Reports and the usage history as files: CSV for spreadsheets, Markdown for
//! people, JSON for programs. A report is first turned into typed tables
//! ([`Document`]), which each format writes its own way; files are written
//! whole or not at all ([`write_atomic`]).

mod atomic;
pub mod csv;
pub mod json;
pub mod markdown;
pub mod usage;

use jiff::Timestamp;
use jiff::civil::Date;

pub use atomic::{ExportError, target as file_to_replace, write_atomic, write_atomic_with};

use crate::core::Money;
use crate::core::policy::Metric;

/// One cell, typed so each format can write it as what it is: numbers stay
/// numbers in a spreadsheet, only text can carry a formula.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Money(Money),
    Count(u64),
    /// A signed whole number (a change in calls, say).
    Int(i64),
    /// Basis points: 1234 is 12.34 %.
    Percent(i64),
    Date(Date),
    Time(Timestamp),
    /// An amount in a budget's metric: nano-dollars, or a count of tokens,
    /// requests or images. Written as a decimal string in that unit.
    Measure(Metric, i64),
    Bool(bool),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn money(m: Option<Money>) -> Cell {
        m.map_or(Cell::Empty, Cell::Money)
    }

    pub fn percent(bp: Option<i64>) -> Cell {
        bp.map_or(Cell::Empty, Cell::Percent)
    }

    /// Whether a column of these lines up on the right.
    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Cell::Money(_) | Cell::Count(_) | Cell::Int(_) | Cell::Percent(_) | Cell::Measure(..)
        )
    }

    /// The exact, machine form: decimal dollars with nine places, plain
    /// integers, percent with two decimals, ISO dates and RFC 3339 times.
    pub fn plain(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Money(m) => m.to_decimal_string(),
            Cell::Count(n) => n.to_string(),
            Cell::Int(n) => n.to_string(),
            Cell::Percent(bp) => percent_plain(*bp),
            Cell::Date(d) => d.to_string(),
            Cell::Time(t) => t.to_string(),
            Cell::Measure(m, v) => m.plain(*v),
            Cell::Bool(b) => b.to_string(),
            Cell::Empty => String::new(),
        }
    }

    /// The form people read: `$1,234.56`, `1,234`, `12.3 %`.
    pub fn human(&self) -> String {
        match self {
            Cell::Money(m) => m.display(),
            Cell::Count(n) => crate::core::money::group_thousands(*n),
            Cell::Int(n) if *n < 0 => {
                format!("-{}", crate::core::money::group_thousands(n.unsigned_abs()))
            }
            Cell::Int(n) => format!("+{}", crate::core::money::group_thousands(*n as u64)),
            Cell::Percent(bp) => format!("{} %", percent_plain(*bp)),
            Cell::Time(t) => crate::i18n::local_time(*t),
            Cell::Measure(m, v) => m.display(*v),
            Cell::Empty => "—".to_string(),
            other => other.plain(),
        }
    }
}

/// A cell borrowed from where it lives (a row being exported): copying
/// millions of names into [`Cell`]s is most of an export's time otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CellRef<'a> {
    Text(&'a str),
    Money(Money),
    Count(u64),
    Time(Timestamp),
    Empty,
}

impl CellRef<'_> {
    pub fn to_cell(self) -> Cell {
        match self {
            CellRef::Text(s) => Cell::Text(s.to_string()),
            CellRef::Money(m) => Cell::Money(m),
            CellRef::Count(n) => Cell::Count(n),
            CellRef::Time(t) => Cell::Time(t),
            CellRef::Empty => Cell::Empty,
        }
    }
}

/// `1234` → `12.34`, `-5` → `-0.05`.
fn percent_plain(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let abs = bp.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A column: a stable key for programs, a title for people.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub key: &'static str,
    pub title: String,
}

pub fn column(key: &'static str, title: String) -> Column {
    Column { key, title }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Stable name for programs (`breakdown`, `policies`).
    pub name: &'static str,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// A report ready to write: what it is, over which days, its tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// `summary`, `trend`, `compare`, `projection`, `what-if`, `reconcile`, `usage`.
    pub report: &'static str,
    pub title: String,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub generated_at: Timestamp,
    /// Sentences a reader needs (what was left out, how a figure was made).
    pub notes: Vec<String>,
    pub tables: Vec<Table>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Markdown,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Markdown => "md",
            Format::Json => "json",
        }
    }

    /// The format a file name asks for, by its extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "md" | "markdown" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The document in a format, as bytes to write.
pub fn render(doc: &Document, format: Format) -> Vec<u8> {
    match format {
        Format::Csv => csv::render(doc),
        Format::Markdown => markdown::render(doc).into_bytes(),
        Format::Json => json::render(doc).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_have_an_exact_and_a_readable_form() {
        let m = Cell::Money(Money::from_nanos(-1_234_560_000_000));
        assert_eq!(m.plain(), "-1234.560000000");
        assert_eq!(m.human(), "-$1,234.56");
        assert_eq!(Cell::Percent(-5).plain(), "-0.05");
        assert_eq!(Cell::Percent(1234).human(), "12.34 %");
        assert_eq!(Cell::Int(-1500).human(), "-1,500");
        assert_eq!(Cell::Int(3).human(), "+3");
        assert_eq!(Cell::Count(1_000_000).human(), "1,000,000");
    }
}
