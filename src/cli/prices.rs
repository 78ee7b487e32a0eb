//! `tally prices`: the price book, the user's own prices and LiteLLM imports.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::json;

use super::args::{self, When};
use super::print_json;
use super::table::{Table, thousands};
use crate::core::Money;
use crate::core::price_file::{ImageSpec, PriceSpec, RateSpec, rate_to_string};
use crate::core::pricing::{Mode, ModelPrice, Origin, PriceBook, Resolved};
use crate::i18n::{fill, gettext};
use crate::prices;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum PricesCommand {
    /// List the prices in force today (or the models that have no price)
    List(ListArgs),
    /// Show one model's prices: every tier, image size and dated change
    Show(ShowArgs),
    /// Set your own price for a model; it wins over shipped and imported prices
    Set(Box<SetArgs>),
    /// Remove your own prices for a model
    Remove(RemoveArgs),
    /// Import a price file: LiteLLM's model_prices_and_context_window.json or genai-prices' data.json
    #[command(visible_alias = "update")]
    Import(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this provider's models
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// List the models in the ledger that have no price, with their record counts
    #[arg(long)]
    unpriced: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The model, as a provider names it (e.g. gpt-4o, openai/gpt-oss-120b)
    model: String,
    /// The provider; found from the model when left out
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    model: String,
    /// The provider [default: the model's, when Tally knows it]
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// chat, embedding or image
    #[arg(long, value_name = "MODE", default_value = "chat", value_parser = parse_mode)]
    mode: Mode,
    /// Dollars per million input tokens
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    input: Option<Money>,
    /// Dollars per million output tokens
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    output: Option<Money>,
    /// Dollars per million cached input tokens read
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    cache_read: Option<Money>,
    /// Dollars per million tokens written to the cache (5 minutes)
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    cache_write: Option<Money>,
    /// Dollars per million tokens written to the cache for 1 hour
    #[arg(long = "cache-write-1h", value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    cache_write_1h: Option<Money>,
    /// Dollars per million audio input tokens
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    audio_input: Option<Money>,
    /// Dollars per million cached audio input tokens read
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    audio_cache_read: Option<Money>,
    /// Dollars per million audio output tokens
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    audio_output: Option<Money>,
    /// Dollars per million image input tokens
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    image_input: Option<Money>,
    /// Dollars per million cached image input tokens read
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    image_cache_read: Option<Money>,
    /// Dollars per million image output tokens
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    image_output: Option<Money>,
    /// Dollars per image, as SIZE/QUALITY=USD (e.g. 1024x1024/hd=0.08; * for any); repeatable
    #[arg(long = "image", value_name = "SIZE/QUALITY=USD", value_parser = image_price)]
    images: Vec<ImageSpec>,
    /// The first day the price applies [default: always]
    #[arg(long, value_name = "DATE", value_parser = args::when)]
    from: Option<When>,
    /// Put it in the team's shared price book: every machine of the team prices the model with it, everyone's calls alike
    #[arg(long)]
    team: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    model: String,
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// Remove it from the team's shared price book
    #[arg(long)]
    team: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The price file
    file: PathBuf,
    /// The first day the imported prices apply [default: today]
    #[arg(long, value_name = "DATE", value_parser = args::when)]
    from: Option<When>,
    /// List every skipped entry, not just the count per reason
    #[arg(long)]
    explain: bool,
    #[arg(long)]
    json: bool,
}

fn parse_mode(text: &str) -> Result<Mode, String> {
    match text {
        "chat" => Ok(Mode::Chat),
        "embedding" => Ok(Mode::Embedding),
        "image" => Ok(Mode::Image),
        other => Err(fill(
            &gettext("“{}” is not a mode (chat, embedding or image)"),
            &[other],
        )),
    }
}

fn image_price(text: &str) -> Result<ImageSpec, String> {
    let bad = || {
        fill(
            &gettext("“{}” is not SIZE/QUALITY=USD (e.g. 1024x1024/hd=0.08)"),
            &[text],
        )
    };
    let (what, price) = text.split_once('=').ok_or_else(bad)?;
    let (size, quality) = what.split_once('/').unwrap_or((what, "*"));
    let price = args::usd(price)?;
    if size.trim().is_empty() || quality.trim().is_empty() {
        return Err(bad());
    }
    Ok(ImageSpec {
        size: size.trim().into(),
        quality: quality.trim().into(),
        price: price.to_decimal_string(),
    })
}

pub fn run(store: &mut Store, command: PricesCommand) -> anyhow::Result<()> {
    match command {
        PricesCommand::List(a) if a.unpriced => list_unpriced(store, a.json),
        PricesCommand::List(a) => list(store, a),
        PricesCommand::Show(a) => show(store, a),
        PricesCommand::Set(a) => set(store, *a),
        PricesCommand::Remove(a) => remove(store, a),
        PricesCommand::Import(a) => import(store, a),
    }
}

fn today() -> Date {
    Timestamp::now().to_zoned(TimeZone::UTC).date()
}

fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Shipped => "shipped",
        Origin::Imported => "imported",
        Origin::User => "user",
        Origin::Team => "team",
    }
}

