//! One test per rule of `docs/waveform-format.md` marked [pinned] or [assumed], the
//! worked examples of §7 and §10, and each lenient repair of §8 with its warning.

use dglab_core::waveform::share::{self, ParseErrorKind, Position, WarningKind};
use dglab_core::waveform::{FrequencyMode, Pattern, PlayRate};

const P: &str = "Dungeonlab+pulse:";

fn frames(text: &str) -> Vec<String> {
    let pattern = share::parse(text).unwrap().pattern;
    let frames: Vec<String> = pattern.frames().iter().map(|f| f.to_hex()).collect();
    assert_eq!(pattern.frame_count(), frames.len() as u64);
    frames
}

/// The first frequency byte of each frame.
fn freqs(text: &str) -> Vec<u8> {
    let pattern = share::parse(text).unwrap().pattern;
    pattern.frames().iter().map(|f| f.freq()[0]).collect()
}

fn uniform(freq: u8, intensity: u8) -> String {
    format!("{freq:02X}{freq:02X}{freq:02X}{freq:02X}{intensity:02X}{intensity:02X}{intensity:02X}{intensity:02X}")
}

const SILENT: &str = "0A0A0A0A00000000";

// §10 worked examples -------------------------------------------------------------------

#[test]
fn example_1_single_repetition_fixed_with_rest() {
    let f = frames(&format!(
        "{P}35,1,8=0,20,0,1,1/0-1,20-0,40-0,60-0,80-0,100-1,100-1,100-1"
    ));
    let mut want: Vec<String> = [0, 20, 40, 60, 80, 100, 100, 100]
        .iter()
        .map(|&i| uniform(10, i))
        .collect();
    want.extend([SILENT; 4].map(String::from));
    assert_eq!(f, want);
    assert_eq!(f.len(), 12);
}

#[test]
fn example_2_section_ramp_over_two_repetitions() {
    let f = frames(&format!(
        "{P}5,1,8=0,32,19,2,1/0-1,16.65-0,33.3-0,50-0,66.65-0,83.3-0,100-1,92-0,84-0,76-0,68-1"
    ));
    let values = [
        10, 11, 13, 14, 16, 18, 19, 21, 22, 24, 26, 26, 27, 29, 30, 32, 34, 35, 37, 38, 40, 42,
    ];
    let intens = [0, 16, 33, 50, 66, 83, 100, 92, 84, 76, 68];
    let mut want: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| uniform(v, intens[i % 11]))
        .collect();
    want.push(SILENT.into());
    assert_eq!(f, want);
    assert_eq!(f.len(), 23);
}

#[test]
fn example_3_two_sections_and_element_ramp() {
    let f = frames(&format!(
        "{P}0,1,8=78,64,19,1,1/100-1,100-0,100-0,100-1+section+0,20,19,3,1/0-1,33.3-0,66.65-0,100-1"
    ));
    let mut want = vec!["BEBEBEBE64646464".to_string(); 20];
    for _ in 0..5 {
        want.extend([
            uniform(10, 0),
            uniform(16, 33),
            uniform(23, 66),
            uniform(30, 100),
        ]);
    }
    assert_eq!(f, want);
    assert_eq!(f.len(), 40);
}

#[test]
fn example_4_step_ramp_nonlinear_duration_and_102() {
    let f = frames(&format!("{P}5,1,16=0,60,51,4,1/0-1,50-0,100-1,73.35-1"));
    let bytes = [
        0x0A, 0x11, 0x19, 0x21, 0x28, 0x30, 0x38, 0x3F, 0x47, 0x4F, 0x56, 0x5E, 0x64, 0x66,
    ];
    let mut want = Vec::new();
    for b in bytes {
        want.extend([
            uniform(b, 0),
            uniform(b, 50),
            uniform(b, 100),
            uniform(b, 73),
        ]);
    }
    want.push(SILENT.into());
    assert_eq!(f, want);
    assert_eq!(f.len(), 57);
}

// §7 play rate --------------------------------------------------------------------------

#[test]
fn play_rate_2_reference_output() {
    let f = frames(&format!("{P}0,2,8=0,20,2,1,1/0-1,50-0,100-1"));
    assert_eq!(
        f,
        ["0A0A0A0A00003232", "0A0A0A0A64640000", "0A0A0A0A32326464"]
    );
}

