//! The official waveforms (`tests/data/official-waveforms.json`, a copy of the vendor's
//! published name/raw/expectedV3 triples) expand byte for byte.

use dglab_core::waveform::share;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    raw: String,
    #[serde(rename = "expectedV3")]
    expected_v3: Vec<String>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/official-waveforms.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_official_vector_expands_byte_for_byte() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 8);
    for v in &vectors {
        let pattern = share::parse_strict(&v.raw).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let frames: Vec<String> = pattern.frames().iter().map(|f| f.to_hex()).collect();
        assert_eq!(frames, v.expected_v3, "{}", v.name);
        assert_eq!(pattern.frame_count(), frames.len() as u64, "{}", v.name);
    }
}

#[test]
fn every_official_vector_formats_back_to_its_text() {
    for v in vectors() {
        let pattern = share::parse_strict(&v.raw).unwrap();
        assert_eq!(share::format(&pattern), v.raw, "{}", v.name);
    }
}
