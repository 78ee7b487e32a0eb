//! The routes: OTLP intake, the REST API, the event stream and MCP.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::events::{self, Cursor, Event};
use super::mapping::{self, Mapped};
use super::otlp::{self, Format, Signal};
use super::stats::Intake;
use super::writer::Job;
use super::{Shared, openapi};
use crate::api::{self, ApiError, BadInput};
use crate::core::pricing::Pricer;

type S = State<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    let mcp = super::mcp::http_service(
        shared.db.clone(),
        shared.token.is_some(),
        shared.closing.clone(),
    );
    Router::new()
        .route("/v1/logs", post(logs))
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/usage", get(usage))
        .route("/api/v1/record", post(record))
        .route("/api/v1/check", post(check))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alerts/{id}/ack", post(ack))
        .route("/api/v1/events", get(stream))
        .route("/api/v1/otlp", get(intake))
        .route("/api/v1/openapi.json", get(openapi_doc))
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(shared.clone(), authorize))
        .layer(axum::extract::DefaultBodyLimit::max(otlp::MAX_BODY))
        .with_state(shared)
}

fn error(status: StatusCode, body: impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

fn bad(b: BadInput) -> Response {
    error(StatusCode::BAD_REQUEST, b)
}

fn failed(why: impl std::fmt::Display) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"field": null, "error": why.to_string()}),
    )
}

fn api_error(e: ApiError) -> Response {
    match e {
        ApiError::Bad(b) => bad(b),
        ApiError::Store(e) => failed(e),
    }
}

/// With a token set, every request carries it (`Authorization: Bearer …`).
async fn authorize(State(shared): S, request: Request, next: Next) -> Response {
    if let Some(token) = &shared.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(given.as_bytes(), token.as_bytes()) {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                json!({"field": null, "error": "a valid Bearer token is required"}),
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(request).await
}

/// Compares in time that does not depend on where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON body read into `T`; a wrong field is named.
fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, BadInput> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != "." && !path.is_empty()).then_some(path);
        let inner = e.into_inner().to_string();
        // An unknown field names itself in the message.
        let field = field.or_else(|| {
            inner
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
                .map(str::to_string)
        });
        BadInput {
            field,
            error: inner,
        }
    })
}

// ------------------------------------------------------------- OTLP

async fn logs(State(s): S, headers: HeaderMap, body: Bytes) -> Response {
    export(s, Signal::Logs, headers, body).await
}

async fn traces(State(s): S, headers: HeaderMap, body: Bytes) -> Response {
    export(s, Signal::Traces, headers, body).await
}

async fn metrics(State(s): S, headers: HeaderMap, body: Bytes) -> Response {
    export(s, Signal::Metrics, headers, body).await
}

/// An export's items as records, priced, with what the rest were.
fn take(
    items: Vec<otlp::Item>,
    book: &crate::core::PriceBook,
) -> (Vec<crate::core::UsageRecord>, Intake) {
    let mut intake = Intake {
        items: items.len() as u64,
        last_at: Some(Timestamp::now()),
        ..Intake::default()
    };
    let mut pricer = Pricer::new(book);
    let mut records = Vec::new();
    for item in &items {
        match mapping::map(item) {
            Mapped::Record(mut r) => {
                if r.provider.is_empty() {
                    r.provider = pricer.maker(&r.model).unwrap_or_default();
                }
                r.cost = pricer.cost(&r);
                records.push(*r);
            }
            Mapped::Aggregate => intake.aggregates += 1,
            Mapped::NotUsage => intake.not_usage(&item.name),
            Mapped::Bad(why) => {
                intake.rejected += 1;
                intake.last_rejection = Some(format!("{}: {why}", item.name));
            }
        }
    }
    (records, intake)
}

