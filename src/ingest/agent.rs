//! The coding agents whose local records Tally reads: where each keeps them
//! (its defaults and its own environment overrides), which files are its
//! usage, and how they are written (lines appended, a whole JSON document
//! rewritten, or a SQLite database).

use std::path::{Path, PathBuf};

use super::{claude_code, codex};

/// The agents whose local logs Tally reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Agent {
    ClaudeCode,
    Codex,
    GeminiCli,
    OpenCode,
    Amp,
    QwenCode,
    Copilot,
}

/// How an agent writes a usage file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// JSON lines, appended: read on from where the last import stopped.
    Lines,
    /// One JSON document, rewritten as it grows: read whole when it changed.
    Document,
    /// A SQLite database another program writes: read read-only.
    Database,
}

/// The environment an agent's folders are found from: a variable's value.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process's own environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn set(env: Env, name: &str) -> Option<PathBuf> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .map(PathBuf::from)
}

/// `$XDG_DATA_HOME`, else `~/.local/share`.
fn data_home(env: Env, home: Option<&Path>) -> Option<PathBuf> {
    set(env, "XDG_DATA_HOME").or_else(|| home.map(|h| h.join(".local/share")))
}

impl Agent {
    pub const ALL: [Agent; 7] = [
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::GeminiCli,
        Agent::OpenCode,
        Agent::Amp,
        Agent::QwenCode,
        Agent::Copilot,
    ];