#[test]
fn play_rate_4_one_slot_per_point_and_padding() {
    // T = 1, R = 4, N = 3: C = ceil(4/3) = 2, 6 slots, padded to 8.
    let f = frames(&format!("{P}0,4,8=0,20,0,1,1/0-1,50-0,100-1"));
    assert_eq!(f, ["0A0A0A0A00326400", "0A0A0A0A32640000"]);
}

#[test]
fn play_rate_2_slots_run_across_sections_and_rest_stays_whole_frames() {
    // Each section: T = 1, R = 2, N = 3 → C = 1, 6 slots; 12 slots = 3 frames, then rest.
    let f = frames(&format!(
        "{P}1,2,8=0,0,0,1,1/1-1,2-0,3-1+section+20,20,0,1,1/4-1,5-0,6-1"
    ));
    assert_eq!(
        f,
        [
            "0A0A0A0A01010202",
            "0A0A1E1E03030404",
            "1E1E1E1E05050606",
            SILENT
        ]
    );
}

#[test]
fn play_rate_3_is_repaired_to_1() {
    let parsed = share::parse(&format!("{P}0,3,8=0,0,0,1,1/0-1,0-1")).unwrap();
    assert_eq!(parsed.pattern.play_rate, PlayRate::X1);
    assert!(matches!(
        parsed.warnings[0].kind,
        WarningKind::PlayRate { .. }
    ));
}

// §6.5 rest ------------------------------------------------------------------------------

#[test]
fn rest_is_ceil_of_tenths() {
    for (l, rest) in [
        (0, 0),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (9, 1),
        (10, 1),
        (11, 2),
        (35, 4),
        (100, 10),
    ] {
        let f = frames(&format!("{P}{l},1,8=0,0,0,1,1/50-1,50-1"));
        assert_eq!(f.len(), 2 + rest, "L = {l}");
        assert!(f[2..].iter().all(|f| f == SILENT), "L = {l}");
    }
}

// §5 floors ------------------------------------------------------------------------------

#[test]
fn falling_span_floors_toward_minus_infinity() {
    // 74 (idx 52) → 26 (idx 16) over 10 steps: 69.2 → 69, 64.4 → 64, 59.6 → 59.
    let f = freqs(&format!(
        "{P}0,1,8=52,16,0,2,1/0-1,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-1"
    ));
    assert_eq!(f, [74, 69, 64, 59, 54, 50, 45, 40, 35, 30, 26]);
}

#[test]
fn intensity_is_the_integer_part() {
    let f = frames(&format!("{P}0,1,8=0,0,0,1,1/66.75-1,55.5-0,33.5-0,99.99-1"));
    assert_eq!(
        f,
        [
            uniform(10, 66),
            uniform(10, 55),
            uniform(10, 33),
            uniform(10, 99)
        ]
    );
}

#[test]
fn frequency_above_100_uses_integer_division() {
    // idx 69..74 = 200, 233, 266, 300, 333, 366 → 120, 126, 133, 140, 146, 153.
    for (idx, byte) in [
        (69, 120),
        (70, 126),
        (71, 133),
        (72, 140),
        (73, 146),
        (74, 153),
        (83, 240),
    ] {
        assert_eq!(
            freqs(&format!("{P}0,1,8={idx},0,0,1,1/1-1,1-1")),
            [byte, byte],
            "idx {idx}"
        );
    }
}

// §6.2 degenerate cases -------------------------------------------------------------------

#[test]
fn section_ramp_with_one_point_steps_per_repetition() {
    // N = 1, T = 5 → C = 5, progress k / (C − 1): 10 → 30 in steps of 5.
    assert_eq!(
        freqs(&format!("{P}0,1,8=0,20,4,2,1/1-1")),
        [10, 15, 20, 25, 30]
    );
    // N = 1, C = 1 → A throughout.
    assert_eq!(freqs(&format!("{P}0,1,8=0,20,0,2,1/1-1")), [10]);
}

#[test]
fn element_ramp_with_one_point_stays_at_a() {
    assert_eq!(freqs(&format!("{P}0,1,8=0,20,2,3,1/1-1")), [10, 10, 10]);
}

#[test]
fn step_ramp_with_one_repetition_stays_at_a() {
    assert_eq!(
        freqs(&format!("{P}0,1,8=0,20,0,4,1/1-1,1-1,1-1")),
        [10, 10, 10]
    );
    // C = 2 reaches B on the last repetition.
    assert_eq!(
        freqs(&format!("{P}0,1,8=0,20,3,4,1/1-1,1-1")),
        [10, 10, 30, 30]
    );
}

