//! PresetStore on a real temporary directory: round trips, reopen, corruption, crashes,
//! concurrent writers and read-only built-ins.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use dglab_core::presets::{self, PresetBody, PresetError, PresetStore};
use dglab_core::protocol::Frame;
use dglab_core::waveform::share;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "dglab-presets-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn file(&self) -> PathBuf {
        self.0.join(presets::FILE_NAME)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pattern(text: &str) -> PresetBody {
    PresetBody::Pattern(share::parse_strict(text).unwrap())
}

fn wave() -> PresetBody {
    pattern("Dungeonlab+pulse:0,1,8=0,20,5,3,1/0-1,33.3-0,66.65-0,100-1")
}

fn frames() -> PresetBody {
    PresetBody::Frames(vec![
        Frame::from_hex("0A0A0A0A64646464").unwrap(),
        Frame::SILENT,
    ])
}

fn user_names(store: &PresetStore) -> Vec<String> {
    store
        .list()
        .unwrap()
        .into_iter()
        .filter(|p| !p.builtin)
        .map(|p| p.name)
        .collect()
}

#[test]
fn save_get_list_rename_delete_round_trip() {
    let dir = TempDir::new();
    let store = PresetStore::open(&dir.0).unwrap();
    assert!(user_names(&store).is_empty());
    store.save("mine", wave()).unwrap();
    store.save("raw", frames()).unwrap();
    assert_eq!(store.get("mine").unwrap().body, wave());
    assert_eq!(store.get("raw").unwrap().body, frames());
    assert!(!store.get("mine").unwrap().builtin);
    assert_eq!(user_names(&store), ["mine", "raw"]);
    let list = store.list().unwrap();
    let raw = list.iter().find(|p| p.name == "raw").unwrap();
    assert_eq!((raw.editable, raw.duration_ms), (false, 200));

    // Overwrite keeps the place; rename keeps the place; delete removes.
    store.save("mine", frames()).unwrap();
    assert_eq!(store.get("mine").unwrap().body, frames());
    store.rename("mine", "ours").unwrap();
    assert_eq!(user_names(&store), ["ours", "raw"]);
    assert!(matches!(store.get("mine"), Err(PresetError::NotFound(_))));
    assert!(matches!(
        store.rename("ours", "raw"),
        Err(PresetError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.rename("nope", "x"),
        Err(PresetError::NotFound(_))
    ));
    store.delete("ours").unwrap();
    assert!(matches!(
        store.delete("ours"),
        Err(PresetError::NotFound(_))
    ));
    assert_eq!(user_names(&store), ["raw"]);
}

#[test]
fn survives_reopen_and_writes_the_schema_version() {
    let dir = TempDir::new();
    PresetStore::open(&dir.0)
        .unwrap()
        .save("kept", wave())
        .unwrap();
    let store = PresetStore::open(&dir.0).unwrap();
    assert_eq!(store.get("kept").unwrap().body, wave());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.file()).unwrap()).unwrap();
    assert_eq!(json["version"], presets::SCHEMA_VERSION);
}

