//! Markdown: a heading per report and per table, GitHub-style tables with
//! numbers on the right, amounts as people read them.

use super::{Cell, Document};

/// A cell's text made safe inside a table row: pipes escaped, line breaks as
/// `<br>` (a raw newline would end the row), backslashes kept literal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            '<' => out.push_str("&lt;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(doc: &Document) -> String {
    let mut out = format!("# {}\n\n", escape(&doc.title));
    for note in &doc.notes {
        out.push_str(&format!("> {}\n\n", escape(note)));
    }
    for t in &doc.tables {
        out.push_str(&format!("## {}\n\n", escape(&t.title)));
        if t.rows.is_empty() {
            out.push_str(&format!("{}\n\n", crate::i18n::gettext("None.")));
            continue;
        }
        let right: Vec<bool> = (0..t.columns.len())
            .map(|i| t.rows.iter().any(|r| r.get(i).is_some_and(Cell::is_number)))
            .collect();
        let titles: Vec<String> = t.columns.iter().map(|c| escape(&c.title)).collect();
        out.push_str(&format!("| {} |\n", titles.join(" | ")));
        let rules: Vec<&str> = right
            .iter()
            .map(|r| if *r { "---:" } else { "---" })
            .collect();
        out.push_str(&format!("| {} |\n", rules.join(" | ")));
        for row in &t.rows {
            let cells: Vec<String> = (0..t.columns.len())
                .map(|i| row.get(i).map_or(String::new(), |c| escape(&c.human())))
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_and_line_breaks_cannot_break_a_row() {
        assert_eq!(escape("a|b\nc\r\nd\\"), "a\\|b<br>c<br>d\\\\");
        assert_eq!(escape("<script>"), "&lt;script>");
    }
}
