//! JSON, schema `tally-report/1` (documented in the README): the report's
//! name, title, days and notes, then its tables, each row an object keyed by
//! column. Amounts are decimal strings with nine places, counts are numbers,
//! percentages decimal strings.

use serde_json::{Map, Value, json};

use super::{Cell, Document};

pub const SCHEMA: &str = "tally-report/1";

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Count(n) => json!(n),
        Cell::Int(n) => json!(n),
        Cell::Bool(b) => json!(b),
        Cell::Empty => Value::Null,
        other => Value::String(other.plain()),
    }
}

fn kind(cells: &[&Cell]) -> &'static str {
    let first = cells.iter().find(|c| !matches!(c, Cell::Empty));
    match first {
        Some(Cell::Money(_)) => "money",
        Some(Cell::Count(_)) | Some(Cell::Int(_)) => "integer",
        Some(Cell::Percent(_)) => "percent",
        Some(Cell::Measure(..)) => "amount",
        Some(Cell::Date(_)) => "date",
        Some(Cell::Time(_)) => "time",
        Some(Cell::Bool(_)) => "boolean",
        _ => "text",
    }
}

pub fn render(doc: &Document) -> String {
    let tables: Vec<Value> = doc
        .tables
        .iter()
        .map(|t| {
            let columns: Vec<Value> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let cells: Vec<&Cell> = t.rows.iter().filter_map(|r| r.get(i)).collect();
                    json!({"key": c.key, "title": c.title, "type": kind(&cells)})
                })
                .collect();
            let rows: Vec<Value> = t
                .rows
                .iter()
                .map(|r| {
                    let mut o = Map::new();
                    for (c, cell) in t.columns.iter().zip(r) {
                        o.insert(c.key.to_string(), value(cell));
                    }
                    Value::Object(o)
                })
                .collect();
            json!({"name": t.name, "title": t.title, "columns": columns, "rows": rows})
        })
        .collect();
    let doc = json!({
        "schema": SCHEMA,
        "report": doc.report,
        "title": doc.title,
        "from": doc.from.map(|d| d.to_string()),
        "to": doc.to.map(|d| d.to_string()),
        "generated_at": doc.generated_at.to_string(),
        "notes": doc.notes,
        "tables": tables,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    text.push('\n');
    text
}
