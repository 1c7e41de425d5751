//! [`FileResolver`]: one file per secret under a root directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use secrecy::SecretString;

use super::{ResolveContext, SecretResolver, not_found};
use crate::auth_ref::AuthRef;
use crate::error::{Error, Result};

/// One file per secret under a root directory. `ref://<scope>/<provider>/<key>` reads
/// `<root>/<scope>/<provider>/<key>`; `authref://file/<path>` reads `<root>/<path>`. One trailing
/// newline is stripped. Paths that leave the root (through a symbolic link) are refused.
///
/// With the `runtime` feature, files are read on tokio's blocking pool
/// (`spawn_blocking`), never on an async worker.
#[derive(Debug, Clone)]
pub struct FileResolver {
    root: PathBuf,
}

impl FileResolver {
    /// Serves secrets under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn relative_path(auth_ref: &AuthRef) -> Option<PathBuf> {
        if let (Some(scope), Some(provider), Some(key)) =
            (auth_ref.scope(), auth_ref.provider(), auth_ref.key())
        {
            return Some([scope, provider, key].iter().collect());
        }
        match (auth_ref.backend(), auth_ref.path(), auth_ref.field()) {
            (Some("file"), Some(path), None) => Some(path.split('/').collect()),
            _ => None,
        }
    }

    fn read(root: &Path, relative: &Path) -> std::io::Result<Option<String>> {
        let root = root.canonicalize()?;
        let path = match root.join(relative).canonicalize() {
            Ok(path) => path,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !path.starts_with(&root) || !path.is_file() {
            return Ok(None);
        }
        let mut text = std::fs::read_to_string(path)?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Ok(Some(text))
    }

    #[cfg(feature = "runtime")]
    async fn read_off_worker(&self, relative: PathBuf) -> std::io::Result<Option<String>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || Self::read(&root, &relative))
            .await
            .map_err(std::io::Error::other)?
    }

    #[cfg(not(feature = "runtime"))]
    async fn read_off_worker(&self, relative: PathBuf) -> std::io::Result<Option<String>> {
        Self::read(&self.root, &relative)
    }
}

#[async_trait]
impl SecretResolver for FileResolver {
    async fn resolve(&self, _ctx: &ResolveContext, auth_ref: &AuthRef) -> Result<SecretString> {
        let relative =
            Self::relative_path(auth_ref).ok_or_else(|| not_found(auth_ref, Vec::new()))?;
        match self.read_off_worker(relative.clone()).await {
            Ok(Some(text)) => Ok(SecretString::from(text)),
            Ok(None) => Err(not_found(
                auth_ref,
                vec![format!("file {}", self.root.join(&relative).display())],
            )),
            Err(e) => Err(Error::backend("file", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::test_support::{block_on, ctx};
    use super::*;

    fn r(s: &str) -> AuthRef {
        s.parse().unwrap()
    }

    #[test]
    fn file_resolver_reads_under_its_root_only() {
        let dir = std::env::temp_dir().join(format!("pathops-file-{}", uuid::Uuid::now_v7()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("acme/gitlab")).unwrap();
        std::fs::write(root.join("acme/gitlab/token"), "glpat-abc\n").unwrap();
        std::fs::write(dir.join("outside"), "nope").unwrap();
        std::fs::create_dir_all(root.join("file")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("outside"), root.join("escape")).unwrap();

        let files = FileResolver::new(&root);
        let acme = ctx("acme");
        block_on(async {
            let s = files
                .resolve(&acme, &r("ref://acme/gitlab/token"))
                .await
                .unwrap();
            assert_eq!(s.expose_secret(), "glpat-abc");
            let s = files
                .resolve(&acme, &r("authref://file/acme/gitlab/token"))
                .await
                .unwrap();
            assert_eq!(s.expose_secret(), "glpat-abc");
            let missing = files
                .resolve(&acme, &r("ref://acme/gitlab/missing"))
                .await
                .unwrap_err();
            let path = root.join("acme/gitlab/missing");
            assert_eq!(
                missing.to_string(),
                format!(
                    "secret not found: ref://acme/gitlab/missing (looked in file {})",
                    path.display()
                )
            );
            #[cfg(unix)]
            assert!(matches!(
                files.resolve(&acme, &r("authref://file/escape")).await,
                Err(Error::SecretNotFound { .. })
            ));
            assert!(matches!(
                files.resolve(&acme, &r("authref://vault/acme")).await,
                Err(Error::SecretNotFound { ref looked_in, .. }) if looked_in.is_empty()
            ));
        });
        std::fs::remove_dir_all(dir).unwrap();
    }
}
