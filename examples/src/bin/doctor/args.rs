//! Command-line flags, parsed by hand: eight flags do not need a parser crate, and by hand the
//! exit code of a usage error (2) and the help text stay exactly as documented.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use pathops_core::{BaseUrl, TenantId};

/// What `--help` prints.
pub(crate) const HELP: &str = "\
doctor: check every integration of a PathOps catalog end to end, and print the fixes.

USAGE:
    doctor [OPTIONS]

With no options it runs the embedded demo: an in-process catalog, fake GitLab, GitHub,
Harbor and direct-ping tools and the webhook receiver, all on 127.0.0.1, and a set of
integrations of which some are broken on purpose (wrong webhook token, disabled hook,
unreachable host, missing scope, wrong robot password).

For each integration the doctor resolves its credential, tests reachability and
authentication (PathOps -> tool), then what the connector offers: the GitLab hook test
or GitHub hook ping, delivered to the receiver and verified (tool -> PathOps), or the
direct ping (both ways). It reports and suggests; it never changes anything in a tool.

OPTIONS:
    --json                Print the report as JSON (schema pathops.doctor/v1) instead of
                          the table and the fixes.
    --catalog <URL>       Check the integrations of this catalog instead of the demo:
                          sqlite://<path> or postgres://<user>@<host>/<db>. Needs --tenant.
    --tenant <ID>         The tenant whose integrations are checked (demo default: acme).
    --listen <ADDR>       Where the webhook receiver listens (default 127.0.0.1:0: a free
                          port on loopback).
    --public-url <URL>    The receiver's URL as the tools reach it (default
                          http://<listen address>). GitLab and GitHub deliver their test
                          webhooks to <URL>/webhooks/gitlab and <URL>/webhooks/github, and
                          direct-ping tools call back <URL>/webhooks/ping.
    --secrets-dir <DIR>   With --catalog: also read secrets from files under DIR.
    -h, --help            Print this help.

SECRETS (with --catalog), resolved at call time and never printed:
    ref://<scope>/<provider>/<key>  environment variable PATHOPS_SECRET_<SCOPE>_<PROVIDER>_<KEY>
                                    (upper-cased, other characters as _), else the file
                                    <DIR>/<scope>/<provider>/<key>
    authref://env/<NAME>            environment variable NAME
    authref://file/<path>           the file <DIR>/<path>

ENVIRONMENT:
    NO_COLOR    When set and not empty, the table is not coloured. It is never coloured
                when standard output is not a terminal.

OUTPUT:
    A progress line on standard error while the checks run; then on standard output the
    table (integration, provider, reachability, auth, webhook/ping, latency, status) and
    the fixes, or the JSON report with --json.

EXIT STATUS:
    0    every integration passed
    1    findings: an integration failed or has an error finding
    2    usage error: unknown flag, missing or invalid value
    3    the doctor could not run: catalog unavailable, address in use, ...
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
    pub(crate) tenant: Option<TenantId>,
    pub(crate) listen: Option<SocketAddr>,
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
                let addr = value("--listen")?
                    .parse()
                    .map_err(|_| usage("--listen needs an address such as 127.0.0.1:8080"))?;
                set(&mut options.listen, Some(addr), "--listen")?;
            }
            "--public-url" => {
                let url = BaseUrl::parse(&value("--public-url")?)
                    .map_err(|e| usage(format!("--public-url: {}", e.problem)))?;
                set(&mut options.public_url, Some(url), "--public-url")?;
            }
            "--secrets-dir" => {
                let dir = PathBuf::from(value("--secrets-dir")?);
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
    Ok(Command::Run(options))
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
        assert_eq!(o.listen.unwrap().port(), 8080);
        assert_eq!(
            o.public_url.unwrap().as_str(),
            "https://pathops.example.com"
        );

        let err = |args: &[&str]| run(args).unwrap_err().0;
        assert_eq!(err(&["--bogus"]), "unknown flag --bogus");
        assert_eq!(err(&["extra"]), "unexpected argument extra");
        assert_eq!(err(&["--tenant"]), "--tenant needs a value");
        assert_eq!(
            err(&["--listen", "nowhere"]),
            "--listen needs an address such as 127.0.0.1:8080"
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
            err(&["--secrets-dir", "/run/secrets"]),
            "--secrets-dir applies to --catalog only"
        );
    }
}
