//! Exact money: an `i64` count of nano-US-dollars.
//!
//! Every amount Tally stores or sums is a `Money`; floating point never touches a
//! total. Arithmetic overflows panic (release builds keep overflow checks on), which
//! at ±9.2 billion dollars is a bug, not a budget.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub};

/// Nano-dollars in one dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("“{0}” is not a decimal amount (expected e.g. 12.50)")]
    NotDecimal(String),
    #[error("“{0}” has more than {1} decimal places")]
    TooPrecise(String, u32),
    #[error("“{0}” is too large")]
    TooLarge(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        Money(nanos)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self × n`, for a count of items at a unit price; `None` past ±9.2 billion dollars.
    pub fn checked_times(self, n: u64) -> Option<Money> {
        let product = i128::from(self.0) * i128::from(n);
        i64::try_from(product).ok().map(Money)
    }

    /// Rounds `numerator / denominator` nano-dollars half away from zero; `None`
    /// past ±9.2 billion dollars. Pricing sums `tokens × rate` exactly in i128 and
    /// divides once, here.
    pub fn checked_from_ratio(numerator: i128, denominator: i128) -> Option<Money> {
        if denominator <= 0 {
            return None;
        }
        let quotient = numerator / denominator;
        let remainder = numerator % denominator;
        let rounded = if 2 * remainder.abs() >= denominator {
            quotient + numerator.signum()
        } else {
            quotient
        };
        i64::try_from(rounded).ok().map(Money)
    }

    /// As `checked_from_ratio`, for amounts known to be in range (prices, not totals).
    pub fn from_ratio(numerator: i128, denominator: i128) -> Money {
        Self::checked_from_ratio(numerator, denominator).expect("money overflow")
    }

    /// Parses a plain decimal dollar amount such as `12`, `-0.5` or `0.000025`.
    /// At most nine decimal places: nano-dollars are exact, so nothing is rounded.
    pub fn parse_usd(text: &str) -> Result<Money, MoneyError> {
        let nanos = parse_scaled(text, 9)?;
        i64::try_from(nanos)
            .map(Money)
            .map_err(|_| MoneyError::TooLarge(text.to_string()))
    }

    /// The fixed nine-decimal form used in JSON and CSV: `"0.000025000"`.
    pub fn to_decimal_string(self) -> String {
        let mut out = String::with_capacity(16);
        self.write_decimal(&mut out);
        out
    }

    /// [`Money::to_decimal_string`] into a buffer (an export of millions).
    pub fn write_decimal(self, out: &mut String) {
        use std::fmt::Write;
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = NANOS_PER_USD as u64;
        let _ = write!(out, "{sign}{}.{:09}", abs / per, abs % per);
    }

    /// A single call's amount, where cents hide too much: four decimals below ten
    /// dollars (`$0.0925`), the usual form above.
    pub fn display_detailed(self) -> String {
        AmountStyle::USD.detailed(self)
    }

    /// A human amount: `$1,234.56` from a dollar up, and enough decimals below a
    /// dollar to show two significant digits (`$0.0042`, `$0.000025`).
    pub fn display(self) -> String {
        AmountStyle::USD.format(self)
    }
}

/// How amounts are shown: in which currency, with which separators. The ledger
/// keeps US dollars; another currency is the dollar amount times a rate the user
/// sets, converted exactly and only for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmountStyle {
    pub symbol: &'static str,
    /// `12,50 €` rather than `€12.50`.
    pub symbol_after: bool,
    pub thousands: char,
    pub decimal: char,
    /// Units of the shown currency per dollar, in millionths (1.0 = 1,000,000).
    pub per_usd_micros: i64,
}

impl Default for AmountStyle {
    fn default() -> Self {
        AmountStyle::USD
    }
}

/// The currencies amounts can be shown in: ISO code and symbol.
pub const CURRENCIES: [(&str, &str); 8] = [
    ("USD", "$"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("CHF", "CHF"),
    ("JPY", "¥"),
    ("CAD", "CA$"),
    ("AUD", "A$"),
    ("INR", "₹"),
];

impl AmountStyle {
    pub const USD: AmountStyle = AmountStyle {
        symbol: "$",
        symbol_after: false,
        thousands: ',',
        decimal: '.',
        per_usd_micros: 1_000_000,
    };

    /// A dollar amount in the shown currency, rounded half away from zero.
    pub fn convert(&self, m: Money) -> Money {
        Money::from_ratio(i128::from(m.0) * i128::from(self.per_usd_micros), 1_000_000)
    }

    /// [`Money::display`] in this style.
    pub fn format(&self, m: Money) -> String {
        let m = self.convert(m);
        let abs = m.0.unsigned_abs();
        let cent = NANOS_PER_USD as u64 / 100;
        let mut decimals = 2;
        if abs != 0 && abs < cent {
            // Two significant digits: 0.0042 → 4 decimals, 0.000025 → 6.
            decimals = (10 - abs.ilog10()).min(9);
            if round_to_decimals(abs, decimals) >= cent {
                decimals = 2;
            }
        }
        self.with_symbol(m.0 < 0, abs, decimals)
    }

    /// [`Money::display_detailed`] in this style.
    pub fn detailed(&self, m: Money) -> String {
        let shown = self.convert(m);
        let abs = shown.0.unsigned_abs();
        if abs == 0 || abs >= 10 * NANOS_PER_USD as u64 || abs < 100_000 {
            return self.format(m);
        }
        self.with_symbol(shown.0 < 0, abs, 4)
    }

    /// A count with this style's thousands separator: `1,234,567`.
    pub fn count(&self, n: u64) -> String {
        group_with(n, self.thousands)
    }

    /// An axis label for a dollar value: no cents once the scale is in tens.
    pub fn axis(&self, dollars: f64, top_dollars: f64) -> String {
        let nanos = |v: f64| Money::from_nanos((v * 1e9).round() as i64);
        let (v, top) = (
            self.convert(nanos(dollars)),
            self.convert(nanos(top_dollars)),
        );
        let decimals = if top.0 >= 10 * NANOS_PER_USD { 0 } else { 2 };
        self.with_symbol(v.0 < 0, v.0.unsigned_abs(), decimals)
    }

    fn with_symbol(&self, negative: bool, abs: u64, decimals: u32) -> String {
        let rounded = round_to_decimals(abs, decimals);
        let per = NANOS_PER_USD as u64;
        let mut number = group_with(rounded / per, self.thousands);
        if decimals > 0 {
            let frac = rounded % per / 10u64.pow(9 - decimals);
            number.push(self.decimal);
            number.push_str(&format!("{frac:0width$}", width = decimals as usize));
        }
        let sign = if negative && rounded != 0 { "-" } else { "" };
        // A symbol of letters (CHF) needs a space before the number.
        let gap = if self.symbol_after || self.symbol.chars().all(char::is_alphabetic) {
            "\u{a0}"
        } else {
            ""
        };
        if self.symbol_after {
            format!("{sign}{number}{gap}{}", self.symbol)
        } else {
            format!("{sign}{}{gap}{number}", self.symbol)
        }
    }
}

fn round_to_decimals(nanos: u64, decimals: u32) -> u64 {
    let unit = 10u64.pow(9 - decimals);
    (nanos + unit / 2) / unit * unit
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    group_with(n, ',')
}

fn group_with(n: u64, separator: char) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(ch);
    }
    out
}

/// Parses a decimal string into an integer count of `10^-scale` units, exactly.
/// Accepts an optional sign, digits, an optional fraction and an optional exponent
/// (`3e-06`, as float printers write prices); rejects anything it would have to round.
pub fn parse_scaled(text: &str, scale: u32) -> Result<i128, MoneyError> {
    let bad = || MoneyError::NotDecimal(text.to_string());
    let s = text.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let mut value: i128 = 0;
    for b in digits.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .ok_or_else(|| MoneyError::TooLarge(text.to_string()))?;
    }
    // value × 10^(exponent − frac_len) units of 1, wanted in units of 10^−scale.
    let shift = i64::from(exponent) - frac_part.len() as i64 + i64::from(scale);
    if shift >= 0 {
        let factor = 10i128
            .checked_pow(u32::try_from(shift).map_err(|_| MoneyError::TooLarge(text.to_string()))?)
            .ok_or_else(|| MoneyError::TooLarge(text.to_string()))?;
        value = value
            .checked_mul(factor)
            .ok_or_else(|| MoneyError::TooLarge(text.to_string()))?;
    } else {
        let divisor = 10i128.checked_pow((-shift) as u32);
        match divisor {
            Some(d) if value % d == 0 => value /= d,
            _ if value == 0 => {}
            _ => return Err(MoneyError::TooPrecise(text.to_string(), scale)),
        }
    }
    Ok(if negative { -value } else { value })
}

impl Money {
    /// The sum, held at the largest or smallest amount instead of overflowing.
    pub fn saturating_add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

/// JSON carries amounts as decimal strings (`"0.000025000"`), never as floats.
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_decimal_string())
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let text = String::deserialize(d)?;
        Money::parse_usd(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_exponent_forms_exactly() {
        assert_eq!(Money::parse_usd("12").unwrap().nanos(), 12_000_000_000);
        assert_eq!(Money::parse_usd("0.000025").unwrap().nanos(), 25_000);
        assert_eq!(Money::parse_usd("-1.5").unwrap().nanos(), -1_500_000_000);
        assert_eq!(Money::parse_usd(".5").unwrap().nanos(), 500_000_000);
        assert_eq!(Money::parse_usd("3e-06").unwrap().nanos(), 3_000);
        assert_eq!(
            Money::parse_usd("1.250000000000").unwrap().nanos(),
            1_250_000_000
        );
    }

    #[test]
    fn rejects_what_it_would_have_to_round_or_cannot_read() {
        assert_eq!(
            Money::parse_usd("0.0000000001"),
            Err(MoneyError::TooPrecise("0.0000000001".into(), 9))
        );
        for bad in ["", "abc", "1.2.3", "$5", "1,000", "--1", "1e", "."] {
            assert!(Money::parse_usd(bad).is_err(), "{bad} should not parse");
        }
        assert!(matches!(
            Money::parse_usd("1e30"),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn decimal_string_round_trips() {
        for nanos in [
            0,
            1,
            -1,
            25_000,
            999_999_999,
            1_000_000_000,
            -123_456_789_012,
            i64::MAX,
        ] {
            let m = Money::from_nanos(nanos);
            assert_eq!(Money::parse_usd(&m.to_decimal_string()).unwrap(), m);
        }
        assert_eq!(
            Money::parse_usd(&Money::from_nanos(i64::MIN).to_decimal_string())
                .unwrap()
                .nanos(),
            i64::MIN
        );
        assert_eq!(Money::from_nanos(25_000).to_decimal_string(), "0.000025000");
        assert_eq!(Money::from_nanos(-5).to_decimal_string(), "-0.000000005");
    }

    #[test]
    fn display_uses_sensible_precision_and_separators() {
        let cases = [
            (0, "$0.00"),
            (1_234_560_000_000, "$1,234.56"),
            (4_200_000, "$0.0042"),
            (25_000, "$0.000025"),
            (250_000_000, "$0.25"),
            (10_000_000, "$0.01"),
            (9_999_999, "$0.01"),
            (1_005_000_000, "$1.01"),
            (-2_500_000_000, "-$2.50"),
            (1_000_000_000_000_000, "$1,000,000.00"),
            (1, "$0.000000001"),
        ];
        for (nanos, want) in cases {
            assert_eq!(Money::from_nanos(nanos).display(), want, "{nanos}");
        }
    }

    #[test]
    fn detailed_display_keeps_four_decimals_for_single_calls() {
        assert_eq!(Money::from_nanos(92_512_000).display_detailed(), "$0.0925");
        assert_eq!(
            Money::from_nanos(1_234_567_890).display_detailed(),
            "$1.2346"
        );
        assert_eq!(Money::from_nanos(25_000).display_detailed(), "$0.000025");
        assert_eq!(
            Money::from_nanos(12_345_000_000).display_detailed(),
            "$12.35"
        );
        assert_eq!(Money::ZERO.display_detailed(), "$0.00");
    }

    #[test]
    fn another_currency_is_converted_exactly_and_written_its_way() {
        let euro = AmountStyle {
            symbol: "€",
            symbol_after: true,
            thousands: '.',
            decimal: ',',
            per_usd_micros: 920_000,
        };
        // $1,234.56 × 0.92 = €1,135.7952.
        let m = Money::from_nanos(1_234_560_000_000);
        assert_eq!(euro.convert(m).nanos(), 1_135_795_200_000);
        assert_eq!(euro.format(m), "1.135,80\u{a0}€");
        assert_eq!(
            euro.detailed(Money::from_nanos(92_512_000)),
            "0,0851\u{a0}€"
        );
        assert_eq!(
            euro.format(Money::from_nanos(-2_500_000_000)),
            "-2,30\u{a0}€"
        );
        assert_eq!(euro.count(1_234_567), "1.234.567");
        assert_eq!(euro.axis(100.0, 200.0), "92\u{a0}€");
        let franc = AmountStyle {
            symbol: "CHF",
            ..AmountStyle::USD
        };
        assert_eq!(
            franc.format(Money::from_nanos(12_500_000_000)),
            "CHF\u{a0}12.50"
        );
        // The dollar style is what Money::display has always written.
        assert_eq!(AmountStyle::USD.axis(0.5, 2.0), "$0.50");
        assert_eq!(AmountStyle::USD.axis(1500.0, 2000.0), "$1,500");
    }

    #[test]
    fn ratio_rounds_half_away_from_zero() {
        assert_eq!(Money::from_ratio(15, 10).nanos(), 2);
        assert_eq!(Money::from_ratio(14, 10).nanos(), 1);
        assert_eq!(Money::from_ratio(-15, 10).nanos(), -2);
        assert_eq!(
            Money::from_ratio(3_000_000_000 * 7, 1_000_000).nanos(),
            21_000
        );
    }
}
