//! The five newer agents' importers (`-- agents`): a first import of each
//! generated corpus (2,000 files, or OpenCode's database), in MB of records
//! a second, then re-imports with nothing new.
//! `TALLY_BENCH_AGENTS=DIR` keeps the corpora.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::agent_logs::Truth;
use super::agent_logs::more::{self, AgentConfig};
use super::{median, report};

fn folder_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(m) if !p.to_string_lossy().contains("/snapshot/") => total += m.len(),
                _ => {}
            }
        }
    }
    total
}

fn import(db: &Path, agent: &str, dir: &Path) -> (Duration, serde_json::Value) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(db)
        .args(["import", agent, "--json"])
        .arg(dir)
        .output()
        .expect("run tally");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        start.elapsed(),
        serde_json::from_slice(&out.stdout).expect("JSON"),
    )
}

type Writer = fn(&Path, &AgentConfig) -> Truth;

pub fn bench_agents(dir: &Path) -> bool {
    let agents: [(&str, Writer, usize); 5] = [
        ("gemini-cli", more::write_gemini, 2_000),
        ("qwen-code", more::write_qwen, 2_000),
        ("copilot", more::write_copilot, 2_000),
        ("amp", more::write_amp, 2_000),
        // One database (the message files are the older form).
        ("opencode", more::write_opencode, 2_000),
    ];
    let mut ok = true;
    // TALLY_BENCH_AGENTS keeps the generated records at a path of your choice, to profile by hand.
    let keep = std::env::var_os("TALLY_BENCH_AGENTS").map(std::path::PathBuf::from);
    for (agent, write, sessions) in agents {
        let logs = keep.as_deref().unwrap_or(dir).join(agent);
        let _ = std::fs::remove_dir_all(&logs);
        let cfg = AgentConfig {
            seed: 7,
            sessions,
            calls: 60,
            noise: agent != "opencode",
            // Prompts and tool output as sessions hold them: 2,600 bytes of
            // log a call, as in the Claude Code benchmark's corpus.
            padding: 2_000,
        };
        let truth = write(&logs, &cfg);
        let bytes = folder_bytes(&logs);
        let db = dir.join(format!("{agent}.sqlite"));
        let (first, imported) = import(&db, agent, &logs);
        assert_eq!(
            imported["new"],
            truth.calls.len() as u64,
            "{agent}: every call, once"
        );
        let rate = bytes as f64 / 1e6 / first.as_secs_f64();
        println!(
            "{agent}: first import of {} files, {:.0} MB, {} calls: {:.2} s ({rate:.0} MB/s)",
            truth.files,
            bytes as f64 / 1e6,
            truth.calls.len(),
            first.as_secs_f64()
        );
        ok &= report(&format!("{agent}: first import"), rate, 300.0, "MB/s", true);
        let (lo, mid, hi) = median((0..11).map(|_| import(&db, agent, &logs).0).collect());
        println!(
            "{agent}: re-import of {} files with nothing new, 11 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})",
            truth.files
        );
        ok &= report(
            &format!("{agent}: re-import with nothing new (median)"),
            mid.as_secs_f64() * 1e3,
            50.0,
            "ms",
            false,
        );
        if keep.is_none() {
            let _ = std::fs::remove_dir_all(&logs);
        }
    }
    ok
}