async fn export(s: Arc<Shared>, signal: Signal, headers: HeaderMap, body: Bytes) -> Response {
    let text = |h| {
        headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let Some(format) = Format::of(text(header::CONTENT_TYPE)) else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": "send application/x-protobuf or application/json"}),
        );
    };
    let gzip = text(header::CONTENT_ENCODING).eq_ignore_ascii_case("gzip");
    let book = s.book();
    let work = tokio::task::spawn_blocking(move || {
        let raw;
        let body: &[u8] = if gzip {
            raw = otlp::gunzip(&body)?;
            &raw
        } else {
            &body
        };
        let items = otlp::decode(signal, format, body)?;
        Ok::<_, String>(take(items, &book))
    })
    .await;
    let (records, intake) = match work {
        Ok(Ok(taken)) => taken,
        Ok(Err(why)) => {
            return error(StatusCode::BAD_REQUEST, json!({"code": 3, "message": why}));
        }
        Err(e) => return failed(e),
    };
    let rejected = intake.rejected as i64;
    let why = intake.last_rejection.clone().unwrap_or_default();
    let (done, answer) = oneshot::channel();
    if let Err(e) = s.writer.send(Job::Records {
        records,
        intake,
        done,
    }) {
        return failed(e);
    }
    match answer.await {
        Ok(Ok(())) => {
            let bytes = otlp::answer(signal, format, rejected, &why);
            ([(header::CONTENT_TYPE, format.content_type())], bytes).into_response()
        }
        // Not stored: the exporter sends it again later.
        Ok(Err(e)) => failed(e),
        Err(_) => failed("the server is stopping"),
    }
}

async fn intake(State(s): S) -> Response {
    let live = s.intake.lock().map(|i| i.clone()).unwrap_or_default();
    match s.with_store(|store| super::intake(store)).await {
        Ok(mut kept) => {
            kept.add(&live);
            axum::Json(kept).into_response()
        }
        Err(e) => failed(e),
    }
}

// ------------------------------------------------------------- REST

