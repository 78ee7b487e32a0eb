//! Every `--help` text of the command line is in the translation catalogue and
//! translated into German. `po/update-pot.sh` runs this with `TALLY_WRITE_HELP_POT`
//! set to write the texts as a catalogue fragment.

use std::collections::HashMap;
use std::path::Path;

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// msgid → msgstr of a .po or .pot file (singular entries).
fn catalogue(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = HashMap::new();
    let (mut id, mut value, mut field) = (String::new(), String::new(), "");
    let quoted = |line: &str| unescape(line.trim().trim_matches('"'));
    for line in text.lines().chain(std::iter::once("")) {
        if let Some(rest) = line.strip_prefix("msgid ") {
            id = quoted(rest);
            field = "id";
        } else if let Some(rest) = line.strip_prefix("msgstr ") {
            value = quoted(rest);
            field = "str";
        } else if line.starts_with('"') {
            match field {
                "id" => id.push_str(&quoted(line)),
                "str" => value.push_str(&quoted(line)),
                _ => {}
            }
        } else if line.trim().is_empty() {
            if field == "str" && !id.is_empty() {
                out.insert(std::mem::take(&mut id), std::mem::take(&mut value));
            }
            field = "";
        } else {
            field = if line.starts_with("msgid_plural") || line.starts_with("msgstr[") {
                ""
            } else {
                field
            };
        }
    }
    out
}

#[test]
fn every_help_text_is_in_the_catalogue_and_translated() {
    let texts = tally::cli::help::texts();
    assert!(texts.len() > 40, "the walk found {} texts", texts.len());
    if let Some(path) = std::env::var_os("TALLY_WRITE_HELP_POT") {
        let mut pot = String::from(
            "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\n",
        );
        for t in &texts {
            pot.push_str(&format!(
                "#: src/cli (--help)\nmsgid \"{}\"\nmsgstr \"\"\n\n",
                escape(t)
            ));
        }
        std::fs::write(&path, pot).expect("write the help catalogue");
        return;
    }
    let po = Path::new(env!("CARGO_MANIFEST_DIR")).join("po");
    let pot = catalogue(&po.join("tally.pot"));
    let de = catalogue(&po.join("de.po"));
    let missing: Vec<&String> = texts.iter().filter(|t| !pot.contains_key(*t)).collect();
    assert!(
        missing.is_empty(),
        "not in po/tally.pot (run po/update-pot.sh): {missing:#?}"
    );
    let untranslated: Vec<&String> = texts
        .iter()
        .filter(|t| de.get(*t).is_none_or(|s| s.is_empty()))
        .collect();
    assert!(
        untranslated.is_empty(),
        "no German in po/de.po: {untranslated:#?}"
    );
}

#[test]
fn help_is_german_under_a_german_locale() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["record", "--help"])
        .env("LC_ALL", "de_DE.UTF-8")
        .env("LANGUAGE", "de")
        .output()
        .expect("run tally");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Einen Modellaufruf"),
        "expected German help, got: {text}"
    );
}
