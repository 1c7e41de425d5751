//! `pathops-plugin.json`: what a plugin is, read and checked without running anything.

use std::path::{Path, PathBuf};

use pathops_core::{Capabilities, IntegrationType, PluginDescriptor, Provider};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name, beside the executable.
pub const MANIFEST_FILE: &str = "pathops-plugin.json";

/// The largest manifest read, in bytes.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// How a plugin's processes are run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginMode {
    /// One process per (plugin, tenant), kept running, serving up to `max_concurrency` calls
    /// at once.
    #[default]
    LongLived,
    /// A fresh process for every call (handshake, call, shutdown): the least trusted plugins.
    PerCall,
}

/// A parsed `pathops-plugin.json`. Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Stable id: lowercase ASCII letters, digits, `.`, `_`, `-`; 1–100 characters, starting
    /// with a letter or digit (`acme.harbor-lite`).
    pub plugin_id: String,
    /// The provider served: a built-in name, or a custom one (see `Provider::custom`).
    pub provider: String,
    /// The provider's integration type (for a built-in provider, its own).
    pub integration_type: IntegrationType,
    /// The plugin's version.
    pub version: String,
    /// The protocol versions it speaks.
    pub protocol_versions: Vec<u32>,
    /// What it can do.
    pub capabilities: Capabilities,
    /// The executable, relative to the manifest's directory, inside it.
    pub executable: String,
    /// SHA-256 of the executable, lowercase hex.
    pub sha256: String,
    /// How its processes run (default `long_lived`); the operator may force `per_call`.
    #[serde(default)]
    pub mode: PluginMode,
    /// Most calls one long-lived process serves at once (default 16, at most 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
}

/// A manifest that was checked: the descriptor it declares and where its executable is.
#[derive(Debug, Clone)]
pub struct CheckedManifest {
    /// The manifest as read.
    pub manifest: Manifest,
    /// Its provider, parsed.
    pub provider: Provider,
    /// The plugin's directory (canonical).
    pub dir: PathBuf,
    /// The executable (canonical, inside `dir`).
    pub executable: PathBuf,
}

impl CheckedManifest {
    /// The descriptor `plugin_metadata` records.
    pub fn descriptor(&self) -> PluginDescriptor {
        PluginDescriptor {
            id: self.manifest.plugin_id.clone(),
            provider: self.provider.clone(),
            integration_type: self.manifest.integration_type,
            version: self.manifest.version.clone(),
            capabilities: self.manifest.capabilities.clone(),
        }
    }
}

/// Why a manifest (or the executable it names) was refused. The message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ManifestError {
    /// The manifest.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

fn refuse(path: &Path, reason: impl Into<String>) -> ManifestError {
    ManifestError {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads and checks the manifest at `manifest_path`. Runs nothing: the checksum is computed
/// from the file's bytes.
pub fn load(manifest_path: &Path) -> Result<CheckedManifest, ManifestError> {
    let meta = std::fs::metadata(manifest_path)
        .map_err(|e| refuse(manifest_path, format!("cannot read: {e}")))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(refuse(
            manifest_path,
            format!("larger than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let text = std::fs::read(manifest_path)
        .map_err(|e| refuse(manifest_path, format!("cannot read: {e}")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| refuse(manifest_path, format!("not a valid manifest: {e}")))?;
    check(manifest_path, manifest)
}

fn check(manifest_path: &Path, manifest: Manifest) -> Result<CheckedManifest, ManifestError> {
    let id = &manifest.plugin_id;
    let id_ok = (1..=100).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !id_ok {
        return Err(refuse(
            manifest_path,
            "plugin_id: 1-100 of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
        ));
    }
    let provider = Provider::parse_with_type(&manifest.provider, manifest.integration_type)
        .map_err(|e| refuse(manifest_path, format!("provider: {e}")))?;
    if provider.integration_type() != manifest.integration_type {
        return Err(refuse(
            manifest_path,
            format!(
                "integration_type: {} is a {} provider, not {}",
                provider,
                provider.integration_type(),
                manifest.integration_type
            ),
        ));
    }
    if manifest.version.is_empty()
        || manifest.version.len() > 64
        || manifest.version.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(refuse(manifest_path, "version: 1-64 characters, no spaces"));
    }
    if manifest.protocol_versions.is_empty() {
        return Err(refuse(manifest_path, "protocol_versions: empty"));
    }
    if manifest.capabilities.iter().next().is_none() {
        return Err(refuse(manifest_path, "capabilities: empty"));
    }
    if !(manifest.sha256.len() == 64
        && manifest
            .sha256
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
    {
        return Err(refuse(manifest_path, "sha256: not 64 lowercase hex digits"));
    }
    if let Some(n) = manifest.max_concurrency
        && !(1..=256).contains(&n)
    {
        return Err(refuse(manifest_path, "max_concurrency: 1-256"));
    }
    let relative = Path::new(&manifest.executable);
    if manifest.executable.is_empty()
        || relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(refuse(
            manifest_path,
            "executable: a relative path inside the plugin's directory, without '..'",
        ));
    }
    let dir = manifest_path
        .parent()
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map_err(|e| refuse(manifest_path, format!("directory: {e}")))?;
    let executable = dir
        .join(relative)
        .canonicalize()
        .map_err(|e| refuse(manifest_path, format!("executable: {e}")))?;
    if !executable.starts_with(&dir) {
        return Err(refuse(
            manifest_path,
            "executable: resolves outside the plugin's directory (a symbolic link?)",
        ));
    }
    let meta = std::fs::metadata(&executable)
        .map_err(|e| refuse(manifest_path, format!("executable: {e}")))?;
    if !meta.is_file() {
        return Err(refuse(manifest_path, "executable: not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(refuse(
                manifest_path,
                "executable: not executable (chmod +x)",
            ));
        }
    }
    Ok(CheckedManifest {
        manifest,
        provider,
        dir,
        executable,
    })
}

/// The SHA-256 of the file at `path`, lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(const_hex::encode(hasher.finalize()))
}

/// What identifies a file's content without reading it: device, inode, size, modification
/// and status-change times. Replacing the file (a new inode), writing to it or changing its
/// mode changes the status-change time, which no unprivileged process can set back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Ok(Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    }
}

/// [`verify_checksum`], skipping the hashing when the file's [`FileStamp`] is the one of its
/// last successful verification (`last`, updated on success).
pub(crate) fn verify_checksum_cached(
    checked: &CheckedManifest,
    last: &std::sync::Mutex<Option<FileStamp>>,
) -> Result<(), String> {
    let stamp = FileStamp::of(&checked.executable).ok();
    let mut last = last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if stamp.is_some() && *last == stamp {
        return Ok(());
    }
    verify_checksum(checked)?;
    *last = stamp;
    Ok(())
}

/// Whether the executable's bytes still have the manifest's checksum; the reason when not.
pub fn verify_checksum(checked: &CheckedManifest) -> Result<(), String> {
    match sha256_file(&checked.executable) {
        Ok(actual) if actual == checked.manifest.sha256 => Ok(()),
        Ok(actual) => Err(format!(
            "the executable's SHA-256 is {actual}; the manifest says {}",
            checked.manifest.sha256
        )),
        Err(e) => Err(format!("cannot read the executable: {e}")),
    }
}
