//! Command-line flags, parsed by clap (derive). A usage error exits 2 with clap's message
//! and a pointer to `--help`. The `doctor` binary's flags are [`DoctorCli`]; `pathops doctor`
//! shares [`RunArgs`] and brings its own catalog selection.

use std::path::PathBuf;

use clap::{Args, Parser};
use pathops_core::{BaseUrl, TenantId};

/// What `--help` prints after the flags.
pub(crate) const AFTER_HELP: &str = "\
With no options it runs the embedded demo: an in-process catalog, fake GitLab, GitHub,
Gitea, Harbor, GHCR, Jenkins, Argo CD, MinIO and direct-ping tools and the webhook receiver,
all on 127.0.0.1, and a set of integrations of which some are broken on purpose.

For each integration the doctor resolves its credential, tests reachability and
authentication (PathOps -> tool), then what the connector offers: the hook test or ping,
delivered to the receiver and verified (tool -> PathOps), or the direct ping (both ways).
It reports and suggests; it never changes anything in a tool. It does record what it found
in the catalog, as evidence: a health-check row and an audit entry per integration, and the
lifecycle status that follows from the result.

SECRETS (with a catalog), resolved at call time and never printed. A tenant's integrations
may use only the tenant's own references; any other is refused (auth_ref_denied):
    ref://<tenant>/<provider>/<key> environment variable PATHOPS_SECRET_<TENANT>__<PROVIDER>__<KEY>
                                    (upper-cased, - as _), else the file
                                    <DIR>/<tenant>/<provider>/<key> (--secrets-dir)
    authref://env/<NAME>            environment variable NAME, which must start with
                                    PATHOPS_SECRET_<TENANT>__
    authref://file/<tenant>/<path>  the file <DIR>/<tenant>/<path>
    authref://vault/<mount>/<path>#<field>
                                    Vault or OpenBao KV v2 (VAULT_ADDR, VAULT_TOKEN, optional
                                    VAULT_NAMESPACE), under PATHOPS_VAULT_PREFIX
                                    (default secret/tenants/{tenant}) only

ENVIRONMENT:
    NO_COLOR    When set and not empty, the table is not coloured. It is never coloured
                when standard output is not a terminal.

OUTPUT:
    A progress bar on standard error while the checks run (a line at the start and one at
    the end when standard error is not a terminal); then on standard output the table
    (integration, provider, reachability, auth, webhook/ping, latency, status) and the
    fixes, or the JSON report with --json.

EXIT STATUS:
    0    every integration passed
    1    findings: an integration failed, has an error finding or cannot be read
    2    usage error: unknown flag, missing or invalid value
    3    the doctor could not run: catalog unavailable, address in use, ...
    4    nothing was checked: the tenant has no integrations (a mistyped --tenant?)
         or every one is paused
";

/// The flags of a doctor run, whichever binary runs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub(crate) struct RunArgs {
    /// Print the report as JSON (schema pathops.doctor/v1) instead of the table and the
    /// fixes.
    #[arg(long)]
    pub(crate) json: bool,
    /// Where the webhook receiver listens, as host:port (default 127.0.0.1:0: a free port on
    /// loopback; localhost:8080 works).
    #[arg(long, value_name = "ADDR", value_parser = host_port)]
    pub(crate) listen: Option<String>,
    // (`help` rather than a doc comment: rustdoc would read the <…> placeholders as HTML.)
    #[arg(
        long,
        value_name = "URL",
        value_parser = base_url,
        help = "The receiver's URL as the tools reach it (default http://<listen address>). \
                Tools deliver their test webhooks to <URL>/webhooks/<provider>, and \
                direct-ping tools call back <URL>/webhooks/ping."
    )]
    pub(crate) public_url: Option<BaseUrl>,
}

/// `doctor`: check every integration of a PathOps catalog end to end, and print the fixes.
#[derive(Debug, Parser)]
#[command(
    name = "doctor",
    about = "Check every integration of a PathOps catalog end to end, and print the fixes.",
    after_help = AFTER_HELP
)]
pub(crate) struct DoctorCli {
    #[arg(
        long,
        value_name = "URL",
        requires = "tenant",
        value_parser = catalog_url,
        help = "Check the integrations of this existing catalog instead of the demo: \
                sqlite://<path>, sqlite:<path>, sqlite::memory: or \
                postgres://<user>@<host>/<db>. Needs --tenant. Nothing is created: a missing \
                file or a database without the PathOps schema is an error (see --init)."
    )]
    pub(crate) catalog: Option<String>,
    /// With --catalog: create the catalog if it does not exist (the SQLite file, the PathOps
    /// tables) or migrate an older one, then check it.
    #[arg(long, requires = "catalog")]
    pub(crate) init: bool,
    /// The tenant whose integrations are checked (demo default: acme).
    #[arg(long, value_name = "ID")]
    pub(crate) tenant: Option<TenantId>,
    /// With --catalog: also read secrets from files under DIR (which must exist).
    #[arg(long, value_name = "DIR", requires = "catalog", value_parser = existing_dir)]
    pub(crate) secrets_dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