#[test]
fn invalid_names_and_bodies_are_refused() {
    let dir = TempDir::new();
    let store = PresetStore::open(&dir.0).unwrap();
    for bad in ["", " padded", "line\nbreak"] {
        assert!(
            matches!(
                store.save(bad, wave()),
                Err(PresetError::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        store.save("empty", PresetBody::Frames(Vec::new())),
        Err(PresetError::Invalid(_))
    ));
    assert!(!dir.file().exists());
}

#[test]
fn corrupt_files_are_moved_aside_never_overwritten() {
    for garbage in [
        "{not json".to_string(),
        r#"{"version":99,"presets":[]}"#.to_string(),
        r#"{"version":1,"presets":{"name":"x"}}"#.to_string(),
        r#"[1,2,3]"#.to_string(),
        "\u{feff}\u{0}\u{1}binary".to_string(),
    ] {
        let dir = TempDir::new();
        std::fs::write(dir.file(), &garbage).unwrap();
        let Err(PresetError::Corrupt { moved_to, reason }) = PresetStore::open(&dir.0) else {
            panic!("{garbage:?} was accepted");
        };
        assert!(!reason.is_empty());
        assert!(moved_to
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("presets.json.corrupt-"));
        assert_eq!(std::fs::read_to_string(&moved_to).unwrap(), garbage);
        assert!(!dir.file().exists());
        // The store carries on empty, and a later save does not touch the moved copy.
        let store = PresetStore::open(&dir.0).unwrap();
        store.save("fresh", wave()).unwrap();
        assert_eq!(std::fs::read_to_string(&moved_to).unwrap(), garbage);
    }
}

#[test]
fn open_or_recover_reports_and_carries_on() {
    let dir = TempDir::new();
    std::fs::write(dir.file(), "garbage").unwrap();
    let (store, recovered) = PresetStore::open_or_recover(&dir.0).unwrap();
    let recovered = recovered.unwrap();
    assert!(recovered.moved_to.exists());
    assert!(user_names(&store).is_empty());
    // A second corruption in the same second gets its own name.
    std::fs::write(dir.file(), "garbage 2").unwrap();
    let (_, again) = PresetStore::open_or_recover(&dir.0).unwrap();
    assert_ne!(again.unwrap().moved_to, recovered.moved_to);
    assert_eq!(
        std::fs::read_to_string(&recovered.moved_to).unwrap(),
        "garbage"
    );
}

#[test]
fn a_file_that_goes_bad_later_is_reported_by_reads_and_writes() {
    let dir = TempDir::new();
    let store = PresetStore::open(&dir.0).unwrap();
    store.save("a", wave()).unwrap();
    std::fs::write(dir.file(), "oops").unwrap();
    assert!(matches!(
        store.save("b", wave()),
        Err(PresetError::Corrupt { .. })
    ));
    assert!(!dir.file().exists());
    std::fs::write(dir.file(), "oops again").unwrap();
    assert!(matches!(store.list(), Err(PresetError::Corrupt { .. })));
    assert_eq!(
        dir.entries()
            .iter()
            .filter(|n| n.contains("corrupt"))
            .count(),
        2
    );
}

#[test]
fn leftover_temp_files_are_ignored_and_cleaned() {
    let dir = TempDir::new();
    PresetStore::open(&dir.0)
        .unwrap()
        .save("kept", wave())
        .unwrap();
    std::fs::write(
        dir.0.join("presets.json.tmp-4242-17"),
        "{\"version\":1,\"pres",
    )
    .unwrap();
    let store = PresetStore::open(&dir.0).unwrap();
    assert_eq!(user_names(&store), ["kept"]);
    assert!(!dir.entries().iter().any(|n| n.contains(".tmp-")));
    // One left between writes is cleaned by the next writer.
    std::fs::write(dir.0.join("presets.json.tmp-1-2"), "partial").unwrap();
    store.save("next", frames()).unwrap();
    assert!(!dir.entries().iter().any(|n| n.contains(".tmp-")));
    assert_eq!(user_names(&store), ["kept", "next"]);
}

#[test]
fn concurrent_saves_from_two_handles_lose_nothing() {
    const N: usize = 25;
    let dir = TempDir::new();
    let a = PresetStore::open(&dir.0).unwrap();
    let b = PresetStore::open(&dir.0).unwrap();
    std::thread::scope(|s| {
        for (tag, store) in [("a", &a), ("b", &b)] {
            s.spawn(move || {
                for i in 0..N {
                    store.save(&format!("{tag}{i}"), frames()).unwrap();
                    // Readers meanwhile always see a whole file.
                    store.list().unwrap();
                }
            });
        }
    });
    let mut names = user_names(&a);
    names.sort();
    let mut want: Vec<String> = (0..N)
        .flat_map(|i| [format!("a{i}"), format!("b{i}")])
        .collect();
    want.sort();
    assert_eq!(names, want);
    assert!(!dir.entries().iter().any(|n| n.contains(".tmp-")));
}

#[test]
fn builtins_are_listed_and_read_only() {
    let dir = TempDir::new();
    let store = PresetStore::open(&dir.0).unwrap();
    let list = store.list().unwrap();
    let builtin: Vec<&str> = list
        .iter()
        .filter(|p| p.builtin)
        .map(|p| p.name.as_str())
        .collect();
    for name in [
        "呼吸",
        "潮汐",
        "连击",
        "快速按捏",
        "心跳节奏",
        "节奏步伐",
        "波浪涟漪",
        "信号灯",
    ] {
        assert!(builtin.contains(&name), "{name}");
    }
    assert!(builtin.len() > 8);
    let breath = store.get("呼吸").unwrap();
    assert!(breath.builtin);
    assert_eq!(breath.body.frames().len(), 12);

    assert!(matches!(
        store.save("呼吸", wave()),
        Err(PresetError::ReadOnly(_))
    ));
    assert!(matches!(
        store.delete("潮汐"),
        Err(PresetError::ReadOnly(_))
    ));
    assert!(matches!(
        store.rename("信号灯", "x"),
        Err(PresetError::ReadOnly(_))
    ));
    store.save("mine", wave()).unwrap();
    assert!(matches!(
        store.rename("mine", "连击"),
        Err(PresetError::ReadOnly(_))
    ));
    assert_eq!(store.get("连击").unwrap().body.frames().len(), 24);
}

/// Saves 20 presets into `DGLAB_PRESETS_CHILD_DIR`, checking each, when the test below runs
/// it as a child process; ignored in a normal run.
#[test]
#[ignore = "the child process of concurrent_saves_from_two_processes_lose_nothing"]
fn child_saver() {
    let (Ok(dir), Ok(tag)) = (
        std::env::var("DGLAB_PRESETS_CHILD_DIR"),
        std::env::var("DGLAB_PRESETS_CHILD_TAG"),
    ) else {
        panic!(
            "child_saver runs only as a child of concurrent_saves_from_two_processes_lose_nothing"
        );
    };
    let store = PresetStore::open(dir).unwrap();
    for i in 0..20 {
        let name = format!("{tag}{i}");
        store.save(&name, frames()).unwrap();
        // Each save is visible at once, whatever the other process wrote meanwhile.
        assert!(
            user_names(&store).contains(&name),
            "{name} missing right after its save"
        );
    }
}

#[test]
fn concurrent_saves_from_two_processes_lose_nothing() {
    let dir = TempDir::new();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["p", "q"]
        .iter()
        .map(|tag| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_saver", "--ignored", "--test-threads=1"])
                .env("DGLAB_PRESETS_CHILD_DIR", &dir.0)
                .env("DGLAB_PRESETS_CHILD_TAG", tag)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let store = PresetStore::open(&dir.0).unwrap();
    assert_eq!(user_names(&store).len(), 40);
}

/// A file with one good entry between bad ones, as a user or another version may leave it.
const MIXED: &str = r#"{"version":1,"presets":[
  {"name":"keep 1","body":{"frames":["0A0A0A0A64646464"]}},
  {"name":"bad pattern","body":{"pattern":{"rest":101,"playRate":1,"balance":8,"sections":[]}}},
  {"name":"keep 2","body":{"frames":["0A0A0A0A00000000"]}},
  {"name":"keep 1","body":{"frames":["0A0A0A0A00000000"]}},
  {"body":{"frames":[]}},
  {"name":"呼吸","body":{"frames":["0A0A0A0A00000000"]}},
  {"name":"unknown field","body":{"frames":["0A0A0A0A00000000"]},"colour":"red"}
]}"#;

#[test]
fn a_bad_entry_is_set_aside_alone_and_named_and_the_rest_stay() {
    let dir = TempDir::new();
    std::fs::write(dir.file(), MIXED).unwrap();
    let (store, recovered) = PresetStore::open_or_recover(&dir.0).unwrap();
    assert!(recovered.is_none(), "the file as a whole is readable");
    // Reads skip the bad entries and keep every good one.
    assert_eq!(user_names(&store), ["keep 1", "keep 2"]);
    let set_aside = store.set_aside_bad_entries().unwrap().expect("bad entries");
    let names: Vec<&str> = set_aside.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["bad pattern", "keep 1", "#5", "呼吸", "unknown field"]
    );
    assert!(set_aside.entries.iter().all(|e| !e.reason.is_empty()));
    assert!(set_aside
        .moved_to
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("presets.json.rejected-"));
    // The rejected file holds exactly the bad entries, as they were.
    let rejected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&set_aside.moved_to).unwrap()).unwrap();
    let all: serde_json::Value = serde_json::from_str(MIXED).unwrap();
    let bad: Vec<&serde_json::Value> = [1, 3, 4, 5, 6]
        .iter()
        .map(|&i| &all["presets"][i])
        .collect();
    assert_eq!(
        rejected["presets"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        bad
    );
    // The file now holds the good ones only; nothing is left to set aside; a reopen agrees.
    assert!(store.set_aside_bad_entries().unwrap().is_none());
    let again = PresetStore::open(&dir.0).unwrap();
    assert_eq!(user_names(&again), ["keep 1", "keep 2"]);
    assert_eq!(
        dir.entries()
            .iter()
            .filter(|n| n.contains("corrupt"))
            .count(),
        0
    );
}

#[test]
fn a_write_never_drops_a_bad_entry_silently() {
    let dir = TempDir::new();
    let store = PresetStore::open(&dir.0).unwrap();
    std::fs::write(dir.file(), MIXED).unwrap();
    store.save("new", wave()).unwrap();
    assert_eq!(user_names(&store), ["keep 1", "keep 2", "new"]);
    let rejected: Vec<String> = dir
        .entries()
        .into_iter()
        .filter(|n| n.starts_with("presets.json.rejected-"))
        .collect();
    assert_eq!(rejected.len(), 1, "{:?}", dir.entries());
    let text = std::fs::read_to_string(dir.0.join(&rejected[0])).unwrap();
    assert!(
        text.contains("bad pattern") && text.contains("unknown field"),
        "{text}"
    );
}
