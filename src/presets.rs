//! Named waveforms the user keeps: [`PresetStore::open`]`(dir)` over one `presets.json`.
//!
//! The file is small, so every call re-reads it instead of caching: two handles, even in
//! two processes, then always see each other's saves. Writers take an exclusive OS lock on
//! `presets.json.lock` (released by the OS if the process dies), re-read the file under
//! it, and replace the file atomically (temp file in the same directory, fsync, rename,
//! fsync the directory), so no update is lost and a crash leaves either the old or the new
//! file. Temp files left by a crash are removed by the next writer.
//!
//! A file that cannot be understood as a whole (not JSON, no `presets` list, unknown
//! schema version) is never overwritten: it is renamed to
//! `presets.json.corrupt-<UTC time>` and the call fails with [`PresetError::Corrupt`].
//! The store then reads as empty, so [`PresetStore::open_or_recover`] can tell the user and
//! carry on.
//!
//! Entries are read one by one: an entry that is wrong on its own (wrong shape, invalid
//! pattern, bad or duplicate name, a built-in's name) is skipped by reads, and the next
//! writer — or [`PresetStore::set_aside_bad_entries`] at start — moves it, alone, into
//! `presets.json.rejected-<UTC time>` (the same file format) and names it. The other
//! presets stay.
//!
//! Built-in presets ship with the crate (the official waveforms and a few of ours) and are
//! read-only: their names cannot be saved over, renamed or deleted.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::protocol::Frame;
use crate::waveform::{share, Pattern};

/// The store's file inside its directory.
pub const FILE_NAME: &str = "presets.json";
/// Schema version written to, and required in, the file.
pub const SCHEMA_VERSION: u32 = 1;
/// Longest preset name, in characters.
pub const MAX_NAME_LEN: usize = 64;

const LOCK_NAME: &str = "presets.json.lock";
/// Temp files of [`crate::fs::write_atomic`] for the presets file.
const TEMP_PREFIX: &str = "presets.json.tmp-";
const CORRUPT_PREFIX: &str = "presets.json.corrupt-";
const REJECTED_PREFIX: &str = "presets.json.rejected-";

/// Built-in presets as share strings: the official waveforms by their names, then ours.
const BUILTINS: &[(&str, &str)] = &[
    ("呼吸", "Dungeonlab+pulse:35,1,8=0,20,0,1,1/0-1,20-0,40-0,60-0,80-0,100-1,100-1,100-1"),
    ("潮汐", "Dungeonlab+pulse:5,1,8=0,32,19,2,1/0-1,16.65-0,33.3-0,50-0,66.65-0,83.3-0,100-1,92-0,84-0,76-0,68-1"),
    ("连击", "Dungeonlab+pulse:0,1,8=0,34,19,1,1/100-1,0-1,100-1,66.65-0,33.3-0,0-1,0-0,0-1"),
    ("快速按捏", "Dungeonlab+pulse:16,1,8=0,29,43,1,1/0-1,100-1"),
    ("心跳节奏", "Dungeonlab+pulse:5,1,16=65,20,5,1,1/100-1,100-1+section+0,20,19,1,1/0-1,0-0,0-0,0-0,0-1,75-1,83.3-0,91.65-0,100-1,0-1,0-0,0-0,0-0,0-1"),
    ("节奏步伐", "Dungeonlab+pulse:5,1,8=0,20,19,1,1/0-1,20-0,40-0,60-0,80-0,100-1,0-1,25-0,50-0,75-0,100-1,0-1,33.3-0,66.65-0,100-1,0-1,50-0,100-1,0-1,100-1,0-1,100-1,0-1,100-1,0-1,100-1"),
    ("波浪涟漪", "Dungeonlab+pulse:5,1,16=0,60,51,4,1/0-1,50-0,100-1,73.35-1"),
    ("信号灯", "Dungeonlab+pulse:0,1,8=78,64,19,1,1/100-1,100-0,100-0,100-1+section+0,20,19,3,1/0-1,33.3-0,66.65-0,100-1"),
    // Ours: a gentle constant, a slow intensity ramp, and a frequency sweep 10 → 100.
    ("Steady", "Dungeonlab+pulse:0,1,8=20,20,9,1,1/50-1,50-1"),
    ("Slow ramp up", "Dungeonlab+pulse:10,1,8=10,10,39,1,1/0-1,10-0,20-0,30-0,40-0,50-0,60-0,70-0,80-0,90-0,100-1"),
    ("Frequency sweep", "Dungeonlab+pulse:10,1,8=0,59,29,2,1/60-1,60-0,60-0,60-1"),
];

