//! CSV: exact values (dollars with nine decimals, plain integers), one row per
//! line. Text that a spreadsheet would run as a formula is neutralised.

use super::{Cell, CellRef, Column, Document};

/// Text starting with one of these is a formula to a spreadsheet.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Text as a CSV cell: with a leading `'`, which spreadsheets show as text,
/// when it would start a formula (built in `scratch` then).
fn neutral<'a>(text: &'a str, scratch: &'a mut String) -> &'a str {
    if !text.starts_with(FORMULA_STARTS) {
        return text;
    }
    scratch.clear();
    scratch.push('\'');
    scratch.push_str(text);
    scratch
}

/// A cell's CSV text: text neutralised, numbers written as numbers.
pub fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => neutral(s, &mut String::new()).to_string(),
        other => other.plain(),
    }
}

/// Writes rows under a header, for a long stream (the usage history).
pub struct Stream<W: std::io::Write> {
    writer: csv::Writer<W>,
    record: csv::ByteRecord,
}

impl<W: std::io::Write> Stream<W> {
    pub fn new(out: W, columns: &[Column]) -> std::io::Result<Stream<W>> {
        let mut stream = Stream::rows_only(out);
        stream.writer.write_record(columns.iter().map(|c| c.key))?;
        Ok(stream)
    }

    /// Rows without a header: a part of a longer stream.
    pub fn rows_only(out: W) -> Stream<W> {
        // Large buffers: an export is one long sequential write.
        let writer = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_writer(out);
        Stream {
            writer,
            record: csv::ByteRecord::new(),
        }
    }

    /// Flushes and hands back what the rows were written to.
    pub fn into_inner(self) -> std::io::Result<W> {
        self.writer.into_inner().map_err(|e| e.into_error())
    }

    pub fn row(&mut self, cells: &[Cell]) -> std::io::Result<()> {
        self.record.clear();
        for c in cells {
            self.record.push_field(cell_text(c).as_bytes());
        }
        self.writer.write_byte_record(&self.record)?;
        Ok(())
    }

    /// Writes borrowed cells as [`Stream::row`] writes their owned forms,
    /// with `scratch` reused for the numbers.
    pub fn row_refs(&mut self, cells: &[CellRef], scratch: &mut String) -> std::io::Result<()> {
        use std::fmt::Write;
        self.record.clear();
        for c in cells {
            scratch.clear();
            let text: &str = match c {
                CellRef::Text(s) => neutral(s, scratch),
                CellRef::Money(m) => {
                    m.write_decimal(scratch);
                    scratch
                }
                CellRef::Count(n) => {
                    let _ = write!(scratch, "{n}");
                    scratch
                }
                CellRef::Time(t) => {
                    let _ = write!(scratch, "{t}");
                    scratch
                }
                CellRef::Empty => "",
            };
            self.record.push_field(text.as_bytes());
        }
        self.writer.write_byte_record(&self.record)?;
        Ok(())
    }
}

/// The document as CSV: its one table, or with several, a first column
/// `table` naming each row's table and the columns of all of them.
pub fn render(doc: &Document) -> Vec<u8> {
    let several = doc.tables.len() > 1;
    let mut keys: Vec<&str> = Vec::new();
    for t in &doc.tables {
        for c in &t.columns {
            if !keys.contains(&c.key) {
                keys.push(c.key);
            }
        }
    }
    let mut header: Vec<Column> = Vec::new();
    if several {
        header.push(super::column("table", String::new()));
    }
    header.extend(keys.iter().map(|k| super::column(k, String::new())));
    let mut out = Stream::new(Vec::new(), &header).expect("writing to memory");
    for t in &doc.tables {
        for row in &t.rows {
            let mut cells: Vec<Cell> = Vec::with_capacity(header.len());
            if several {
                cells.push(Cell::text(t.name));
            }
            for k in &keys {
                let at = t.columns.iter().position(|c| c.key == *k);
                cells.push(at.and_then(|i| row.get(i).cloned()).unwrap_or(Cell::Empty));
            }
            out.row(&cells).expect("writing to memory");
        }
    }
    out.writer.into_inner().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Money;
    use crate::export::{Table, column};

    #[test]
    fn formulas_are_neutralised_and_numbers_stay_numbers() {
        for bad in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(cell_text(&Cell::text(bad)), format!("'{bad}"));
        }
        assert_eq!(cell_text(&Cell::text("a=b")), "a=b");
        assert_eq!(
            cell_text(&Cell::Money(Money::from_nanos(-5))),
            "-0.000000005"
        );
        assert_eq!(cell_text(&Cell::Int(-3)), "-3");
    }

    #[test]
    fn several_tables_share_one_header_with_the_table_first() {
        let doc = Document {
            report: "summary",
            title: String::new(),
            from: None,
            to: None,
            generated_at: jiff::Timestamp::UNIX_EPOCH,
            notes: vec![],
            tables: vec![
                Table {
                    name: "a",
                    title: String::new(),
                    columns: vec![column("x", String::new()), column("y", String::new())],
                    rows: vec![vec![Cell::Count(1), Cell::text("one, \"two\"")]],
                },
                Table {
                    name: "b",
                    title: String::new(),
                    columns: vec![column("y", String::new()), column("z", String::new())],
                    rows: vec![vec![Cell::text("b"), Cell::Count(2)]],
                },
            ],
        };
        let text = String::from_utf8(render(&doc)).unwrap();
        assert_eq!(text, "table,x,y,z\na,1,\"one, \"\"two\"\"\",\nb,,b,2\n");
    }
}
