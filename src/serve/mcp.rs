//! The MCP server: tools and prompts that let a user's own agent ask Tally
//! about their budgets before a call, and act as a budget assistant with
//! Tally's figures. `tally mcp` serves it on stdio; `tally serve` at `/mcp`
//! (streamable HTTP). Every tool answers with the same JSON as the REST API.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptResult, Implementation, PromptMessage, Role,
    ServerCapabilities, ServerConfig,
};
use rmcp::{ServerHandler, prompt, prompt_handler, prompt_router, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{self, ApiError, CheckRequest, RecordRequest, UsageRequest};
use crate::core::report::Days;
use crate::core::report::what_if::Scenario;
use crate::reports::{self, Context, Kind, Request};
use crate::store::Store;

#[derive(Clone)]
pub struct Tally {
    db: Arc<PathBuf>,
    tool_router: ToolRouter<Tally>,
    prompt_router: PromptRouter<Tally>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CheaperRequest {
    /// How many days back to look at [default: 30]
    pub days: Option<u32>,
    /// Models to try instead; Tally picks cheaper ones of the makers used when left out
    #[serde(default)]
    pub candidates: Vec<String>,
}

/// The cheaper models tried when the caller names none, per maker.
const CANDIDATES: [&str; 6] = [
    "claude-haiku-4-5",
    "claude-sonnet-4-5",
    "gpt-5-mini",
    "gpt-4.1-mini",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
];

fn text_result(v: Result<Value, String>) -> CallToolResult {
    match v {
        Ok(v) => CallToolResult::success(vec![ContentBlock::text(
            serde_json::to_string_pretty(&v).unwrap_or_default(),
        )]),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(e)]),
    }
}

fn api_text(e: ApiError) -> String {
    e.to_string()
}

impl Tally {
    pub fn new(db: PathBuf) -> Tally {
        Tally {
            db: Arc::new(db),
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
        }
    }

    /// Runs `f` on the ledger, off the async threads.
    async fn on_ledger<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = Store::open(&db).map_err(|e| e.to_string())?;
            f(&mut store)
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

fn book(store: &Store) -> Result<crate::core::PriceBook, String> {
    crate::prices::load(store).map_err(|e| e.to_string())
}

/// The what-if report of the last `days` days moved onto each candidate.
fn cheaper(store: &Store, req: &CheaperRequest) -> Result<Value, String> {
    let book = book(store)?;
    let now = Timestamp::now();
    let today = now.to_zoned(store.zone().clone()).date();
    let days = i64::from(req.days.unwrap_or(30).clamp(1, 366));
    let from = today
        .checked_sub(jiff::Span::new().days(days - 1))
        .map_err(|e| e.to_string())?;
    let ctx = Context {
        store,
        book: &book,
        now,
        week_start: reports::week_start(store),
    };
    let mut candidates: Vec<String> = req.candidates.clone();
    if candidates.is_empty() {
        candidates = CANDIDATES
            .iter()
            .filter(|m| book.resolve("", m).is_ok())
            .map(|m| m.to_string())
            .collect();
    }
    let mut out = Vec::new();
    for model in candidates.iter().take(8) {
        let mut r = Request::new(Kind::WhatIf, Days::new(from, today));
        r.scenario = Scenario::Models {
            map: vec![("*".into(), model.clone())],
        };
        let doc = reports::run(&ctx, &r).map_err(|e| e.to_string())?;
        let rendered = crate::export::render(&doc, crate::export::Format::Json);
        out.push(json!({
            "model": model,
            "report": serde_json::from_slice::<Value>(&rendered).unwrap_or(Value::Null),
        }));
    }
    Ok(json!({"from": from.to_string(), "to": today.to_string(), "candidates": out}))
}

#[tool_router]
impl Tally {
    #[tool(
        description = "Every budget: used, limit, left, forecast and when it resets (as `tally status --json`)."
    )]
    async fn budget_status(&self) -> CallToolResult {
        text_result(
            self.on_ledger(|s| api::status(s, Timestamp::now()).map_err(|e| e.to_string()))
                .await,
        )
    }

    #[tool(
        description = "Ask before a model call whether the budgets allow it: allow, warn, throttle (wait) or block, with the reasons (as `tally check --json`). A blocked call is recorded as an alert."
    )]
    async fn check_budget(&self, Parameters(req): Parameters<CheckRequest>) -> CallToolResult {
        text_result(
            self.on_ledger(move |s| {
                let book = book(s)?;
                api::check(s, &book, &req, Timestamp::now())
                    .map(|(_, doc)| doc)
                    .map_err(api_text)
            })
            .await,
        )
    }

    #[tool(
        description = "Usage and cost over a range, grouped by day, week, month, provider, model, user, project, agent or source (as `tally usage --json`)."
    )]
    async fn usage_summary(&self, Parameters(req): Parameters<UsageRequest>) -> CallToolResult {
        text_result(
            self.on_ledger(move |s| {
                let ask = req.ask().map_err(|b| b.to_string())?;
                api::usage(s, &ask).map_err(|e| e.to_string())
            })
            .await,
        )
    }

    #[tool(
        description = "What a call would cost at Tally's prices, without recording it (the fields of record_usage)."
    )]
    async fn estimate_cost(&self, Parameters(req): Parameters<RecordRequest>) -> CallToolResult {
        text_result(
            self.on_ledger(move |s| {
                let book = book(s)?;
                let r = req
                    .to_record(&book, "mcp", Timestamp::now())
                    .map_err(|b| b.to_string())?;
                Ok(crate::cli::record::cost_json(&r))
            })
            .await,
        )
    }

    #[tool(
        description = "What the user's own recent calls would have cost on cheaper models (the what-if report): which cheaper model fits their usage."
    )]
    async fn cheaper_models(&self, Parameters(req): Parameters<CheaperRequest>) -> CallToolResult {
        text_result(self.on_ledger(move |s| cheaper(s, &req)).await)
    }

    #[tool(
        description = "Record a model call in the ledger (as `tally record`); the same request_id twice counts once."
    )]
    async fn record_usage(&self, Parameters(req): Parameters<RecordRequest>) -> CallToolResult {
        text_result(
            self.on_ledger(move |s| {
                let book = book(s)?;
                let r = req
                    .to_record(&book, "mcp", Timestamp::now())
                    .map_err(|b| b.to_string())?;
                let outcome = s.insert(&r).map_err(|e| e.to_string())?;
                let stored = s
                    .record(outcome.id)
                    .map_err(|e| e.to_string())?
                    .unwrap_or(r);
                let notifier = crate::notifier::System::for_store(s);
                let (_, webhook) = crate::engine::after_write_quick(s, Timestamp::now(), &notifier);
                if webhook {
                    crate::engine::deliver_due_concurrently(s, Timestamp::now(), &notifier);
                }
                Ok(api::stored_json(outcome, &stored))
            })
            .await,
        )
    }
}