#[test]
fn whole_repetitions_only() {
    // T = 1 < N = 8 still plays the whole element; T = 5, N = 2 plays 3 repetitions.
    assert_eq!(
        frames(&format!(
            "{P}0,1,8=0,0,0,1,1/0-1,0-0,0-0,0-0,0-0,0-0,0-0,0-1"
        ))
        .len(),
        8
    );
    assert_eq!(frames(&format!("{P}0,1,8=0,0,4,1,1/0-1,0-1")).len(), 6);
}

// Switched-off sections (§3.2, §8) ------------------------------------------------------

#[test]
fn switched_off_sections_are_skipped() {
    let f = freqs(&format!(
        "{P}0,1,8=0,0,0,1,1/1-1,1-1+section+20,20,0,1,0/1-1,1-1+section+40,40,0,1,1/1-1,1-1"
    ));
    assert_eq!(f, [10, 10, 50, 50]);
}

#[test]
fn all_sections_off_plays_the_first_alone() {
    let text = format!("{P}0,1,8=0,0,0,1,0/1-1,1-1+section+20,20,0,1,0/1-1,1-1");
    let parsed = share::parse(&text).unwrap();
    assert!(parsed.warnings.is_empty());
    assert!(parsed.pattern.sections.iter().all(|s| !s.enabled));
    assert_eq!(freqs(&text), [10, 10]);
    // The switches are kept, so the text round-trips.
    assert_eq!(share::format(&parsed.pattern), text);
}

// §8 lenient repairs ----------------------------------------------------------------------

/// Parses leniently, checks strict mode rejects it at the first warning, returns the kinds.
fn repaired(text: &str) -> (Pattern, Vec<WarningKind>) {
    let parsed = share::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert!(
        !parsed.warnings.is_empty(),
        "{text:?} parsed without warnings"
    );
    let err = share::parse_strict(text).unwrap_err();
    assert_eq!(
        err.kind,
        ParseErrorKind::Strict(parsed.warnings[0].kind.clone()),
        "{text:?}"
    );
    assert_eq!(err.at, parsed.warnings[0].at, "{text:?}");
    (
        parsed.pattern,
        parsed.warnings.into_iter().map(|w| w.kind).collect(),
    )
}

const OK: &str = "0,0,0,1,1/0-1,0-1";

#[test]
fn whitespace_is_removed_without_warning() {
    let text = format!(" {P}0,1,8=\r\n0,20,0,1,1/0-1,\n  50-0,\t100-1\r\n");
    let parsed = share::parse(&text).unwrap();
    assert!(parsed.warnings.is_empty());
    assert_eq!(parsed.pattern.sections[0].points.len(), 3);
    assert!(share::parse_strict(&text).is_ok());
}

#[test]
fn prefix_in_other_case_is_accepted() {
    let (_, w) = repaired(&format!("dungeonLAB+PULSE:0,1,8={OK}"));
    assert_eq!(w, [WarningKind::PrefixCase]);
}

#[test]
fn missing_header_takes_defaults() {
    let (p, w) = repaired(&format!("{P}{OK}"));
    assert_eq!(w, [WarningKind::MissingHeader]);
    assert_eq!(
        (p.rest.get(), p.play_rate.get(), p.balance.get()),
        (0, 1, 8)
    );
}

#[test]
fn header_field_count_is_repaired() {
    let (p, w) = repaired(&format!("{P}25={OK}"));
    assert_eq!(w, [WarningKind::HeaderFieldCount { found: 1 }]);
    assert_eq!(
        (p.rest.get(), p.play_rate.get(), p.balance.get()),
        (25, 1, 8)
    );
    let (p, w) = repaired(&format!("{P}5,2,9,7={OK}"));
    assert_eq!(w, [WarningKind::HeaderFieldCount { found: 4 }]);
    assert_eq!(
        (p.rest.get(), p.play_rate.get(), p.balance.get()),
        (5, 2, 9)
    );
    let (_, w) = repaired(&format!("{P}={OK}"));
    assert_eq!(w, [WarningKind::HeaderFieldCount { found: 0 }]);
}