/// What a preset holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PresetBody {
    /// An editable pattern.
    Pattern(Pattern),
    /// A plain list of frames (at least one), e.g. captured or generated elsewhere.
    Frames(Vec<Frame>),
}

impl PresetBody {
    /// The frames one pass plays.
    pub fn frames(&self) -> Vec<Frame> {
        match self {
            PresetBody::Pattern(p) => p.frames(),
            PresetBody::Frames(f) => f.clone(),
        }
    }

    /// How long one pass plays, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        match self {
            PresetBody::Pattern(p) => p.duration_ms(),
            PresetBody::Frames(f) => f.len() as u64 * 100,
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            PresetBody::Pattern(p) => p.validate().map_err(|e| e.to_string()),
            PresetBody::Frames(f) if f.is_empty() => Err("a frame list is empty".into()),
            PresetBody::Frames(_) => Ok(()),
        }
    }
}

/// A named preset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preset {
    /// Its unique name.
    pub name: String,
    /// Shipped with the crate, read-only.
    pub builtin: bool,
    /// The waveform.
    pub body: PresetBody,
}

/// Why a preset operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file system failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file could not be understood; it was moved aside, not overwritten.
    #[error("presets file was unreadable ({reason}); it was moved to {moved_to}")]
    Corrupt {
        /// Where the old file now is.
        moved_to: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// A built-in name cannot be saved over, renamed or deleted.
    #[error("{0:?} is a built-in preset and cannot be changed")]
    ReadOnly(String),
    /// No preset has this name.
    #[error("no preset named {0:?}")]
    NotFound(String),
    /// Renaming onto a name in use.
    #[error("a preset named {0:?} already exists")]
    AlreadyExists(String),
    /// The name is unusable.
    #[error("invalid preset name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The body is not a valid waveform.
    #[error("invalid preset: {0}")]
    Invalid(String),
}

/// What [`PresetStore::open_or_recover`] moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Where the unreadable file now is.
    pub moved_to: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

/// One entry of the file that was wrong on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry {
    /// Its name, when it has a readable one; else `#<position>` (1-based).
    pub name: String,
    /// What was wrong with it.
    pub reason: String,
}

/// What [`PresetStore::set_aside_bad_entries`] moved out of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// The file now holding the bad entries, exactly as they were.
    pub moved_to: PathBuf,
    /// Each bad entry, in file order.
    pub entries: Vec<BadEntry>,
}

/// One line of [`PresetStore::list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetSummary {
    /// The preset's name.
    pub name: String,
    /// Read-only.
    pub builtin: bool,
    /// `true` for a pattern, `false` for a plain frame list.
    pub editable: bool,
    /// One pass, in milliseconds.
    pub duration_ms: u64,
}

/// The file as written.
#[derive(Serialize)]
struct PresetFile<T> {
    version: u32,
    presets: Vec<T>,
}

/// The file as read: each entry is checked on its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// Checked first, through [`VersionProbe`].
    #[serde(rename = "version")]
    _version: u32,
    presets: Vec<serde_json::Value>,
}

/// The file's entries, sorted into usable ones and the rest.
struct Decoded {
    good: Vec<StoredPreset>,
    bad: Vec<(BadEntry, serde_json::Value)>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredPreset {
    name: String,
    body: PresetBody,
}

/// Only the version, read first so a newer schema is reported as such.
#[derive(Deserialize)]
struct VersionProbe {
    version: u32,
}

/// The built-in presets, parsed once.
pub fn builtins() -> &'static [Preset] {
    static PARSED: OnceLock<Vec<Preset>> = OnceLock::new();
    PARSED.get_or_init(|| {
        BUILTINS
            .iter()
            // Each string is checked by a test to parse strictly; a failure just hides it.
            .filter_map(|(name, text)| {
                let pattern = share::parse_strict(text).ok()?;
                Some(Preset {
                    name: (*name).to_owned(),
                    builtin: true,
                    body: PresetBody::Pattern(pattern),
                })
            })
            .collect()
    })
}

fn is_builtin(name: &str) -> bool {
    builtins().iter().any(|p| p.name == name)
}

