//! The translation catalogue keeps up with the code: every source file with
//! strings for people is listed for extraction, and German has every message.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_file_with_translatable_strings_is_in_potfiles() {
    let listed = std::fs::read_to_string(root().join("po/POTFILES.in")).unwrap();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let relative = file
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let translates = text.contains("gettext(\"")
            || text.contains("ngettext(\n")
            || text.contains("ngettext(\"");
        if translates && relative != "src/i18n.rs" {
            assert!(
                listed.lines().any(|l| l.trim() == relative),
                "{relative} has strings for people but is not in po/POTFILES.in"
            );
        }
    }
}

#[test]
fn the_german_translation_is_complete() {
    let out = Command::new("msgfmt")
        .args(["--check", "--statistics", "-o", "/dev/null", "po/de.po"])
        .current_dir(root())
        .output()
        .expect("msgfmt is needed (make deps installs it)");
    let stats = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stats}");
    assert!(
        stats.contains("translated messages")
            && !stats.contains("untranslated")
            && !stats.contains("fuzzy"),
        "po/de.po: {stats}"
    );
}
