//! Property tests: share strings round-trip, and no input, however broken, panics or
//! yields an out-of-range frame.

use dglab_core::protocol::Frame;
use dglab_core::waveform::share::{self, PREFIX};
use dglab_core::waveform::{
    Balance, DurationIndex, FreqIndex, FrequencyMode, Pattern, PlayRate, Point, PointValue, Rest,
    Section,
};
use proptest::prelude::*;

fn point_value() -> impl Strategy<Value = PointValue> {
    (0u16..=100, 0usize..=2, 0u16..100).prop_map(|(int, decimals, frac)| {
        let frac = if int == 100 { 0 } else { frac };
        let text = match decimals {
            0 => format!("{int}"),
            1 => format!("{int}.{}", frac / 10),
            _ => format!("{int}.{frac:02}"),
        };
        text.parse().unwrap()
    })
}

fn section(max_points: usize) -> impl Strategy<Value = Section> {
    (
        0u8..=83,
        0u8..=83,
        0u8..=99,
        1u64..=4,
        any::<bool>(),
        prop::collection::vec((point_value(), any::<bool>()), 1..=max_points),
    )
        .prop_map(|(a, b, d, m, enabled, points)| Section {
            freq_a: FreqIndex::new(a).unwrap(),
            freq_b: FreqIndex::new(b).unwrap(),
            duration: DurationIndex::new(d).unwrap(),
            mode: FrequencyMode::from_code(m).unwrap(),
            enabled,
            points: points
                .into_iter()
                .map(|(value, anchor)| Point { value, anchor })
                .collect(),
        })
}

fn pattern() -> impl Strategy<Value = Pattern> {
    (
        0u8..=100,
        prop::sample::select(vec![1u8, 2, 4]),
        1u8..=16,
        prop::collection::vec(section(40), 1..=10),
    )
        .prop_map(|(rest, rate, balance, sections)| Pattern {
            rest: Rest::new(rest).unwrap(),
            play_rate: PlayRate::try_from(rate).unwrap(),
            balance: Balance::new(balance).unwrap(),
            sections,
        })
}

/// Frames are valid by construction; this re-checks through the wire form anyway, plus the
/// bound the limits promise (10 sections of at most 4·T slots + N points each, plus rest).
fn check_frames(pattern: &Pattern) {
    let frames = pattern.frames();
    assert_eq!(frames.len() as u64, pattern.frame_count());
    assert!(frames.len() <= 10 * (3000 + 500) + 10);
    for f in &frames {
        assert_eq!(Frame::from_hex(&f.to_hex()).as_ref(), Ok(f));
        assert!(f.freq().iter().all(|b| (10..=240).contains(b)));
        assert!(f.intensity().iter().all(|b| *b <= 100));
    }
}

/// Characters that matter to the grammar, so mutations reach deep into the parser.
const ALPHABET: &[char] = &[
    '0', '1', '2', '5', '9', '.', ',', '-', '/', '=', '+', 's', 'e', 'c', 't', 'i', 'o', 'n', ' ',
    '\n', 'é', '\u{3000}',
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop::sample::select(ALPHABET);
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), c).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match *e {
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(i % n);
            }
            Edit::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn format_then_parse_is_identity(p in pattern()) {
        let text = share::format(&p);
        let parsed = share::parse(&text).unwrap();
        prop_assert_eq!(&parsed.pattern, &p);
        // Only single-point sections (which the App cannot make) draw a warning.
        let single = p.sections.iter().filter(|s| s.points.len() == 1).count();
        prop_assert_eq!(parsed.warnings.len(), single);
        if single == 0 {
            prop_assert_eq!(share::parse_strict(&text).unwrap(), p.clone());
        }
        let json = serde_json::to_string(&p).unwrap();
        prop_assert_eq!(serde_json::from_str::<Pattern>(&json).unwrap(), p);
    }

    #[test]
    fn expansion_is_in_range(p in pattern()) {
        check_frames(&p);
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = share::parse(&s);
        let _ = share::parse_strict(&s);
        if let Ok(parsed) = share::parse(&format!("{PREFIX}{s}")) {
            check_frames(&parsed.pattern);
        }
    }

    #[test]
    fn grammar_soup_never_panics(s in "[0-9.,=/+\\-a-z \u{e9}]{0,120}") {
        if let Ok(parsed) = share::parse(&format!("{PREFIX}{s}")) {
            check_frames(&parsed.pattern);
            prop_assert!(parsed.pattern.validate().is_ok());
        }
    }

    #[test]
    fn mutated_share_strings_never_panic(p in pattern(), edits in prop::collection::vec(edit(), 1..8)) {
        let text = apply(&share::format(&p), &edits);
        for strictness in [share::Strictness::Lenient, share::Strictness::Strict] {
            match share::parse_with(&text, strictness) {
                Ok(parsed) => {
                    prop_assert!(parsed.pattern.validate().is_ok());
                    check_frames(&parsed.pattern);
                    // A repaired pattern is well formed: it formats and re-parses to itself.
                    let again = share::parse(&share::format(&parsed.pattern)).unwrap();
                    prop_assert_eq!(again.pattern, parsed.pattern);
                }
                Err(e) => prop_assert!(e.at.byte <= text.len()),
            }
        }
    }
}
