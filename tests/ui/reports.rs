//! Every report in the window, and its export through the file chooser.

use super::support::*;

/// Runs each report over the seeded days, sees its figures, and exports two.
pub async fn each_report_runs_and_exports(check: &Check) {
    check.show("reports");
    // The seeded calls are from November 2025: a custom range.
    select(
        check,
        "reports-range",
        tally::core::report::PRESETS.len() as u32,
    );
    pause(100).await;
    set_text(&check.window, "reports-from", "2025-11-01");
    set_text(&check.window, "reports-to", "2025-11-30");
    check
        .widget("reports-to")
        .downcast::<gtk::Entry>()
        .expect("an entry")
        .emit_activate();
    // 1,234,000 nano-dollars × (1 + 2 + … + 262): the seeded calls' cost.
    let total = Money::from_nanos(1_234_000 * (262 * 263 / 2)).display();
    let expected: [(u32, &str, &str); 6] = [
        (0, "summary", "Totals"),
        (1, "trend", "Cost by day"),
        (2, "compare", "By model"),
        (3, "projection", "By the End of Each Period"),
        (4, "what-if", "Cheaper Models of the Same Kind"),
        (5, "reconcile", "Per UTC Day and Model"),
    ];
    for (index, name, title) in expected {
        select(check, "reports-kind", index);
        let tables = check.widget("reports-tables");
        // The figure proves the run for this range has landed, not an earlier one.
        let figure = match name {
            "summary" | "compare" => total.as_str(),
            "what-if" => "claude-sonnet-4-5",
            _ => title,
        };
        let shown = wait_for(Duration::from_secs(10), || {
            let spinner = check.widget("reports-spinner");
            let all = labels(&tables);
            !spinner.is_visible()
                && all.iter().any(|l| l == title)
                && all.iter().any(|l| l == figure)
        })
        .await;
        check.expect(
            shown.is_some(),
            &format!("the {name} report shows “{title}”"),
        );
        let all = labels(&tables);
        match name {
            "summary" | "compare" => check.expect(
                all.contains(&total),
                &format!("the {name} holds the range's {total}"),
            ),
            "what-if" => check.expect(
                all.iter().any(|l| l == "claude-sonnet-4-5"),
                "the what-if lists the model that was used",
            ),
            _ => {}
        }
        pause(200).await;
        screenshot(&format!("reports-{name}")).await;
        // Each exported, the formats in turn.
        let (format, ext) = [(0, "csv"), (1, "md"), (2, "json")][index as usize % 3];
        let file = artifacts().join(format!("report-{name}.{ext}"));
        let _ = std::fs::remove_file(&file);
        select(check, "reports-format", format);
        let saved = export_through_the_chooser(check, "reports-export", &file).await;
        check.expect(
            saved,
            &format!("the {name} is exported to {}", file.display()),
        );
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let plain = Money::from_nanos(1_234_000 * (262 * 263 / 2)).to_decimal_string();
        let right = match ext {
            "csv" => {
                let rows = csv::Reader::from_reader(text.as_bytes()).records().count();
                rows > 0 && (name != "summary" || text.contains(&plain))
            }
            "md" => text.starts_with("# ") && text.contains(&format!("## {title}")),
            _ => {
                serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v["report"] == name)
            }
        };
        check.expect(
            right,
            &format!("the exported {name} ({ext}) holds the report"),
        );
    }
    // The usage history exports the records it lists.
    check.show("history");
    let file = artifacts().join("usage-history.csv");
    let _ = std::fs::remove_file(&file);
    let saved = export_through_the_chooser(check, "history-export", &file).await;
    let said = wait_for(Duration::from_secs(10), || {
        check
            .label("history-export-status")
            .starts_with("Exported 262 records")
    })
    .await;
    check.expect(
        saved && said.is_some(),
        "the history's records are exported and it says so",
    );
    let rows = std::fs::read_to_string(&file).map_or(0, |t| t.lines().count());
    check.expect(rows == 263, &format!("a header and 262 rows ({rows})"));
}