#[test]
fn header_ranges_are_clamped() {
    let (p, w) = repaired(&format!("{P}150,1,0={OK}"));
    assert_eq!((p.rest.get(), p.balance.get()), (100, 1));
    assert!(matches!(
        w[0],
        WarningKind::OutOfRange {
            field: "rest",
            used: 100,
            ..
        }
    ));
    assert!(matches!(
        w[1],
        WarningKind::OutOfRange {
            field: "balance",
            used: 1,
            ..
        }
    ));
    let (p, _) = repaired(&format!("{P}0,1,99={OK}"));
    assert_eq!(p.balance.get(), 16);
}

#[test]
fn non_numbers_take_defaults_and_decimals_are_floored() {
    for bad in ["x", "1e3", "nan", "inf", "-5", "", "0x10", "+1"] {
        let (p, w) = repaired(&format!("{P}{bad},2,8={OK}"));
        assert_eq!(p.rest.get(), 0, "{bad:?}");
        assert!(
            matches!(
                w[0],
                WarningKind::NotANumber {
                    field: "rest",
                    used: 0,
                    ..
                }
            ),
            "{bad:?}"
        );
    }
    let (p, w) = repaired(&format!("{P}0,2.5,8=0,0,3.5,1,1/0-1,0-1"));
    assert_eq!(p.play_rate, PlayRate::X2);
    assert_eq!(p.sections[0].duration.get(), 3);
    assert!(matches!(
        w[0],
        WarningKind::NotAnInteger {
            field: "play rate",
            used: 2,
            ..
        }
    ));
    assert!(matches!(
        w[1],
        WarningKind::NotAnInteger {
            field: "duration",
            used: 3,
            ..
        }
    ));
}

#[test]
fn very_long_digit_strings_clamp_without_overflow() {
    let huge = "9".repeat(400);
    let (p, w) = repaired(&format!("{P}{huge},1,8={huge},0,{huge},1,1/{huge}-1,0-1"));
    assert_eq!(p.rest.get(), 100);
    assert_eq!(p.sections[0].freq_a.get(), 83);
    assert_eq!(p.sections[0].duration.get(), 99);
    assert_eq!(p.sections[0].points[0].value.intensity(), 100);
    assert_eq!(w.len(), 4);
}

#[test]
fn empty_sections_are_ignored() {
    let (p, w) = repaired(&format!("{P}0,1,8={OK}+section++section+{OK}+section+"));
    assert_eq!(p.sections.len(), 2);
    assert_eq!(w, [WarningKind::EmptySection, WarningKind::EmptySection]);
}

#[test]
fn section_without_slash_is_dropped() {
    let (p, w) = repaired(&format!("{P}0,1,8=0,0,0,1,1+section+{OK}"));
    assert_eq!(p.sections.len(), 1);
    assert_eq!(w, [WarningKind::SectionWithoutSlash]);
}

#[test]
fn missing_section_parameters_take_defaults() {
    let (p, w) = repaired(&format!("{P}0,1,8=5/0-1,0-1"));
    let s = &p.sections[0];
    assert_eq!(w, [WarningKind::SectionFieldCount { found: 1 }]);
    assert_eq!(
        (s.freq_a.get(), s.freq_b.get(), s.duration.get()),
        (5, 5, 0)
    );
    assert_eq!((s.mode, s.enabled), (FrequencyMode::Fixed, true));
    let (_, w) = repaired(&format!("{P}0,1,8=0,0,0,1,1,9/0-1,0-1"));
    assert_eq!(w, [WarningKind::SectionFieldCount { found: 6 }]);
}

#[test]
fn section_parameter_ranges_are_clamped() {
    let (p, _) = repaired(&format!("{P}0,1,8=90,200,120,1,1/0-1,0-1"));
    let s = &p.sections[0];
    assert_eq!(
        (s.freq_a.get(), s.freq_b.get(), s.duration.get()),
        (83, 83, 99)
    );
}

#[test]
fn unknown_mode_is_fixed_and_odd_switch_is_on() {
    for m in ["0", "5", "99"] {
        let (p, w) = repaired(&format!("{P}0,1,8=0,20,0,{m},1/0-1,0-1"));
        assert_eq!(p.sections[0].mode, FrequencyMode::Fixed);
        assert!(matches!(w[0], WarningKind::Mode { .. }));
    }
    let (p, w) = repaired(&format!("{P}0,1,8=0,0,0,1,2/0-1,0-1"));
    assert!(p.sections[0].enabled);
    assert!(matches!(w[0], WarningKind::Switch { .. }));
}

