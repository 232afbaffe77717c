//! `dglab-relay wave …`: waveform tools over the core's share-string parser and pattern
//! model.
//!
//! - `wave frames [--strict] '<share>'` prints the frames of one pass as one JSON array on
//!   one line (warnings go to stderr).
//! - `wave check [--strict] '<share>'` prints a human summary: each section with its
//!   length, the total, and every repair the lenient parser made.
//!
//! A parse error prints its position and what was expected, and exits 1; bad arguments
//! are clap's usage error (exit 2).

use std::io::{self, Write};

use clap::{Args, Subcommand};
use dglab_core::waveform::share::{self, ParseError, Strictness};
use dglab_core::waveform::{FrequencyMode, Pattern};

/// `wave`'s arguments.
#[derive(Debug, Args)]
#[command(display_name = "dglab-relay", arg_required_else_help = true)]
pub struct WaveArgs {
    #[command(subcommand)]
    tool: Tool,
    /// Reject text that needs any repair instead of fixing it
    #[arg(long, global = true)]
    strict: bool,
}

#[derive(Debug, Subcommand)]
enum Tool {
    /// Print the frames of one pass as a JSON array on one line
    #[command(display_name = "dglab-relay")]
    Frames {
        /// The share string, 'Dungeonlab+pulse:...'
        #[arg(value_name = "SHARE")]
        text: String,
    },
    /// Summarise the sections, their lengths and any repairs made
    #[command(display_name = "dglab-relay")]
    Check {
        /// The share string, 'Dungeonlab+pulse:...'
        #[arg(value_name = "SHARE")]
        text: String,
    },
}

/// Runs the `wave` subcommand on stdout/stderr and returns the process exit code.
pub fn run(args: &WaveArgs) -> i32 {
    execute(args, &mut io::stdout(), &mut io::stderr())
}

/// Runs one tool; returns the process exit code: 0 done, 1 the text is not a waveform
/// (or output failed).
fn execute(args: &WaveArgs, out: &mut impl Write, err: &mut impl Write) -> i32 {
    let strictness = if args.strict {
        Strictness::Strict
    } else {
        Strictness::Lenient
    };
    let (Tool::Frames { text } | Tool::Check { text }) = &args.tool;
    let parsed = match share::parse_with(text, strictness) {
        Ok(parsed) => parsed,
        Err(e) => return exit(report_error(err, text, &e), 1),
    };
    let result = match args.tool {
        Tool::Frames { .. } => frames(out, err, &parsed),
        Tool::Check { .. } => check(out, &parsed),
    };
    exit(result, 0)
}

fn exit(result: io::Result<()>, code: i32) -> i32 {
    if result.is_ok() {
        code
    } else {
        1
    }
}

fn frames(out: &mut impl Write, err: &mut impl Write, parsed: &share::Parsed) -> io::Result<()> {
    for w in &parsed.warnings {
        writeln!(err, "warning: {w}")?;
    }
    // Frames serialize as hex strings; a Vec of them cannot fail to serialize.
    let json = serde_json::to_string(&parsed.pattern.frames()).map_err(io::Error::other)?;
    writeln!(out, "{json}")
}

fn check(out: &mut impl Write, parsed: &share::Parsed) -> io::Result<()> {
    let p: &Pattern = &parsed.pattern;
    let rate = p.play_rate;
    writeln!(
        out,
        "{} section(s), play rate {}, rest {} ({} frame(s)), balance {}",
        p.sections.len(),
        rate.get(),
        p.rest,
        p.rest_frames(),
        p.balance
    )?;
    let any_on = p.sections.iter().any(|s| s.enabled);
    for (i, s) in p.sections.iter().enumerate() {
        let state = match (s.enabled, any_on, i) {
            (true, _, _) => "on",
            (false, false, 0) => "off, but plays: every section is off",
            (false, _, _) => "off, skipped",
        };
        let mode = match s.mode {
            FrequencyMode::Fixed => "fixed",
            FrequencyMode::SectionRamp => "ramp over the section",
            FrequencyMode::ElementRamp => "ramp inside each element",
            FrequencyMode::StepRamp => "step between elements",
        };
        writeln!(
            out,
            "  section {}: {state}; frequency {} -> {} ({mode}); {} point(s) x {} repetition(s) = {} (target {})",
            i + 1,
            s.freq_a.value(),
            s.freq_b.value(),
            s.points.len(),
            s.repetitions(rate),
            seconds(s.duration_ms(rate)),
            seconds(u64::from(s.duration.tenths()) * 100),
        )?;
    }
    writeln!(
        out,
        "total: {} frame(s), {} per pass",
        p.frame_count(),
        seconds(p.duration_ms())
    )?;
    if parsed.warnings.is_empty() {
        writeln!(out, "no repairs needed")
    } else {
        writeln!(out, "{} repair(s):", parsed.warnings.len())?;
        for w in &parsed.warnings {
            writeln!(out, "  {w}")?;
        }
        Ok(())
    }
}

/// The error, then the text around its position with a caret under it.
fn report_error(err: &mut impl Write, text: &str, e: &ParseError) -> io::Result<()> {
    writeln!(err, "error: {e}")?;
    let chars: Vec<char> = text.chars().collect();
    let from = e.at.char.saturating_sub(30);
    let to = (e.at.char + 30).min(chars.len());
    // Control characters (newlines) would break the caret line; show them as spaces.
    let excerpt: String = chars[from..to]
        .iter()
        .map(|c| if c.is_control() { ' ' } else { *c })
        .collect();
    writeln!(err, "  {excerpt}")?;
    writeln!(err, "  {}^", " ".repeat(e.at.char - from))
}

