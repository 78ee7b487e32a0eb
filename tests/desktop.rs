//! Desktop integration files: translated the way `make install` does it, then
//! checked by the freedesktop validators.

use std::path::Path;
use std::process::Command;

const APP_ID: &str = "io.github.tallyapp.Tally";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (make deps installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

/// Merges the translations into `data/<file>.in` as `make install` does, checks
/// the result with `validator`, and returns its text.
fn merge_and_validate(kind: &str, file: &str, validator: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(file);
    let out = out.to_str().unwrap();
    let template = format!("data/{file}.in");
    run(
        "msgfmt",
        &[kind, "--template", &template, "-d", "po", "-o", out],
    );
    let (program, args) = validator.split_first().unwrap();
    run(program, &[args, &[out]].concat());
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn the_desktop_entry_validates_and_is_translated() {
    let file = format!("{APP_ID}.desktop");
    let text = merge_and_validate("--desktop", &file, &["desktop-file-validate"]);
    assert!(text.contains("Exec=tally"), "{text}");
    assert!(
        text.contains("Comment[de]="),
        "German comment merged: {text}"
    );
}

#[test]
fn the_metainfo_validates_and_is_translated() {
    let file = format!("{APP_ID}.metainfo.xml");
    let validator = ["appstreamcli", "validate", "--no-net", "--pedantic"];
    let text = merge_and_validate("--xml", &file, &validator);
    assert!(text.contains("xml:lang=\"de\""), "German text merged");
}

#[test]
fn the_icons_are_svg_and_named_for_the_app() {
    for path in [
        format!("data/icons/hicolor/scalable/apps/{APP_ID}.svg"),
        format!("data/icons/hicolor/symbolic/apps/{APP_ID}-symbolic.svg"),
    ] {
        let text =
            std::fs::read_to_string(root().join(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(text.trim_start().starts_with("<svg"), "{path} is an SVG");
    }
}