    /// Its name in the ledger's `source` and `agent` and on the command line.
    pub fn source(self) -> &'static str {
        match self {
            Agent::ClaudeCode => claude_code::SOURCE,
            Agent::Codex => codex::SOURCE,
            Agent::GeminiCli => "gemini-cli",
            Agent::OpenCode => "opencode",
            Agent::Amp => "amp",
            Agent::QwenCode => "qwen-code",
            Agent::Copilot => "copilot",
        }
    }

    /// Its name as its makers write it.
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex CLI",
            Agent::GeminiCli => "Gemini CLI",
            Agent::OpenCode => "OpenCode",
            Agent::Amp => "Amp",
            Agent::QwenCode => "Qwen Code",
            Agent::Copilot => "GitHub Copilot CLI",
        }
    }

    pub fn from_source(source: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.source() == source)
    }

    /// The folders the agent writes its usage to on this machine, where they
    /// exist: the agent's own environment overrides first, else its defaults.
    pub fn default_dirs(self, env: Env, home: Option<&Path>) -> Vec<PathBuf> {
        let candidates: Vec<PathBuf> = match self {
            Agent::ClaudeCode => {
                return claude_code::default_dirs(env("CLAUDE_CONFIG_DIR").as_deref(), home);
            }
            Agent::Codex => return codex::default_dirs(env("CODEX_HOME").as_deref(), home),
            // `GEMINI_CLI_HOME` stands for the home folder, `.gemini` below it.
            Agent::GeminiCli => set(env, "GEMINI_CLI_HOME")
                .or_else(|| home.map(Path::to_path_buf))
                .map(|h| h.join(".gemini/tmp"))
                .into_iter()
                .collect(),
            Agent::OpenCode => set(env, "OPENCODE_DATA_DIR")
                .or_else(|| data_home(env, home).map(|d| d.join("opencode")))
                .into_iter()
                .collect(),
            Agent::Amp => data_home(env, home)
                .map(|d| d.join("amp/threads"))
                .into_iter()
                .collect(),
            Agent::QwenCode => set(env, "QWEN_HOME")
                .or_else(|| home.map(|h| h.join(".qwen")))
                .map(|q| q.join("projects"))
                .into_iter()
                .collect(),
            // The export's own file, when named, and the usual folder.
            Agent::Copilot => {
                let named = set(env, "COPILOT_OTEL_FILE_EXPORTER_PATH")
                    .and_then(|f| f.parent().map(Path::to_path_buf));
                let usual = set(env, "COPILOT_HOME")
                    .or_else(|| home.map(|h| h.join(".copilot")))
                    .map(|c| c.join("otel"));
                let mut dirs: Vec<PathBuf> = named.into_iter().chain(usual).collect();
                dirs.dedup();
                dirs
            }
        };
        candidates.into_iter().filter(|d| d.is_dir()).collect()
    }

    /// Where the agent keeps its records, for a message that found none.
    pub fn usual_places(self) -> &'static str {
        match self {
            Agent::ClaudeCode => {
                "~/.claude/projects, ~/.config/claude/projects (CLAUDE_CONFIG_DIR)"
            }
            Agent::Codex => "~/.codex/sessions, ~/.codex/archived_sessions (CODEX_HOME)",
            Agent::GeminiCli => "~/.gemini/tmp (GEMINI_CLI_HOME)",
            Agent::OpenCode => "~/.local/share/opencode (OPENCODE_DATA_DIR, XDG_DATA_HOME)",
            Agent::Amp => "~/.local/share/amp/threads (XDG_DATA_HOME)",
            Agent::QwenCode => "~/.qwen/projects (QWEN_HOME)",
            Agent::Copilot => "~/.copilot/otel (COPILOT_OTEL_FILE_EXPORTER_PATH)",
        }
    }

    /// Whether a file found under the agent's folders holds its usage, and how
    /// it is written.
    pub fn layout_of(self, path: &Path) -> Option<Layout> {
        let name = path.file_name()?.to_str()?;
        let in_chats = || path.components().any(|c| c.as_os_str() == "chats");
        match self {
            Agent::ClaudeCode | Agent::Codex | Agent::QwenCode | Agent::Copilot => {
                name.ends_with(".jsonl").then_some(Layout::Lines)
            }
            // Sessions are JSON lines since 2026; older ones one document.
            Agent::GeminiCli if in_chats() => {
                if name.ends_with(".jsonl") {
                    Some(Layout::Lines)
                } else {
                    (name.starts_with("session-") && name.ends_with(".json"))
                        .then_some(Layout::Document)
                }
            }
            Agent::GeminiCli => None,
            Agent::OpenCode => {
                if name.starts_with("opencode") && name.ends_with(".db") {
                    Some(Layout::Database)
                } else {
                    (name.starts_with("msg_") && name.ends_with(".json"))
                        .then_some(Layout::Document)
                }
            }
            Agent::Amp => {
                (name.starts_with("T-") && name.ends_with(".json")).then_some(Layout::Document)
            }
        }
    }

    /// Whether to look into a folder `depth` below one of the agent's: OpenCode's
    /// data folder also holds git snapshots and every message part, tens of
    /// thousands of files that are no usage.
    pub fn descends(self, name: &str, depth: usize) -> bool {
        match (self, depth) {
            (Agent::OpenCode, 0) => name == "storage",
            (Agent::OpenCode, 1) => name == "message",
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_agent_honours_its_own_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        for d in [
            "home/.gemini/tmp",
            "gh/.gemini/tmp",
            "data/opencode",
            "oc",
            "data/amp/threads",
            "home/.local/share/amp/threads",
            "qwen/projects",
            "home/.copilot/otel",
            "exports",
        ] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let none = |_: &str| None;
        let at = |p: &str| dir.path().join(p);
        assert_eq!(
            Agent::GeminiCli.default_dirs(&none, Some(&home)),
            [at("home/.gemini/tmp")]
        );
        let gh = at("gh").display().to_string();
        let env = |k: &str| (k == "GEMINI_CLI_HOME").then(|| gh.clone());
        assert_eq!(
            Agent::GeminiCli.default_dirs(&env, Some(&home)),
            [at("gh/.gemini/tmp")]
        );
        let (data, oc) = (
            at("data").display().to_string(),
            at("oc").display().to_string(),
        );
        let xdg = |k: &str| (k == "XDG_DATA_HOME").then(|| data.clone());
        assert_eq!(
            Agent::OpenCode.default_dirs(&xdg, Some(&home)),
            [at("data/opencode")]
        );
        assert_eq!(
            Agent::Amp.default_dirs(&xdg, Some(&home)),
            [at("data/amp/threads")]
        );
        assert_eq!(
            Agent::Amp.default_dirs(&none, Some(&home)),
            [at("home/.local/share/amp/threads")]
        );
        let both = |k: &str| match k {
            "XDG_DATA_HOME" => Some(data.clone()),
            "OPENCODE_DATA_DIR" => Some(oc.clone()),
            _ => None,
        };
        assert_eq!(Agent::OpenCode.default_dirs(&both, Some(&home)), [at("oc")]);
        let q = at("qwen").display().to_string();
        let qwen = |k: &str| (k == "QWEN_HOME").then(|| q.clone());
        assert_eq!(
            Agent::QwenCode.default_dirs(&qwen, Some(&home)),
            [at("qwen/projects")]
        );
        let file = at("exports/copilot.jsonl").display().to_string();
        let copilot = |k: &str| (k == "COPILOT_OTEL_FILE_EXPORTER_PATH").then(|| file.clone());
        assert_eq!(
            Agent::Copilot.default_dirs(&copilot, Some(&home)),
            [at("exports"), at("home/.copilot/otel")]
        );
        // Folders that do not exist are not offered.
        assert!(Agent::QwenCode.default_dirs(&none, Some(&home)).is_empty());
    }

    #[test]
    fn only_usage_files_are_taken() {
        let cases = [
            (
                Agent::GeminiCli,
                "tmp/p/chats/session-2026-01-01T10-00-abcd1234.jsonl",
                Some(Layout::Lines),
            ),
            (
                Agent::GeminiCli,
                "tmp/p/chats/session-2025-06-01T10-00-abcd1234.json",
                Some(Layout::Document),
            ),
            (
                Agent::GeminiCli,
                "tmp/p/chats/parent/sub-session.jsonl",
                Some(Layout::Lines),
            ),
            (Agent::GeminiCli, "tmp/p/logs.json", None),
            (Agent::OpenCode, "opencode.db", Some(Layout::Database)),
            (Agent::OpenCode, "opencode-beta.db", Some(Layout::Database)),
            (Agent::OpenCode, "opencode.db-wal", None),
            (
                Agent::OpenCode,
                "storage/message/ses_1/msg_1.json",
                Some(Layout::Document),
            ),
            (Agent::Amp, "T-5e1c.json", Some(Layout::Document)),
            (Agent::Amp, "settings.json", None),
            (Agent::Copilot, "copilot-otel.jsonl", Some(Layout::Lines)),
        ];
        for (agent, path, layout) in cases {
            assert_eq!(agent.layout_of(Path::new(path)), layout, "{path}");
        }
        assert!(!Agent::OpenCode.descends("snapshot", 0));
        assert!(Agent::OpenCode.descends("storage", 0));
        assert!(!Agent::OpenCode.descends("part", 1));
        assert!(Agent::OpenCode.descends("ses_1", 2));
    }
}