impl DoctorCli {
    /// The run these flags ask for.
    pub(crate) fn options(self) -> Options {
        Options {
            json: self.run.json,
            yaml: false,
            catalog: self.catalog,
            init: self.init,
            tenant: self.tenant,
            listen: self.run.listen,
            public_url: self.run.public_url,
            secrets_dir: self.secrets_dir,
        }
    }
}

/// A doctor run: the demo (no catalog) or a catalog's tenant.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) json: bool,
    /// The report as YAML (`pathops doctor -o yaml`); `json` wins when both are set.
    pub(crate) yaml: bool,
    pub(crate) catalog: Option<String>,
    pub(crate) init: bool,
    pub(crate) tenant: Option<TenantId>,
    /// `host:port`, resolved when the receiver binds.
    pub(crate) listen: Option<String>,
    pub(crate) public_url: Option<BaseUrl>,
    pub(crate) secrets_dir: Option<PathBuf>,
}

/// A store URL the catalog can open (`sqlite:`, `sqlite::memory:`, `postgres://`).
pub(crate) fn catalog_url(url: &str) -> Result<String, String> {
    match pathops_store::StoreScheme::parse(url) {
        Ok(pathops_store::StoreScheme::Sqlite | pathops_store::StoreScheme::Postgres) => {
            Ok(url.to_owned())
        }
        _ => Err("needs a sqlite: or postgres:// URL".to_owned()),
    }
}

/// `host:port` with a port number: `127.0.0.1:8080`, `[::1]:0`, `localhost:8080`.
fn host_port(addr: &str) -> Result<String, String> {
    let ok = match addr.rsplit_once(':') {
        Some((host, port)) => {
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            !host.is_empty()
                && !host.chars().any(|c| c.is_whitespace() || c == '/')
                && port.parse::<u16>().is_ok()
        }
        None => false,
    };
    if ok {
        Ok(addr.to_owned())
    } else {
        Err("needs host:port, such as 127.0.0.1:8080 or localhost:8080".to_owned())
    }
}

fn base_url(url: &str) -> Result<BaseUrl, String> {
    BaseUrl::parse(url).map_err(|e| e.problem.to_string())
}

/// A directory that exists.
pub(crate) fn existing_dir(dir: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(dir);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!("{}: no such directory", dir.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        DoctorCli::try_parse_from(std::iter::once("doctor").chain(args.iter().copied()))
            .map(DoctorCli::options)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn flags_values_and_errors() {
        assert_eq!(run(&[]).unwrap(), Options::default());
        let o = run(&[
            "--json",
            "--catalog=sqlite:///var/lib/pathops.db",
            "--tenant",
            "acme",
            "--listen",
            "127.0.0.1:8080",
            "--public-url",
            "https://pathops.example.com/",
        ])
        .unwrap();
        assert!(o.json);
        assert_eq!(o.catalog.as_deref(), Some("sqlite:///var/lib/pathops.db"));
        assert_eq!(o.tenant.unwrap().to_string(), "acme");
        assert_eq!(o.listen.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(
            o.public_url.unwrap().as_str(),
            "https://pathops.example.com"
        );
        // The store's own URL forms are accepted.
        for url in ["sqlite::memory:", "sqlite:file.db", "postgresql://app@db/x"] {
            assert_eq!(
                run(&["--catalog", url, "--tenant", "a"])
                    .unwrap()
                    .catalog
                    .as_deref(),
                Some(url)
            );
        }

        let err = |args: &[&str]| run(args).unwrap_err();
        assert!(err(&["--bogus"]).contains("unexpected argument '--bogus'"));
        assert!(err(&["extra"]).contains("unexpected argument 'extra'"));
        // A flag is never taken as another flag's value.
        assert!(err(&["--tenant", "--json"]).contains("a value is required for '--tenant <ID>'"));
        for bad in ["nowhere", "localhost", ":8080", "host:http", "a b:1"] {
            assert!(err(&["--listen", bad]).contains("needs host:port"), "{bad}");
        }
        for good in ["localhost:8080", "[::1]:0", "0.0.0.0:80"] {
            assert_eq!(
                run(&["--listen", good]).unwrap().listen.as_deref(),
                Some(good)
            );
        }
        assert!(
            run(&["--catalog", "sqlite://x.db", "--tenant", "a", "--init"])
                .unwrap()
                .init
        );
        assert!(err(&["--init"]).contains("--catalog <URL>"));
        assert!(
            err(&[
                "--catalog",
                "sqlite://x.db",
                "--tenant",
                "a",
                "--secrets-dir",
                "/no/such/dir"
            ])
            .contains("/no/such/dir: no such directory")
        );
        assert!(err(&["--public-url", "ftp://x"]).contains("--public-url"));
        assert!(err(&["--json", "--json"]).contains("cannot be used multiple times"));
        assert!(err(&["--catalog", "sqlite://x.db"]).contains("--tenant <ID>"));
        assert!(err(&["--catalog", "mysql://db", "--tenant", "acme"]).contains("needs a sqlite:"));
        assert!(
            err(&["--secrets-dir", &std::env::temp_dir().display().to_string()])
                .contains("--catalog <URL>")
        );
    }
}