fn check_name(name: &str) -> Result<(), PresetError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_NAME_LEN {
        Some("it is longer than 64 characters")
    } else if name.chars().any(char::is_control) {
        Some("it contains control characters")
    } else if name.trim() != name {
        Some("it starts or ends with whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PresetError::InvalidName {
            name: name.chars().take(MAX_NAME_LEN).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PresetError + '_ {
    move |source| PresetError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A handle on the presets of one directory. Cheap: it holds only the path.
#[derive(Debug, Clone)]
pub struct PresetStore {
    /// The directory the caller chose (src-tauri passes its app data dir).
    dir: PathBuf,
}

impl PresetStore {
    /// Opens (creating the directory if needed) and checks the file, removing temp files a
    /// crashed writer left.
    ///
    /// # Errors
    /// [`PresetError::Io`] if the directory or lock cannot be used;
    /// [`PresetError::Corrupt`] if the file was unreadable and has been moved aside (opening
    /// again then succeeds with no user presets; see [`PresetStore::open_or_recover`]).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, PresetError> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let store = PresetStore { dir };
        let _lock = store.lock()?;
        store.remove_stale_temps();
        store.read_locked()?;
        Ok(store)
    }

    /// [`PresetStore::open`] for a UI that wants to carry on: an unreadable file is moved
    /// aside, reported in the second value, and the store starts without user presets.
    ///
    /// # Errors
    /// [`PresetError::Io`] as for [`PresetStore::open`].
    pub fn open_or_recover(
        dir: impl AsRef<Path>,
    ) -> Result<(Self, Option<Recovered>), PresetError> {
        match Self::open(dir.as_ref()) {
            Ok(store) => Ok((store, None)),
            Err(PresetError::Corrupt { moved_to, reason }) => {
                let store = Self::open(dir)?;
                Ok((store, Some(Recovered { moved_to, reason })))
            }
            Err(e) => Err(e),
        }
    }

    /// The directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Built-ins first (in their fixed order), then user presets in the order first saved.
    ///
    /// # Errors
    /// [`PresetError::Io`], or [`PresetError::Corrupt`] if the file went bad since.
    pub fn list(&self) -> Result<Vec<PresetSummary>, PresetError> {
        let user = self.read()?;
        let summary = |name: &str, builtin, body: &PresetBody| PresetSummary {
            name: name.to_owned(),
            builtin,
            editable: matches!(body, PresetBody::Pattern(_)),
            duration_ms: body.duration_ms(),
        };
        Ok(builtins()
            .iter()
            .map(|p| summary(&p.name, true, &p.body))
            .chain(user.iter().map(|p| summary(&p.name, false, &p.body)))
            .collect())
    }

    /// One preset by name.
    ///
    /// # Errors
    /// [`PresetError::NotFound`], or as [`PresetStore::list`].
    pub fn get(&self, name: &str) -> Result<Preset, PresetError> {
        if let Some(p) = builtins().iter().find(|p| p.name == name) {
            return Ok(p.clone());
        }
        self.read()?
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| Preset {
                name: p.name,
                builtin: false,
                body: p.body,
            })
            .ok_or_else(|| PresetError::NotFound(name.to_owned()))
    }

    /// Creates or overwrites a user preset.
    ///
    /// # Errors
    /// [`PresetError::InvalidName`], [`PresetError::ReadOnly`] for a built-in name,
    /// [`PresetError::Invalid`] for a body that does not validate, or as
    /// [`PresetStore::list`] (the write itself can fail with [`PresetError::Io`]).
    pub fn save(&self, name: &str, body: PresetBody) -> Result<(), PresetError> {
        check_name(name)?;
        if is_builtin(name) {
            return Err(PresetError::ReadOnly(name.to_owned()));
        }
        body.validate().map_err(PresetError::Invalid)?;
        self.modify(|presets| {
            match presets.iter_mut().find(|p| p.name == name) {
                Some(p) => p.body = body,
                None => presets.push(StoredPreset {
                    name: name.to_owned(),
                    body,
                }),
            }
            Ok(())
        })
    }

    /// Renames a user preset, keeping its place in the list.
    ///
    /// # Errors
    /// [`PresetError::ReadOnly`] if either name is built-in, [`PresetError::NotFound`],
    /// [`PresetError::AlreadyExists`], [`PresetError::InvalidName`], or as
    /// [`PresetStore::save`].
    pub fn rename(&self, from: &str, to: &str) -> Result<(), PresetError> {
        check_name(to)?;
        for name in [from, to] {
            if is_builtin(name) {
                return Err(PresetError::ReadOnly(name.to_owned()));
            }
        }
        self.modify(|presets| {
            if from != to && presets.iter().any(|p| p.name == to) {
                return Err(PresetError::AlreadyExists(to.to_owned()));
            }
            let p = presets
                .iter_mut()
                .find(|p| p.name == from)
                .ok_or_else(|| PresetError::NotFound(from.to_owned()))?;
            p.name = to.to_owned();
            Ok(())
        })
    }

    /// Deletes a user preset.
    ///
    /// # Errors
    /// [`PresetError::ReadOnly`] for a built-in, [`PresetError::NotFound`], or as
    /// [`PresetStore::save`].
    pub fn delete(&self, name: &str) -> Result<(), PresetError> {
        if is_builtin(name) {
            return Err(PresetError::ReadOnly(name.to_owned()));
        }
        self.modify(|presets| {
            let before = presets.len();
            presets.retain(|p| p.name != name);
            if presets.len() == before {
                return Err(PresetError::NotFound(name.to_owned()));
            }
            Ok(())
        })
    }

    fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Takes the writers' lock; dropping the file releases it.
    fn lock(&self) -> Result<File, PresetError> {
        let path = self.dir.join(LOCK_NAME);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.lock().map_err(io_err(&path))?;
        Ok(file)
    }

    /// Reads without the lock: renames are atomic, so this sees a whole file. Only an
    /// unreadable file needs the lock, to move it aside without racing a writer.
    fn read(&self) -> Result<Vec<StoredPreset>, PresetError> {
        match self.read_unchecked()? {
            Ok(decoded) => Ok(decoded.good),
            Err(_) => {
                let _lock = self.lock()?;
                Ok(self.read_locked()?.good)
            }
        }
    }

    /// Reads under the lock; moves an unreadable file aside.
    fn read_locked(&self) -> Result<Decoded, PresetError> {
        match self.read_unchecked()? {
            Ok(decoded) => Ok(decoded),
            Err(reason) => {
                let moved_to = self.move_aside()?;
                log::warn!(
                    "presets file unreadable ({reason}); moved to {}",
                    moved_to.display()
                );
                Err(PresetError::Corrupt { moved_to, reason })
            }
        }
    }

    /// The user presets, `Ok(Err(reason))` when the file is there but unusable.
    fn read_unchecked(&self) -> Result<Result<Decoded, String>, PresetError> {
        let path = self.file();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Ok(Decoded {
                    good: Vec::new(),
                    bad: Vec::new(),
                }))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        Ok(decode(&bytes))
    }

    /// A name for a file set aside that no earlier one (same second) has.
    fn aside_name(&self, prefix: &str) -> PathBuf {
        let stamp = utc_stamp(SystemTime::now());
        let mut target = self.dir.join(format!("{prefix}{stamp}"));
        let mut n = 1;
        while target.exists() {
            n += 1;
            target = self.dir.join(format!("{prefix}{stamp}-{n}"));
        }
        target
    }

    fn move_aside(&self) -> Result<PathBuf, PresetError> {
        let target = self.aside_name(CORRUPT_PREFIX);
        fs::rename(self.file(), &target).map_err(io_err(&target))?;
        crate::fs::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(target)
    }

    /// Read-modify-write under the lock.
    fn modify<T>(
        &self,
        change: impl FnOnce(&mut Vec<StoredPreset>) -> Result<T, PresetError>,
    ) -> Result<T, PresetError> {
        let _lock = self.lock()?;
        self.remove_stale_temps();
        let decoded = self.read_locked()?;
        // Never drop a bad entry silently: it goes to its own file before the rewrite.
        self.write_rejected(&decoded.bad)?;
        let mut presets = decoded.good;
        let out = change(&mut presets)?;
        self.write_locked(&presets)?;
        Ok(out)
    }

    /// Moves every entry that is wrong on its own out of the file, into
    /// `presets.json.rejected-<UTC time>`, and says which; the other presets stay.
    /// `Ok(None)` when every entry is fine.
    ///
    /// # Errors
    /// [`PresetError::Io`], or [`PresetError::Corrupt`] if the whole file is unreadable.
    pub fn set_aside_bad_entries(&self) -> Result<Option<SetAside>, PresetError> {
        let _lock = self.lock()?;
        let decoded = self.read_locked()?;
        let Some(moved_to) = self.write_rejected(&decoded.bad)? else {
            return Ok(None);
        };
        self.write_locked(&decoded.good)?;
        let entries: Vec<BadEntry> = decoded.bad.into_iter().map(|(e, _)| e).collect();
        for e in &entries {
            let BadEntry { name, reason } = e;
            log::warn!(
                "preset {name:?} set aside ({reason}) in {}",
                moved_to.display()
            );
        }
        Ok(Some(SetAside { moved_to, entries }))
    }

    /// Writes bad entries, as they were, to a new rejected file; the caller holds the lock.
    fn write_rejected(
        &self,
        bad: &[(BadEntry, serde_json::Value)],
    ) -> Result<Option<PathBuf>, PresetError> {
        if bad.is_empty() {
            return Ok(None);
        }
        let target = self.aside_name(REJECTED_PREFIX);
        let file = PresetFile {
            version: SCHEMA_VERSION,
            presets: bad.iter().map(|(_, raw)| raw).collect(),
        };
        let mut json =
            serde_json::to_vec_pretty(&file).map_err(|e| PresetError::Invalid(e.to_string()))?;
        json.push(b'\n');
        crate::fs::write_atomic(&target, &json).map_err(io_err(&self.dir))?;
        Ok(Some(target))
    }

    /// Atomic replace ([`crate::fs::write_atomic`]); the caller holds the lock.
    fn write_locked(&self, presets: &[StoredPreset]) -> Result<(), PresetError> {
        let file = PresetFile {
            version: SCHEMA_VERSION,
            presets: presets.iter().collect(),
        };
        // Serializing plain data to a Vec cannot fail; map it anyway rather than panic.
        let mut json =
            serde_json::to_vec_pretty(&file).map_err(|e| PresetError::Invalid(e.to_string()))?;
        json.push(b'\n');
        crate::fs::write_atomic(&self.file(), &json).map_err(io_err(&self.dir))
    }

    /// Only a writer holding the lock creates temp files, so under the lock any left over
    /// belong to a writer that died. Failing to remove one is harmless.
    fn remove_stale_temps(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                log::debug!("removing stale {}", entry.path().display());
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let probe: VersionProbe =
        serde_json::from_slice(bytes).map_err(|e| format!("not a presets file: {e}"))?;
    if probe.version != SCHEMA_VERSION {
        return Err(format!(
            "schema version {} is not the supported {SCHEMA_VERSION}",
            probe.version
        ));
    }
    let file: RawFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    let mut decoded = Decoded {
        good: Vec::new(),
        bad: Vec::new(),
    };
    for (i, raw) in file.presets.into_iter().enumerate() {
        let name = raw
            .get("name")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| format!("#{}", i + 1), str::to_owned);
        let checked = serde_json::from_value::<StoredPreset>(raw.clone())
            .map_err(|e| e.to_string())
            .and_then(|p| {
                check_name(&p.name).map_err(|e| e.to_string())?;
                if is_builtin(&p.name) {
                    return Err("the name belongs to a built-in preset".to_owned());
                }
                if seen.contains(&p.name) {
                    return Err("the name is used by an earlier preset".to_owned());
                }
                p.body.validate()?;
                Ok(p)
            });
        match checked {
            Ok(p) => {
                seen.insert(p.name.clone());
                decoded.good.push(p);
            }
            Err(reason) => decoded.bad.push((BadEntry { name, reason }, raw)),
        }
    }
    Ok(decoded)
}

/// `YYYYMMDDTHHMMSSZ` in UTC, without a date crate: days → civil date (H. Hinnant's
/// `civil_from_days`).
fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_stamp_matches_known_dates() {
        let at = |s| utc_stamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400), "20000229T000000Z");
        assert_eq!(at(1_709_251_199), "20240229T235959Z");
        assert_eq!(at(4_102_444_800), "21000101T000000Z");
    }

    #[test]
    fn every_builtin_parses_strictly() {
        assert_eq!(builtins().len(), BUILTINS.len());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("My wave 1").is_ok());
        assert!(check_name("呼吸 2").is_ok());
        for bad in ["", " x", "x ", "a\nb", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