fn rate_cell(r: Option<i64>) -> String {
    r.map_or_else(|| "—".into(), |v| format!("${}", rate_to_string(v)))
}

/// The entries in force today, one per model.
fn in_force(book: &PriceBook) -> Vec<&ModelPrice> {
    let now = Timestamp::now();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for e in book.entries() {
        let key = (e.provider.clone(), e.model.clone());
        if seen.insert(key.clone()) {
            let resolved = Resolved {
                provider: key.0,
                model: key.1,
            };
            if let Some(p) = book.price_at(&resolved, now) {
                out.push(p);
            }
        }
    }
    out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
    out
}

fn price_json(p: &ModelPrice) -> serde_json::Value {
    let mut v = serde_json::to_value(PriceSpec::from_price(p)).unwrap_or_default();
    v["origin"] = json!(origin_name(p.origin));
    v["version"] = json!(p.version);
    v
}

fn list(store: &Store, a: ListArgs) -> anyhow::Result<()> {
    let book = prices::load(store)?;
    let wanted = a
        .provider
        .as_deref()
        .map(crate::core::pricing::normalize_provider);
    let entries: Vec<&ModelPrice> = in_force(&book)
        .into_iter()
        .filter(|e| wanted.as_ref().is_none_or(|p| &e.provider == p))
        .collect();
    let checked = prices::checked_on(store)?;
    let today = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::system())
        .date();
    let stale = checked.and_then(|c| crate::core::pricing::stale_days(c, today));
    if a.json {
        return print_json(&json!({
            "prices": entries.iter().map(|p| price_json(p)).collect::<Vec<_>>(),
            "checked": checked.map(|d| d.to_string()),
            "stale": stale.is_some(),
        }));
    }
    let mut table = Table::new(vec![
        (gettext("Provider"), false),
        (gettext("Model"), false),
        (gettext("Input"), true),
        (gettext("Output"), true),
        (gettext("Cache read"), true),
        (gettext("Cache write"), true),
        (gettext("Since"), false),
        (gettext("Source"), false),
    ]);
    for e in &entries {
        let (input, output) = match e.mode {
            Mode::Image if e.rates.input.is_none() => (gettext("per image"), String::new()),
            _ => (rate_cell(e.rates.input), rate_cell(e.rates.output)),
        };
        table.row(vec![
            e.provider.clone(),
            e.model.clone(),
            input,
            output,
            rate_cell(e.rates.cache_read),
            rate_cell(e.rates.cache_write_5m),
            e.effective_from.to_string(),
            origin_name(e.origin).into(),
        ]);
    }
    print!("{}", table.render());
    println!("{}", gettext("Prices in US dollars per million tokens."));
    if let Some(checked) = checked {
        println!(
            "{}",
            fill(&gettext("Prices checked on {}."), &[&checked.to_string()])
        );
    }
    if let Some(days) = stale {
        eprintln!(
            "{}",
            fill(
                &gettext(
                    "These prices were checked {} days ago and providers change theirs often: import a newer price file with tally prices import FILE, then tally reprice --dry-run shows what would change."
                ),
                &[&days.to_string()]
            )
        );
    }
    Ok(())
}

