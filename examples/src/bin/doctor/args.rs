//! Command-line flags, parsed by hand: nine flags do not need a parser crate, and by hand the
//! exit code of a usage error (2) and the help text stay exactly as documented.

use std::fmt;
use std::path::PathBuf;

use pathops_core::{BaseUrl, TenantId};

/// What `--help` prints.
pub(crate) const HELP: &str = "\
doctor: check every integration of a PathOps catalog end to end, and print the fixes.

USAGE:
    doctor [OPTIONS]

With no options it runs the embedded demo: an in-process catalog, fake GitLab, GitHub,
Harbor, GHCR and direct-ping tools and the webhook receiver, all on 127.0.0.1, and a set of
integrations of which some are broken on purpose (wrong webhook token, disabled hook,
unreachable host, missing scope, wrong robot password).

For each integration the doctor resolves its credential, tests reachability and
authentication (PathOps -> tool), then what the connector offers: the GitLab hook test
or GitHub hook ping, delivered to the receiver and verified (tool -> PathOps), or the
direct ping (both ways). It reports and suggests; it never changes anything in a tool.
It does record what it found in the catalog, as evidence: a health-check row and an
audit entry per integration, and the lifecycle status that follows from the result.

OPTIONS:
    --json                Print the report as JSON (schema pathops.doctor/v1) instead of
                          the table and the fixes.
    --catalog <URL>       Check the integrations of this existing catalog instead of the
                          demo: sqlite://<path> or postgres://<user>@<host>/<db>. Needs
                          --tenant. Nothing is created: a missing file or a database
                          without the PathOps schema is an error (see --init).
    --init                With --catalog: create the catalog if it does not exist (the
                          SQLite file, the PathOps tables) or migrate an older one, then
                          check it.
    --tenant <ID>         The tenant whose integrations are checked (demo default: acme).
    --listen <ADDR>       Where the webhook receiver listens, as host:port (default
                          127.0.0.1:0: a free port on loopback; localhost:8080 works).
    --public-url <URL>    The receiver's URL as the tools reach it (default
                          http://<listen address>). GitLab and GitHub deliver their test
                          webhooks to <URL>/webhooks/gitlab and <URL>/webhooks/github, and
                          direct-ping tools call back <URL>/webhooks/ping.
    --secrets-dir <DIR>   With --catalog: also read secrets from files under DIR (which
                          must exist).
    -h, --help            Print this help.

SECRETS (with --catalog), resolved at call time and never printed. A tenant's integrations
may use only the tenant's own references; any other is refused (auth_ref_denied):
    ref://<tenant>/<provider>/<key> environment variable PATHOPS_SECRET_<TENANT>__<PROVIDER>__<KEY>
                                    (upper-cased, - as _; lowercase letters, digits and single
                                    hyphens only), else the file <DIR>/<tenant>/<provider>/<key>
    authref://env/<NAME>            environment variable NAME, which must start with
                                    PATHOPS_SECRET_<TENANT>__
    authref://file/<tenant>/<path>  the file <DIR>/<tenant>/<path>

ENVIRONMENT:
    NO_COLOR    When set and not empty, the table is not coloured. It is never coloured
                when standard output is not a terminal.

OUTPUT:
    A progress line on standard error while the checks run; then on standard output the
    table (integration, provider, reachability, auth, webhook/ping, latency, status) and
    the fixes, or the JSON report with --json.

EXIT STATUS:
    0    every integration passed
    1    findings: an integration failed, has an error finding or cannot be read
    2    usage error: unknown flag, missing or invalid value
    3    the doctor could not run: catalog unavailable, address in use, ...
    4    nothing was checked: the tenant has no integrations (a mistyped --tenant?)
         or every one is paused
";

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Print [`HELP`].
    Help,
    /// Run the doctor.
    Run(Options),
}

/// The parsed flags.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) json: bool,
    pub(crate) catalog: Option<String>,
    pub(crate) init: bool,
    pub(crate) tenant: Option<TenantId>,
    /// `host:port`, resolved when the receiver binds.
    pub(crate) listen: Option<String>,
    pub(crate) public_url: Option<BaseUrl>,
    pub(crate) secrets_dir: Option<PathBuf>,
}