/// Milliseconds as seconds without trailing zeros: 2100 → "2.1 s", 75 → "0.075 s".
fn seconds(ms: u64) -> String {
    let frac = format!("{:03}", ms % 1000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{} s", ms / 1000)
    } else {
        format!("{}.{frac} s", ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dglab-relay wave ARGS…`: (exit code, stdout, stderr); a usage error or help is
    /// rendered the way `main` prints it.
    fn run(args: &[&str]) -> (i32, String, String) {
        let argv = ["dglab-relay", "wave"].iter().chain(args);
        let wave = match crate::args::parse(argv) {
            Ok(crate::args::Command::Wave(wave)) => wave,
            Ok(other) => panic!("{other:?}"),
            Err(e) => {
                let text = e.render().to_string();
                return if e.use_stderr() {
                    (e.exit_code(), String::new(), text)
                } else {
                    (e.exit_code(), text, String::new())
                };
            }
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = execute(&wave, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    const BREATH: &str =
        "Dungeonlab+pulse:35,1,8=0,20,0,1,1/0-1,20-0,40-0,60-0,80-0,100-1,100-1,100-1";

    #[test]
    fn frames_prints_one_json_line() {
        let (code, out, err) = run(&["frames", BREATH]);
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(out.lines().count(), 1);
        let frames: Vec<String> = serde_json::from_str(&out).unwrap();
        assert_eq!(frames.len(), 12);
        assert_eq!(frames[1], "0A0A0A0A14141414");
    }

    #[test]
    fn frames_reports_repairs_on_stderr() {
        let (code, out, err) = run(&["frames", "Dungeonlab+pulse:0,3,8=0,0,0,1,1/50-1,50-1"]);
        assert_eq!(code, 0);
        assert!(out.starts_with("[\"0A0A0A0A32323232\""));
        assert!(err.contains("warning: at character 19"), "{err}");
        let (code, out, err) = run(&[
            "frames",
            "--strict",
            "Dungeonlab+pulse:0,3,8=0,0,0,1,1/50-1,50-1",
        ]);
        assert_eq!((code, out.as_str()), (1, ""));
        assert!(err.contains("strict mode"), "{err}");
    }

    #[test]
    fn check_summarises_sections() {
        let text = "Dungeonlab+pulse:0,1,8=78,64,19,1,1/100-1,100-0,100-0,100-1+section+0,20,19,3,0/0-1,100-1";
        let (code, out, _) = run(&["check", text]);
        assert_eq!(code, 0);
        assert!(
            out.contains("2 section(s), play rate 1, rest 0 (0 frame(s))"),
            "{out}"
        );
        assert!(out.contains("section 1: on; frequency 550 -> 150 (fixed); 4 point(s) x 5 repetition(s) = 2 s (target 2 s)"), "{out}");
        assert!(out.contains("section 2: off, skipped"), "{out}");
        assert!(out.contains("total: 20 frame(s), 2 s per pass"), "{out}");
        assert!(out.contains("no repairs needed"), "{out}");
    }

    #[test]
    fn check_lists_repairs() {
        let (code, out, _) = run(&["check", "Dungeonlab+pulse:0,1,8=0,0,0,1,1/50-1,,150-1"]);
        assert_eq!(code, 0);
        assert!(out.contains("2 repair(s):"), "{out}");
        assert!(out.contains("empty point ignored"), "{out}");
        assert!(out.contains("clamped to 100"), "{out}");
    }

    #[test]
    fn parse_errors_show_position_and_exit_1() {
        let (code, out, err) = run(&["check", "Dungeonlab+pulsx:0,1,8=0,0,0,1,1/50-1"]);
        assert_eq!((code, out.as_str()), (1, ""));
        assert!(err.contains("error: at character 15 (byte 15)"), "{err}");
        assert!(err.contains("Dungeonlab+pulse"), "{err}");
        assert!(
            err.lines()
                .last()
                .unwrap()
                .ends_with(&format!("{}^", " ".repeat(15))),
            "{err}"
        );
    }

    #[test]
    fn bad_arguments_print_usage_and_exit_2() {
        for args in [
            &[][..],
            &["frames"],
            &["play", BREATH],
            &["check", BREATH, "extra"],
        ] {
            let (code, out, err) = run(args);
            assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
            assert!(err.contains("Usage: dglab-relay wave"), "{args:?}: {err}");
        }
        for args in [&["--help"][..], &["help"], &["frames", "--help"]] {
            let (code, out, _) = run(args);
            assert_eq!(code, 0);
            assert!(out.contains("Usage: dglab-relay wave"), "{out}");
        }
    }

    #[test]
    fn strict_goes_before_or_after_the_tool() {
        let repaired = "Dungeonlab+pulse:0,3,8=0,0,0,1,1/50-1,50-1";
        for args in [
            &["--strict", "check", repaired][..],
            &["check", "--strict", repaired],
            &["check", repaired, "--strict"],
        ] {
            let (code, _, err) = run(args);
            assert_eq!(code, 1, "{args:?}");
            assert!(err.contains("strict mode"), "{err}");
        }
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(2100), "2.1 s");
        assert_eq!(seconds(75), "0.075 s");
        assert_eq!(seconds(3000), "3 s");
        assert_eq!(seconds(0), "0 s");
    }
}
