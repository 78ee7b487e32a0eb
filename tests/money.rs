//! Exact money at scale: a million random amounts summed as `Money` equal the sum
//! worked out digit by digit on their decimal strings.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tally::core::Money;

/// Adds two non-negative decimal strings with nine decimals, digit by digit.
fn add_decimal(a: &str, b: &str) -> String {
    let digits = |s: &str| {
        s.replace('.', "")
            .bytes()
            .rev()
            .map(|c| c - b'0')
            .collect::<Vec<u8>>()
    };
    let (x, y) = (digits(a), digits(b));
    let mut out = Vec::new();
    let mut carry = 0;
    for i in 0..x.len().max(y.len()) {
        let s = x.get(i).unwrap_or(&0) + y.get(i).unwrap_or(&0) + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    while out.len() < 10 {
        out.push(0);
    }
    let mut s: String = out.iter().rev().map(|d| (b'0' + d) as char).collect();
    s.insert(s.len() - 9, '.');
    let trimmed = s.trim_start_matches('0');
    if trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    }
}

#[test]
fn a_million_amounts_sum_exactly() {
    let mut rng = StdRng::seed_from_u64(42);
    let mut total = Money::ZERO;
    let mut reference = "0.000000000".to_string();
    let mut float = 0f64;
    for _ in 0..1_000_000 {
        // A call's cost: up to $3, to the nano-dollar.
        let text = format!(
            "{}.{:09}",
            rng.random_range(0..3),
            rng.random_range(0..1_000_000_000u32)
        );
        let m = Money::parse_usd(&text).expect("parses");
        total += m;
        float += text.parse::<f64>().expect("float");
        reference = add_decimal(&reference, &text);
    }
    assert_eq!(total.to_decimal_string(), reference);
    // Why Money exists: the same sum in f64 has already drifted off the nano-dollar.
    assert_ne!(
        format!("{float:.9}"),
        reference,
        "f64 happened to be exact; the test data is too kind"
    );
}

#[test]
fn formatting_and_parsing_round_trip_for_random_amounts() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..100_000 {
        let m = Money::from_nanos(rng.random_range(-1_000_000_000_000_000..1_000_000_000_000_000));
        assert_eq!(Money::parse_usd(&m.to_decimal_string()), Ok(m));
    }
}