fn list_unpriced(store: &Store, json_out: bool) -> anyhow::Result<()> {
    let rows: Vec<(String, String, u64, Option<String>)> = store
        .unpriced_models()?
        .into_iter()
        .map(|u| (u.provider, u.model, u.calls, u.reason))
        .collect();
    if json_out {
        let items: Vec<_> = rows
            .iter()
            .map(|(p, m, n, why)| json!({"provider": p, "model": m, "records": n, "reason": why}))
            .collect();
        return print_json(&json!({ "unpriced": items }));
    }
    if rows.is_empty() {
        println!("{}", gettext("Every record in the ledger has a price."));
        return Ok(());
    }
    let mut table = Table::new(vec![
        (gettext("Provider"), false),
        (gettext("Model"), false),
        (gettext("Records"), true),
    ]);
    for (p, m, n, _) in &rows {
        table.row(vec![
            if p.is_empty() {
                "—".into()
            } else {
                p.clone()
            },
            m.clone(),
            thousands(*n),
        ]);
    }
    print!("{}", table.render());
    println!(
        "{}",
        gettext("Add a price with: tally prices set MODEL --input USD --output USD")
    );
    Ok(())
}

fn show(store: &Store, a: ShowArgs) -> anyhow::Result<()> {
    let book = prices::load(store)?;
    let resolved = book
        .resolve(a.provider.as_deref().unwrap_or(""), &a.model)
        .map_err(anyhow::Error::msg)?;
    let mut entries: Vec<&ModelPrice> = book
        .entries()
        .iter()
        .filter(|e| e.provider == resolved.provider && e.model == resolved.model)
        .collect();
    entries.sort_by_key(|e| (e.effective_from, e.origin));
    let current = book.price_at(&resolved, Timestamp::now());
    if a.json {
        return print_json(&json!({
            "provider": resolved.provider,
            "model": resolved.model,
            "in_force": current.map(price_json),
            "history": entries.iter().map(|p| price_json(p)).collect::<Vec<_>>(),
        }));
    }
    println!("{} · {}", resolved.provider, resolved.model);
    for e in entries {
        let marker = if current.is_some_and(|c| std::ptr::eq(c, e)) {
            "▶"
        } else {
            " "
        };
        println!(
            "{marker} {} {} ({})",
            gettext("from"),
            e.effective_from,
            e.version
        );
        print_rates("    ", &e.rates);
        for tier in &e.long_context {
            println!(
                "    {}",
                fill(
                    &gettext("above {} prompt tokens:"),
                    &[&thousands(tier.above_tokens)]
                )
            );
            print_rates("      ", &tier.rates);
        }
        for i in &e.images {
            println!(
                "    {} {} {}: {}",
                gettext("image"),
                i.size,
                i.quality,
                i.price.display()
            );
        }
        print_modifiers("    ", &e.modifiers);
    }
    Ok(())
}

/// How the price changes with a call's tier, speed, region and tools.
fn print_modifiers(indent: &str, m: &crate::core::pricing::Modifiers) {
    let times = |v: i64| format!("× {}", rate_to_string(v));
    for (tier, v) in &m.tiers {
        println!("{indent}{}: {}", tier.name(), times(*v));
    }
    for (tier, rates) in &m.tier_rates {
        println!("{indent}{}:", tier.name());
        print_rates(&format!("{indent}  "), rates);
    }
    if let Some(v) = m.fast {
        println!("{indent}{}: {}", gettext("fast mode"), times(v));
    }
    for (region, v) in &m.regions {
        println!(
            "{indent}{}: {}",
            fill(&gettext("region {}"), &[region]),
            times(*v)
        );
    }
    if let Some(fee) = m.web_search {
        println!(
            "{indent}{}: {}",
            gettext("web search"),
            fill(&gettext("{} per 1,000"), &[&fee.display()])
        );
    }
}

