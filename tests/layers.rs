//! The core's layers point one way: a module may use only modules on a lower floor.
//!
//! docs/architecture.md draws the floors; this test reads every `crate::<module>` path in
//! the library's code (comments left out) and fails on one that points sideways or up, and
//! on a top-level module nobody gave a floor. It is a text scan rather than `cargo modules`
//! so that CI needs nothing extra installed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Floor of each top-level module of `src/`: 0 is the ground.
const FLOORS: &[(&str, u8)] = &[
    ("protocol", 0),
    ("pairing", 0),
    ("fs", 0),
    ("relay", 1),
    ("waveform", 1),
    ("terminal", 2),
    ("presets", 2),
    ("virtual_app", 2),
    ("safety", 3),
    ("player", 4),
    ("gamehub", 5),
];

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // The binary is the top floor: it may use everything.
            if path.file_name().is_some_and(|n| n == "bin") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/relay/peer.rs` → `relay`).
fn owner(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every module named as `crate::<name>` in the code of `text`, comments removed.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::{a, b}` groups: take each name.
            if name.is_empty() && after.starts_with('{') {
                let group = after[1..].split('}').next().unwrap_or("");
                for part in group.split(',') {
                    let n: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !n.is_empty() {
                        found.insert(n);
                    }
                }
            } else if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

/// Names re-exported at the crate root, which stand for their home module.
fn root_alias(name: &str) -> &str {
    match name {
        "Channel" | "Frame" => "protocol",
        "start" | "RelayConfig" | "RelayHandle" => "relay",
        "GuardedTerminal" | "SafetyConfig" | "SafetyHub" => "safety",
        "Terminal" | "TerminalEvent" | "TerminalEvents" => "terminal",
        other => other,
    }
}

fn violations(src: &Path) -> Vec<String> {
    let mut files = vec![];
    rust_files(src, &mut files);
    let mut bad = vec![];
    for file in files {
        let module = owner(src, &file);
        if module == "lib" {
            continue;
        }
        let Some(own) = floor(&module) else {
            bad.push(format!(
                "{}: module `{module}` has no floor in tests/layers.rs",
                file.display()
            ));
            continue;
        };
        for used in crate_paths(&fs::read_to_string(&file).unwrap()) {
            let used = root_alias(&used).to_string();
            if used == module {
                continue;
            }
            match floor(&used) {
                Some(f) if f < own => {}
                Some(f) => bad.push(format!(
                    "{}: `{module}` (floor {own}) uses `crate::{used}` (floor {f})",
                    file.display()
                )),
                None => bad.push(format!(
                    "{}: uses `crate::{used}`, which has no floor",
                    file.display()
                )),
            }
        }
    }
    bad
}

#[test]
fn every_import_in_the_core_points_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(
        bad.is_empty(),
        "imports against the layers:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_floor() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line.strip_prefix("pub mod ").or(line.strip_prefix("mod ")) {
            let name = name.trim_end_matches(';');
            assert!(floor(name).is_some(), "module `{name}` has no floor");
        }
    }
}

#[test]
fn the_scan_sees_an_upward_import() {
    // A relay file that reaches into the terminal must be caught, grouped or not.
    let dir = std::env::temp_dir().join(format!("dglab-layers-{}", std::process::id()));
    fs::create_dir_all(dir.join("relay")).unwrap();
    fs::write(
        dir.join("relay/mod.rs"),
        "use crate::protocol::Envelope;\n// crate::safety in a comment is fine\nuse crate::{terminal::Terminal, protocol};\n",
    )
    .unwrap();
    fs::write(dir.join("waveform.rs"), "fn f() { crate::relay::start; }\n").unwrap();
    let bad = violations(&dir);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].contains("uses `crate::terminal`") || bad[1].contains("uses `crate::terminal`"));
    assert!(bad
        .iter()
        .any(|b| b.contains("`waveform` (floor 1) uses `crate::relay` (floor 1)")));
}
