//! Which catalog, tenant and actor a command uses, and the catalog service over them.
//!
//! Each setting comes from its flag, else its environment variable (clap reads both), else
//! `pathops.toml` (or `--config`), else its default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pathops_core::catalog::{Catalog, Principal};
use pathops_core::error::chain;
use pathops_core::{ActorId, TenantId};
use serde::Deserialize;

use crate::{Failure, Global};

/// The embedded default catalog.
pub(crate) const DEFAULT_CATALOG: &str = "sqlite://./pathops.db";

/// The default actor recorded in the audit trail.
const DEFAULT_ACTOR: &str = "pathops-cli";

/// `pathops.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    catalog: Option<String>,
    tenant: Option<String>,
    actor: Option<String>,
    secrets_dir: Option<PathBuf>,
}

/// The settings in force.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) catalog: String,
    tenant: Option<TenantId>,
    actor: ActorId,
    pub(crate) secrets_dir: Option<PathBuf>,
}

impl Settings {
    /// Resolves the settings of `global`.
    pub(crate) fn resolve(global: &Global) -> Result<Self, Failure> {
        let file = read_file(global.config.as_deref())?;
        let catalog = match (&global.catalog, file.catalog) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) => crate::args::catalog_url(&url)
                .map_err(|e| Failure::usage(format!("pathops.toml: catalog {e}")))?,
            (None, None) => DEFAULT_CATALOG.to_owned(),
        };
        let tenant = match (&global.tenant, file.tenant) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(t)) => Some(
                t.parse()
                    .map_err(|e| Failure::usage(format!("pathops.toml: tenant: {e}")))?,
            ),
            (None, None) => None,
        };
        let actor = match (&global.actor, file.actor) {
            (Some(a), _) => a.clone(),
            (None, Some(a)) => a
                .parse()
                .map_err(|e| Failure::usage(format!("pathops.toml: actor: {e}")))?,
            (None, None) => DEFAULT_ACTOR
                .parse()
                .map_err(|e| Failure::cannot_run(format!("the default actor: {e}")))?,
        };
        let secrets_dir = global.secrets_dir.clone().or(file.secrets_dir);
        Ok(Self {
            catalog,
            tenant,
            actor,
            secrets_dir,
        })
    }

    /// The tenant, which every catalog command needs.
    pub(crate) fn tenant(&self) -> Result<TenantId, Failure> {
        self.tenant.clone().ok_or_else(|| {
            Failure::usage(
                "no tenant: pass --tenant, set PATHOPS_TENANT or `tenant` in pathops.toml",
            )
        })
    }

    /// The tenant if one is set.
    pub(crate) fn tenant_opt(&self) -> Option<TenantId> {
        self.tenant.clone()
    }

    /// The operator acting on the tenant: an admin (the CLI's user holds the catalog's
    /// credentials anyway).
    pub(crate) fn principal(&self) -> Result<Principal, Failure> {
        Ok(Principal::admin(self.tenant()?, self.actor.clone()))
    }

    /// The catalog service over the existing catalog, with every compiled-in connector and
    /// the doctor's secret resolvers.
    pub(crate) async fn catalog(&self) -> Result<Catalog, Failure> {
        self.catalog_with(None).await
    }

    /// [`catalog`](Self::catalog), finding out-of-process plugins with `plugins` too.
    pub(crate) async fn catalog_with(
        &self,
        plugins: Option<Arc<dyn pathops_core::plugin::PluginSource>>,
    ) -> Result<Catalog, Failure> {
        let store = crate::store::open(&self.catalog, false)
            .await
            .map_err(|e| Failure::cannot_run(e.replace("add --init", "run `pathops migrate`")))?;
        let mut builder = Catalog::builder(store);
        if let Some(plugins) = plugins {
            builder = builder.with_plugins(plugins);
        }
        builder
            .with_connectors(crate::cli::connectors().map_err(Failure::cannot_run)?)
            .with_secrets(
                crate::secrets::resolver(self.secrets_dir.as_deref())
                    .map_err(Failure::cannot_run)?,
            )
            .with_auth_ref_policy(crate::secrets::policy())
            .build()
            .map_err(|e| Failure::cannot_run(format!("the catalog: {}", chain(&e))))
    }
}

fn read_file(path: Option<&Path>) -> Result<File, Failure> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("pathops.toml"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(File::default());
        }
        Err(e) => {
            return Err(Failure::cannot_run(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str(&text)
        .map_err(|e| Failure::usage(format!("{}: {}", path.display(), e.message())))
}