#[test]
fn bad_points_are_dropped_or_repaired() {
    let (p, w) = repaired(&format!(
        "{P}0,1,8=0,0,0,1,1/abc-1,1e2-1,50,60-7,,100.5-1,16.655-0,"
    ));
    let values: Vec<String> = p.sections[0]
        .points
        .iter()
        .map(|x| x.value.to_string())
        .collect();
    assert_eq!(values, ["50", "60", "100", "16.65"]);
    let anchors: Vec<bool> = p.sections[0].points.iter().map(|x| x.anchor).collect();
    assert_eq!(anchors, [false, false, true, false]);
    assert_eq!(
        w,
        [
            WarningKind::PointNotANumber { text: "abc".into() },
            WarningKind::PointNotANumber { text: "1e2".into() },
            WarningKind::Flag {
                text: String::new()
            },
            WarningKind::Flag { text: "7".into() },
            WarningKind::EmptyPoint,
            WarningKind::PointOutOfRange {
                text: "100.5".into()
            },
            WarningKind::PointDecimals {
                text: "16.655".into()
            },
            WarningKind::EmptyPoint,
        ]
    );
}

#[test]
fn single_point_section_is_kept() {
    let (p, w) = repaired(&format!("{P}0,1,8=0,0,0,1,1/40-1"));
    assert_eq!(p.sections[0].points.len(), 1);
    assert_eq!(w, [WarningKind::SinglePoint]);
}

#[test]
fn section_without_usable_points_is_dropped() {
    let (p, w) = repaired(&format!("{P}0,1,8=0,0,0,1,1/x-1+section+{OK}"));
    assert_eq!(p.sections.len(), 1);
    assert_eq!(w[1], WarningKind::SectionWithoutPoints);
}

// Fatal errors and positions ------------------------------------------------------------

#[test]
fn fatal_errors_say_where_and_what() {
    let e = share::parse("hello").unwrap_err();
    assert_eq!(
        (e.kind, e.at),
        (ParseErrorKind::MissingPrefix, Position { byte: 0, char: 0 })
    );
    let e = share::parse("Dungeonlab+pulsx:0,1,8=0,0,0,1,1/0-1").unwrap_err();
    assert_eq!((e.kind, e.at.byte), (ParseErrorKind::MissingPrefix, 15));
    let e = share::parse("").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MissingPrefix);
    let e = share::parse(&format!("{P}0,1,8=0,0,0,1,1/x-1")).unwrap_err();
    assert_eq!(
        (e.kind, e.at.byte),
        (ParseErrorKind::NoSection, P.len() + 6)
    );
    let e = share::parse(&format!("{P}0,1,8=")).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::NoSection);
}

#[test]
fn positions_refer_to_the_original_text() {
    // U+3000 is whitespace of 3 bytes: bytes and characters differ after it.
    let text = format!("{P}\u{3000}0,1,8=0,0,0,1,1/0-1,é-1,0-1");
    let w = &share::parse(&text).unwrap().warnings[0];
    let byte = text.find('é').unwrap();
    assert_eq!(
        w.at,
        Position {
            byte,
            char: text[..byte].chars().count()
        }
    );
    assert_eq!(w.at.byte - w.at.char, 2);
    assert!(w.to_string().contains(&format!("character {}", w.at.char)));
}

#[test]
fn resource_limits_are_errors() {
    let eleven = [OK; 11].join("+section+");
    let e = share::parse(&format!("{P}0,1,8={eleven}")).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooManySections { max: 10 });
    assert_eq!(e.at.byte, P.len() + 6 + 10 * (OK.len() + 9));
    assert!(share::parse(&format!("{P}0,1,8={}", [OK; 10].join("+section+"))).is_ok());

    let points = vec!["1-1"; 501].join(",");
    let e = share::parse(&format!("{P}0,1,8=0,0,0,1,1/{points}")).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooManyPoints { max: 500 });
    let points = vec!["1-1"; 500].join(",");
    assert!(share::parse(&format!("{P}0,1,8=0,0,99,1,1/{points}")).is_ok());

    let long = format!("{P}0,1,8={OK}{}", " ".repeat(share::MAX_TEXT_LEN));
    let e = share::parse(&long).unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::TooLong { .. }));
}

#[test]
fn official_waveforms_parse_strictly_without_warnings() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/official-waveforms.json"
    ))
    .unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    for v in vectors {
        let raw = v["raw"].as_str().unwrap();
        assert!(share::parse(raw).unwrap().warnings.is_empty());
        assert!(share::parse_strict(raw).is_ok());
    }
}