/// A prompt that hands the model Tally's figures and the question.
fn ask(question: &str, figures: Result<Value, String>) -> GetPromptResult {
    let figures = match figures {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(e) => format!("(Tally could not read the ledger: {e})"),
    };
    GetPromptResult::new(vec![PromptMessage::new_text(
        Role::User,
        format!(
            "{question}\n\nThese are the figures from Tally, my spending tracker (amounts in US dollars; \
             tokens as the providers count them):\n\n```json\n{figures}\n```\n\nAnswer from these figures \
             only; say which numbers you used, and what you would need to know that they do not show."
        ),
    )])
}

fn month_so_far(store: &Store) -> Result<Value, String> {
    let zone = store.zone().clone();
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    let since = today.first_of_month().to_string();
    let grouped = |by: &str| {
        let ask = UsageRequest {
            since: Some(since.clone()),
            group_by: Some(by.into()),
            tz: zone.iana_name().map(str::to_string),
            ..UsageRequest::default()
        }
        .ask()
        .map_err(|b| b.to_string())?;
        api::usage(store, &ask).map_err(|e| e.to_string())
    };
    Ok(json!({
        "by_model": grouped("model")?,
        "by_project": grouped("project")?,
        "by_agent": grouped("agent")?,
        "by_day": grouped("day")?,
    }))
}

#[prompt_router]
impl Tally {
    #[prompt(
        name = "where_did_my_money_go",
        description = "Where did my money go this month? Spend by model, project, agent and day."
    )]
    async fn where_did_my_money_go(&self) -> GetPromptResult {
        ask(
            "Where did my money go this month? Name the models, projects and agents that cost most, and the days that stand out.",
            self.on_ledger(|s| month_so_far(s)).await,
        )
    }

    #[prompt(
        name = "which_cheaper_model",
        description = "Which cheaper model fits my recent usage? The what-if report of the last 30 days on cheaper models."
    )]
    async fn which_cheaper_model(&self) -> GetPromptResult {
        ask(
            "Which cheaper model fits my recent usage? Compare what my last 30 days would have cost on each candidate, and say where a cheaper model is a fair trade and where it is not.",
            self.on_ledger(|s| cheaper(s, &CheaperRequest::default()))
                .await,
        )
    }

    #[prompt(
        name = "will_i_stay_within_budget",
        description = "Will I stay within budget? Every budget with its forecast to the end of its period."
    )]
    async fn will_i_stay_within_budget(&self) -> GetPromptResult {
        ask(
            "Will I stay within my budgets? For each budget, say where it stands, where the forecast puts it at the end of the period, and what to change if it is heading over.",
            self.on_ledger(|s| api::status(s, Timestamp::now()).map_err(|e| e.to_string()))
                .await,
        )
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for Tally {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("tally", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Tally tracks what the user spends on AI APIs and holds it to budgets. Call check_budget before an expensive model call; use usage_summary and budget_status to answer questions about spending.",
        )
    }
}

/// `tally mcp`: the server on stdin and stdout until the client leaves.
pub fn run_stdio(db: PathBuf) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        use rmcp::ServiceExt;
        let running = Tally::new(db)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| anyhow::anyhow!("MCP: {e}"))?;
        running
            .waiting()
            .await
            .map_err(|e| anyhow::anyhow!("MCP: {e}"))?;
        anyhow::Ok(())
    })
}

/// The same server at `/mcp`, as streamable HTTP.
pub fn http_service(
    db: PathBuf,
    guarded: bool,
    closing: tokio_util::sync::CancellationToken,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    Tally,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let mut config = StreamableHttpServerConfig::default();
    config.cancellation_token = closing;
    // On loopback without a token the Host check keeps web pages out (DNS
    // rebinding); with a token, the token does, and the server answers to
    // whatever name it is reached by.
    if guarded {
        config.allowed_hosts.clear();
    }
    StreamableHttpService::new(
        move || Ok(Tally::new(db.clone())),
        Default::default(),
        config,
    )
}