async fn status(State(s): S) -> Response {
    match s
        .with_store(|store| api::status(store, Timestamp::now()))
        .await
    {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

async fn usage(
    State(s): S,
    query: Result<Query<api::UsageRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let req = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            let text = e.body_text();
            let field = text.split('`').nth(1).map(str::to_string);
            return bad(BadInput { field, error: text });
        }
    };
    let ask = match req.ask() {
        Ok(a) => a,
        Err(b) => return bad(b),
    };
    let answer = s
        .with_store(move |store| {
            let (rows, total) = api::usage_rows(store, &ask)?;
            Ok::<_, crate::store::StoreError>(serde_json::to_vec(&api::UsageDoc::new(
                &ask, &rows, &total,
            )))
        })
        .await;
    match answer {
        Ok(Ok(Ok(bytes))) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Ok(Ok(Err(e))) => failed(e),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

async fn record(State(s): S, body: Bytes) -> Response {
    let req: api::RecordRequest = match json_body(&body) {
        Ok(r) => r,
        Err(b) => return bad(b),
    };
    let r = match req.to_record(&s.book(), "api", Timestamp::now()) {
        Ok(r) => r,
        Err(b) => return bad(b),
    };
    let (done, answer) = oneshot::channel();
    if let Err(e) = s.writer.send(Job::Record {
        record: Box::new(r),
        done,
    }) {
        return failed(e);
    }
    match answer.await {
        Ok(Ok((outcome, stored))) => {
            let code = if outcome.new {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, axum::Json(api::stored_json(outcome, &stored))).into_response()
        }
        Ok(Err(e)) => failed(e),
        Err(_) => failed("the server is stopping"),
    }
}

async fn check(State(s): S, body: Bytes) -> Response {
    let req: api::CheckRequest = match json_body(&body) {
        Ok(r) => r,
        Err(b) => return bad(b),
    };
    let book = s.book();
    let answer = s
        .with_store(move |store| api::check(store, &book, &req, Timestamp::now()))
        .await;
    match answer {
        Ok(Ok((decision, doc))) => {
            if decision.verdict == crate::core::check::Verdict::Block {
                let _ = s.wrote.send(());
            }
            axum::Json(doc).into_response()
        }
        Ok(Err(e)) => api_error(e),
        Err(e) => failed(e),
    }
}

async fn alerts(
    State(s): S,
    query: Result<Query<api::AlertsRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let req = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            return bad(BadInput {
                field: None,
                error: e.body_text(),
            });
        }
    };
    match s.with_store(move |store| api::alerts(store, &req)).await {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

async fn ack(State(s): S, Path(id): Path<i64>) -> Response {
    let found = s.with_store(move |store| store.alert(id)).await;
    match found {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => {
            return error(
                StatusCode::NOT_FOUND,
                json!({"field": "id", "error": format!("no alert {id}")}),
            );
        }
        Ok(Err(e)) => return failed(e),
        Err(e) => return failed(e),
    }
    let (done, answer) = oneshot::channel();
    if let Err(e) = s.writer.send(Job::Ack {
        id,
        by: "api".into(),
        done,
    }) {
        return failed(e);
    }
    match answer.await {
        Ok(Ok(acknowledged)) => {
            let alert = s.with_store(move |store| store.alert(id)).await;
            let alert = match alert {
                Ok(Ok(a)) => a,
                _ => None,
            };
            axum::Json(json!({"acknowledged": acknowledged, "alert": alert})).into_response()
        }
        Ok(Err(e)) => failed(e),
        Err(_) => failed("the server is stopping"),
    }
}

async fn openapi_doc() -> Response {
    axum::Json(openapi::document()).into_response()
}

// ------------------------------------------------------------- events

#[derive(serde::Deserialize)]
struct StreamQuery {
    last_event_id: Option<String>,
}

async fn stream(
    State(s): S,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(q.last_event_id);
    let from = match last.as_deref().map(str::parse::<Cursor>).transpose() {
        Ok(c) => c,
        Err(why) => return bad(BadInput::new("last_event_id", why)),
    };
    let (tx, mut rx) = mpsc::channel::<Value>(256);
    tokio::spawn(follow(s.clone(), from, tx));
    match ws {
        Ok(upgrade) => {
            let closing = s.closing.clone();
            upgrade.on_upgrade(move |socket| forward_ws(socket, rx, closing))
        }
        Err(_) => {
            let stream = async_stream(move |yielder| async move {
                while let Some(v) = rx.recv().await {
                    let e = SseEvent::default()
                        .id(v["id"].as_str().unwrap_or_default())
                        .event(v["event"].as_str().unwrap_or_default())
                        .data(v["data"].to_string());
                    if yielder
                        .send(Ok::<_, std::convert::Infallible>(e))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            Sse::new(stream)
                .keep_alive(KeepAlive::default())
                .into_response()
        }
    }
}

/// A stream fed by a task: `make` gets the sending end.
fn async_stream<T: Send + 'static, F, Fut>(make: F) -> impl futures_util::Stream<Item = T>
where
    F: FnOnce(mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(make(tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

async fn forward_ws(
    mut socket: WebSocket,
    mut rx: mpsc::Receiver<Value>,
    closing: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            v = rx.recv() => match v {
                Some(v) => {
                    if socket.send(Message::Text(v.to_string().into())).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
            _ = closing.cancelled() => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Tells a client every event after `from` (the ledger's, then live ones),
/// or only the live ones when it gives no id. A client that falls behind
/// the live feed is caught up from the ledger.
async fn follow(s: Arc<Shared>, from: Option<Cursor>, tx: mpsc::Sender<Value>) {
    let mut live = s.feed.subscribe();
    let mut seen = from.unwrap_or_else(|| s.feed.head());
    if from.is_some() && !catch_up(&s, &mut seen, &tx).await {
        return;
    }
    loop {
        let next = tokio::select! {
            e = live.recv() => e,
            _ = s.closing.cancelled() => return,
            _ = tx.closed() => return,
        };
        match next {
            Ok(e) => {
                if !send(&e, &mut seen, &tx).await {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if !catch_up(&s, &mut seen, &tx).await {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn send(e: &Event, seen: &mut Cursor, tx: &mpsc::Sender<Value>) -> bool {
    if !e.is_after(seen) {
        return true;
    }
    match e.kind {
        "record" => seen.call = e.at.call,
        "alert" => seen.alert = e.at.alert,
        _ => seen.event = e.at.event,
    }
    tx.send(e.wire(seen)).await.is_ok()
}

async fn catch_up(s: &Arc<Shared>, seen: &mut Cursor, tx: &mpsc::Sender<Value>) -> bool {
    loop {
        let from = *seen;
        let page = s
            .with_store(move |store| events::read_since(store, from, 1000))
            .await;
        let (list, more) = match page {
            Ok(Ok(p)) => p,
            _ => return false,
        };
        for e in &list {
            if !send(e, seen, tx).await {
                return false;
            }
        }
        if !more {
            return true;
        }
    }
}