fn print_rates(indent: &str, r: &crate::core::pricing::Rates) {
    let rows = [
        (gettext("input"), r.input),
        (gettext("output"), r.output),
        (gettext("cache read"), r.cache_read),
        (gettext("cache write (5 min)"), r.cache_write_5m),
        (gettext("cache write (1 h)"), r.cache_write_1h),
        (gettext("reasoning"), r.reasoning),
        (gettext("audio input"), r.audio.input),
        (gettext("audio cache read"), r.audio.cache_read),
        (gettext("audio output"), r.audio.output),
        (gettext("image input"), r.image.input),
        (gettext("image cache read"), r.image.cache_read),
        (gettext("image output"), r.image.output),
    ];
    for (name, rate) in rows {
        if let Some(v) = rate {
            println!("{indent}{name}: ${} / M", rate_to_string(v));
        }
    }
}

/// The provider a user's price is for: the one given, else the model's own when
/// the book knows it, else none (the model is unknown everywhere).
fn provider_for(book: &PriceBook, given: Option<&str>, model: &str) -> String {
    match given {
        Some(p) => crate::core::pricing::normalize_provider(p),
        None => book
            .resolve("", model)
            .map(|r| r.provider)
            .unwrap_or_default(),
    }
}

fn set(store: &mut Store, a: SetArgs) -> anyhow::Result<()> {
    let book = prices::load(store)?;
    let provider = provider_for(&book, a.provider.as_deref(), &a.model);
    let text = |m: Option<Money>| m.map(|v| v.to_decimal_string());
    let spec = PriceSpec {
        provider: provider.clone(),
        model: a.model.trim().to_lowercase(),
        mode: a.mode,
        from: match &a.from {
            Some(w) => w
                .start(&TimeZone::UTC)
                .map_err(anyhow::Error::msg)?
                .to_zoned(TimeZone::UTC)
                .date(),
            None => Date::constant(1970, 1, 1),
        },
        rates: RateSpec {
            input: text(a.input),
            output: text(a.output),
            cache_read: text(a.cache_read),
            cache_write_5m: text(a.cache_write),
            cache_write_1h: text(a.cache_write_1h),
            reasoning: None,
            audio_input: text(a.audio_input),
            audio_cache_read: text(a.audio_cache_read),
            audio_output: text(a.audio_output),
            image_input: text(a.image_input),
            image_cache_read: text(a.image_cache_read),
            image_output: text(a.image_output),
        },
        images: a.images,
        ..PriceSpec::default()
    };
    if a.team {
        let report = crate::team::prices::change(store, |client, machine| {
            crate::team::prices::publish(client, &spec, machine).map(|()| 1)
        })?;
        if a.json {
            return print_json(&json!({"team": true, "repriced": report.repriced}));
        }
        println!(
            "{}",
            fill(
                &gettext(
                    "Saved the team's price for {}: every machine prices it so from its next sync."
                ),
                &[&spec.model]
            )
        );
        repriced(report.repriced);
        return Ok(());
    }
    let (price, changed) = prices::save_user_price(store, &spec)?;
    if a.json {
        return print_json(&json!({"price": price_json(&price), "repriced": changed}));
    }
    println!(
        "{}",
        fill(&gettext("Saved your price for {}."), &[&price.model])
    );
    repriced(changed);
    Ok(())
}

fn repriced(n: u64) {
    println!(
        "{}",
        fill(&gettext("Repriced {} records."), &[&thousands(n)])
    );
}