/// A usage error: what was wrong, for one line on standard error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Parses the arguments after the program name. `--flag value` and `--flag=value` both work;
/// a flag given twice is an error.
pub(crate) fn parse<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut options = Options::default();
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, UsageError> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(usage(format!("{name} needs a value"))),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" if inline.is_some() => return Err(usage("--json takes no value")),
            "--json" => set(&mut options.json, true, "--json")?,
            "--init" if inline.is_some() => return Err(usage("--init takes no value")),
            "--init" => set(&mut options.init, true, "--init")?,
            "--catalog" => {
                let url = value("--catalog")?;
                let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
                if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
                    return Err(usage("--catalog needs a sqlite:// or postgres:// URL"));
                }
                set(&mut options.catalog, Some(url), "--catalog")?;
            }
            "--tenant" => {
                let tenant = value("--tenant")?
                    .parse()
                    .map_err(|e| usage(format!("--tenant: {e}")))?;
                set(&mut options.tenant, Some(tenant), "--tenant")?;
            }
            "--listen" => {
                let addr = value("--listen")?;
                if !is_host_port(&addr) {
                    return Err(usage(
                        "--listen needs host:port, such as 127.0.0.1:8080 or localhost:8080",
                    ));
                }
                set(&mut options.listen, Some(addr), "--listen")?;
            }
            "--public-url" => {
                let url = BaseUrl::parse(&value("--public-url")?)
                    .map_err(|e| usage(format!("--public-url: {}", e.problem)))?;
                set(&mut options.public_url, Some(url), "--public-url")?;
            }
            "--secrets-dir" => {
                let dir = PathBuf::from(value("--secrets-dir")?);
                if !dir.is_dir() {
                    return Err(usage(format!(
                        "--secrets-dir {}: no such directory",
                        dir.display()
                    )));
                }
                set(&mut options.secrets_dir, Some(dir), "--secrets-dir")?;
            }
            other if other.starts_with('-') => {
                return Err(usage(format!("unknown flag {other}")));
            }
            other => return Err(usage(format!("unexpected argument {other}"))),
        }
    }
    if options.catalog.is_some() && options.tenant.is_none() {
        return Err(usage("--catalog needs --tenant"));
    }
    if options.secrets_dir.is_some() && options.catalog.is_none() {
        return Err(usage("--secrets-dir applies to --catalog only"));
    }
    if options.init && options.catalog.is_none() {
        return Err(usage("--init applies to --catalog only"));
    }
    Ok(Command::Run(options))
}

/// `host:port` with a port number: `127.0.0.1:8080`, `[::1]:0`, `localhost:8080`.
fn is_host_port(addr: &str) -> bool {
    match addr.rsplit_once(':') {
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
    }
}

fn set<T: PartialEq + Default>(slot: &mut T, value: T, name: &str) -> Result<(), UsageError> {
    if *slot != T::default() {
        return Err(usage(format!("{name} was given twice")));
    }
    *slot = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, UsageError> {
        match parse(args.iter().copied())? {
            Command::Run(o) => Ok(o),
            Command::Help => panic!("help"),
        }
    }

    #[test]
    fn flags_values_and_errors() {
        assert_eq!(run(&[]).unwrap(), Options::default());
        assert_eq!(parse(["--json", "--help"]), Ok(Command::Help));
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

        let err = |args: &[&str]| run(args).unwrap_err().0;
        assert_eq!(err(&["--bogus"]), "unknown flag --bogus");
        assert_eq!(err(&["extra"]), "unexpected argument extra");
        assert_eq!(err(&["--tenant"]), "--tenant needs a value");
        for bad in ["nowhere", "localhost", ":8080", "host:http", "a b:1"] {
            assert_eq!(
                err(&["--listen", bad]),
                "--listen needs host:port, such as 127.0.0.1:8080 or localhost:8080",
                "{bad}"
            );
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
        assert_eq!(err(&["--init"]), "--init applies to --catalog only");
        assert_eq!(err(&["--init=yes"]), "--init takes no value");
        assert_eq!(
            err(&[
                "--catalog",
                "sqlite://x.db",
                "--tenant",
                "a",
                "--secrets-dir",
                "/no/such/dir"
            ]),
            "--secrets-dir /no/such/dir: no such directory"
        );
        assert!(err(&["--public-url", "ftp://x"]).starts_with("--public-url: "));
        assert_eq!(err(&["--json", "--json"]), "--json was given twice");
        assert_eq!(err(&["--json=yes"]), "--json takes no value");
        assert_eq!(
            err(&["--catalog", "sqlite://x.db"]),
            "--catalog needs --tenant"
        );
        assert_eq!(
            err(&["--catalog", "mysql://db", "--tenant", "acme"]),
            "--catalog needs a sqlite:// or postgres:// URL"
        );
        assert_eq!(
            err(&["--secrets-dir", &std::env::temp_dir().display().to_string()]),
            "--secrets-dir applies to --catalog only"
        );
    }
}
