//! Compiles what the program carries besides code: the GResource bundle, the
//! translations (po/*.po → .mo), and the translated desktop and metainfo files.

use std::path::{Path, PathBuf};
use std::process::Command;

const APP_ID: &str = "io.github.tallyapp.Tally";

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=po");
    println!("cargo:rerun-if-changed=data");

    glib_build_tools::compile_resources(
        &["data/resources"],
        "data/resources/resources.gresource.xml",
        "tally.gresource",
    );

    let locale = out.join("locale");
    compile_translations(&locale);
    println!("cargo:rustc-env=TALLY_BUILD_LOCALEDIR={}", locale.display());

    merge(
        "--desktop",
        &format!("data/{APP_ID}.desktop.in"),
        &out.join(format!("{APP_ID}.desktop")),
    );
    merge(
        "--xml",
        &format!("data/{APP_ID}.metainfo.xml.in"),
        &out.join(format!("{APP_ID}.metainfo.xml")),
    );
}

fn languages() -> Vec<String> {
    let text = std::fs::read_to_string("po/LINGUAS").unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn msgfmt(args: &[&str]) -> bool {
    match Command::new("msgfmt").args(args).status() {
        Ok(status) if status.success() => true,
        Ok(status) => panic!("msgfmt {args:?} failed with {status}"),
        Err(e) => {
            println!(
                "cargo:warning=msgfmt not found ({e}): translations not built; run `make deps`"
            );
            false
        }
    }
}

fn compile_translations(locale: &Path) {
    for lang in languages() {
        let dir = locale.join(&lang).join("LC_MESSAGES");
        std::fs::create_dir_all(&dir).expect("create locale dir");
        let po = format!("po/{lang}.po");
        let mo = dir.join("tally.mo");
        if !msgfmt(&["--check", "-o", mo.to_str().expect("utf-8 path"), &po]) {
            return;
        }
    }
}

/// Merges translations into a desktop or metainfo file (`msgfmt --desktop` / `--xml`).
fn merge(kind: &str, template: &str, output: &Path) {
    let out = output.to_str().expect("utf-8 path");
    if !msgfmt(&[kind, "--template", template, "-d", "po", "-o", out]) {
        std::fs::copy(template, output).expect("copy untranslated file");
    }
}