fn remove(store: &mut Store, a: RemoveArgs) -> anyhow::Result<()> {
    let book = prices::load(store)?;
    let provider = provider_for(&book, a.provider.as_deref(), &a.model);
    let model = a.model.trim().to_lowercase();
    if a.team {
        let mut removed = 0;
        let report = crate::team::prices::change(store, |client, _| {
            removed = crate::team::prices::remove(client, &provider, &model)?;
            Ok(removed)
        })?;
        if removed == 0 {
            bail!(fill(
                &gettext("The team's price book has no price for {}."),
                &[&model]
            ));
        }
        println!(
            "{}",
            fill(&gettext("Removed the team's price for {}."), &[&model])
        );
        repriced(report.repriced);
        return Ok(());
    }
    let removed = store.remove_user_prices(&provider, &model)?;
    if removed == 0 {
        bail!(fill(
            &gettext("You have no price of your own for {}."),
            &[&model]
        ));
    }
    let book = prices::load(store)?;
    let changed = store
        .reprice(&book, |r| r.model.eq_ignore_ascii_case(&model))?
        .changed;
    println!(
        "{}",
        fill(&gettext("Removed your price for {}."), &[&model])
    );
    repriced(changed);
    Ok(())
}

fn import(store: &mut Store, a: ImportArgs) -> anyhow::Result<()> {
    let text = crate::ingest::read_usage_file(&a.file).map_err(anyhow::Error::msg)?;
    let from = match &a.from {
        Some(w) => w
            .start(&TimeZone::UTC)
            .map_err(anyhow::Error::msg)?
            .to_zoned(TimeZone::UTC)
            .date(),
        None => today(),
    };
    let update =
        prices::update(store, &text, from).with_context(|| format!("{}", a.file.display()))?;
    let (format, result, priced, preview) =
        (update.format, update.import, update.priced, update.preview);

    let mut by_mode: BTreeMap<&str, u64> = BTreeMap::new();
    for p in &result.prices {
        *by_mode.entry(mode_name(p.mode)).or_default() += 1;
    }
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, why) in &result.skipped {
        *reasons.entry(why.as_str()).or_default() += 1;
    }
    if a.json {
        return print_json(&json!({
            "file": a.file.display().to_string(),
            "format": format,
            "effective_from": from.to_string(),
            "imported": result.prices.len(),
            "imported_by_mode": by_mode,
            "skipped": result.skipped.iter().map(|(k, why)| json!({"entry": k, "reason": why})).collect::<Vec<_>>(),
            "newly_priced": priced.newly_priced,
            "still_unpriced": priced.still_unpriced,
            "reprice_would_change": preview.cost_changed,
            "reprice_before_usd": preview.before,
            "reprice_after_usd": preview.after,
        }));
    }
    let modes: Vec<String> = by_mode
        .iter()
        .map(|(m, n)| format!("{m} {}", thousands(*n)))
        .collect();
    println!(
        "{}",
        fill(
            &gettext("Imported {} prices ({}) from {}, in force from {}."),
            &[
                &thousands(result.prices.len() as u64),
                &modes.join(", "),
                &a.file.display().to_string(),
                &from.to_string()
            ]
        )
    );
    println!(
        "{}",
        fill(
            &gettext("Skipped {} entries:"),
            &[&thousands(result.skipped.len() as u64)]
        )
    );
    let mut sorted: Vec<(&str, u64)> = reasons.into_iter().collect();
    sorted.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    for (why, n) in sorted {
        println!("  {:>6}  {why}", thousands(n));
    }
    if a.explain {
        for (entry, why) in &result.skipped {
            println!("  {entry}: {why}");
        }
    }
    println!(
        "{}",
        fill(
            &gettext("Priced {} records that had no price; {} still have none."),
            &[
                &thousands(priced.newly_priced),
                &thousands(priced.still_unpriced)
            ]
        )
    );
    if preview.cost_changed > 0 {
        println!(
            "{}",
            fill(
                &gettext(
                    "With these prices {} priced records would cost {} instead of {}: tally reprice --dry-run shows it, tally reprice applies it."
                ),
                &[
                    &thousands(preview.cost_changed),
                    &preview.after.display(),
                    &preview.before.display()
                ]
            )
        );
    }
    Ok(())
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Chat => "chat",
        Mode::Embedding => "embedding",
        Mode::Image => "image",
    }
}
