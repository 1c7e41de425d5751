//! `pathops-fake`: runs one fake provider server as a standalone process, so test suites in any
//! language can use it.
//!
//! ```text
//! pathops-fake <gitlab|github|gitea|bitbucket-dc|bitbucket-cloud|azure-devops|harbor|minio|vault|jenkins|argocd|circleci> [--listen ADDR] [--seed FILE.json] [--enterprise]
//! ```
//!
//! - `--listen` defaults to `127.0.0.1:0` (a free port);
//! - `--seed` is a JSON file in the fake's seed format (`GitLabSeed`, `GitHubSeed`,
//!   `GiteaSeed`, `BitbucketDcSeed`, `BitbucketCloudSeed`, `AzureDevOpsSeed`, `HarborSeed`, `MinioSeed`, `VaultSeed`, `JenkinsSeed`, `ArgoCdSeed`,
//!   `CircleCiSeed` of `pathops_testkit::fake`); without it the fake starts with its
//!   documented defaults (`start_with_defaults`);
//! - `--enterprise` (github only) serves the GitHub Enterprise Server shape under `/api/v3`.
//!
//! Once listening it prints one JSON line on stdout, `{"provider":"gitlab","url":"http://127.0.0.1:PORT","api_url":…}`,
//! then serves until interrupted (Ctrl-C or SIGTERM). Requests are logged on stderr. For
//! `jenkins`, `api_url` is the Jenkins URL including the seed's context path; for `azure-devops`, the
//! organization URL (the integration's base URL).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use pathops_testkit::fake::FakeServer;
use pathops_testkit::fake::argocd::FakeArgoCd;
use pathops_testkit::fake::azure_devops::FakeAzureDevOps;
use pathops_testkit::fake::bitbucket_cloud::FakeBitbucketCloud;
use pathops_testkit::fake::bitbucket_dc::FakeBitbucketDc;
use pathops_testkit::fake::circleci::FakeCircleCi;
use pathops_testkit::fake::gitea::FakeGitea;
use pathops_testkit::fake::github::FakeGitHub;
use pathops_testkit::fake::gitlab::FakeGitLab;
use pathops_testkit::fake::harbor::FakeHarbor;
use pathops_testkit::fake::jenkins::FakeJenkins;
use pathops_testkit::fake::minio::FakeMinio;
use pathops_testkit::fake::vault::FakeVault;

const USAGE: &str = "usage: pathops-fake <gitlab|github|gitea|bitbucket-dc|bitbucket-cloud|azure-devops|harbor|minio|vault|jenkins|argocd|circleci> [--listen ADDR] [--seed FILE.json] [--enterprise]";

#[derive(Debug)]
struct Args {
    provider: String,
    listen: SocketAddr,
    seed: Option<PathBuf>,
    enterprise: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let provider = args.next().ok_or("missing provider")?;
    if !matches!(
        provider.as_str(),
        "gitlab"
            | "github"
            | "gitea"
            | "bitbucket-dc"
            | "bitbucket-cloud"
            | "azure-devops"
            | "harbor"
            | "minio"
            | "vault"
            | "jenkins"
            | "argocd"
            | "circleci"
    ) {
        return Err(format!("unknown provider {provider}"));
    }
    let mut out = Args {
        provider,
        listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        seed: None,
        enterprise: false,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--listen" => {
                let value = args.next().ok_or("--listen needs an address")?;
                out.listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?;
            }
            "--seed" => out.seed = Some(PathBuf::from(args.next().ok_or("--seed needs a file")?)),
            "--enterprise" => out.enterprise = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(out)
}

fn seed<T: serde::de::DeserializeOwned>(path: &Option<PathBuf>) -> Result<Option<T>, String> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

enum Running {
    GitLab(FakeGitLab),
    GitHub(FakeGitHub),
    Gitea(FakeGitea),
    BitbucketDc(FakeBitbucketDc),
    BitbucketCloud(FakeBitbucketCloud),
    AzureDevOps(FakeAzureDevOps),
    Harbor(FakeHarbor),
    Minio(FakeMinio),
    Vault(FakeVault),
    Jenkins(FakeJenkins),
    ArgoCd(FakeArgoCd),
    CircleCi(FakeCircleCi),
}

impl Running {
    fn server(&self) -> &FakeServer {
        match self {
            Running::GitLab(f) => f,
            Running::GitHub(f) => f,
            Running::Gitea(f) => f,
            Running::BitbucketDc(f) => f,
            Running::BitbucketCloud(f) => f,
            Running::AzureDevOps(f) => f,
            Running::Harbor(f) => f,
            Running::Minio(f) => f,
            Running::Vault(f) => f,
            Running::Jenkins(f) => f,
            Running::ArgoCd(f) => f,
            Running::CircleCi(f) => f,
        }
    }

    fn api_url(&self) -> String {
        match self {
            Running::GitLab(f) => format!("{}/api/v4", f.url()),
            Running::GitHub(f) => f.api_url(),
            Running::Gitea(f) => f.api_url(),
            Running::BitbucketDc(f) => f.api_url(),
            Running::BitbucketCloud(f) => f.api_url(),
            Running::AzureDevOps(f) => f.organization_url(),
            Running::Harbor(f) => format!("{}/api/v2.0", f.url()),
            Running::Minio(f) => f.url(),
            Running::Vault(f) => format!("{}/v1", f.url()),
            Running::Jenkins(f) => f.base_url(),
            Running::ArgoCd(f) => format!("{}/api/v1", f.url()),
            Running::CircleCi(f) => format!("{}/api/v2", f.url()),
        }
    }
}

async fn start(args: &Args) -> Result<Running, String> {
    let io = |e: std::io::Error| format!("cannot listen on {}: {e}", args.listen);
    Ok(match args.provider.as_str() {
        "gitlab" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeGitLab::default_seed);
            Running::GitLab(FakeGitLab::start_on(args.listen, s).await.map_err(io)?)
        }
        "github" => {
            let mut b = FakeGitHub::builder().listen(args.listen);
            if let Some(s) = seed(&args.seed)? {
                b = b.seed(s);
            }
            if args.enterprise {
                b = b.enterprise();
            }
            Running::GitHub(b.start().await.map_err(io)?)
        }
        "gitea" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeGitea::default_seed);
            Running::Gitea(FakeGitea::start_on(args.listen, s).await.map_err(io)?)
        }
        "bitbucket-dc" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeBitbucketDc::default_seed);
            Running::BitbucketDc(
                FakeBitbucketDc::start_on(args.listen, s)
                    .await
                    .map_err(io)?,
            )
        }
        "bitbucket-cloud" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeBitbucketCloud::default_seed);
            Running::BitbucketCloud(
                FakeBitbucketCloud::start_on(args.listen, s)
                    .await
                    .map_err(io)?,
            )
        }
        "azure-devops" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeAzureDevOps::default_seed);
            Running::AzureDevOps(
                FakeAzureDevOps::start_on(args.listen, s)
                    .await
                    .map_err(io)?,
            )
        }
        "harbor" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeHarbor::default_seed);
            Running::Harbor(FakeHarbor::start_on(args.listen, s).await.map_err(io)?)
        }
        "jenkins" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeJenkins::default_seed);
            Running::Jenkins(FakeJenkins::start_on(args.listen, s).await.map_err(io)?)
        }
        "argocd" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeArgoCd::default_seed);
            Running::ArgoCd(FakeArgoCd::start_on(args.listen, s).await.map_err(io)?)
        }
        "circleci" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeCircleCi::default_seed);
            Running::CircleCi(FakeCircleCi::start_on(args.listen, s).await.map_err(io)?)
        }
        "minio" => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeMinio::default_seed);
            Running::Minio(FakeMinio::start_on(args.listen, s).await.map_err(io)?)
        }
        _ => {
            let s = seed(&args.seed)?.unwrap_or_else(FakeVault::default_seed);
            Running::Vault(FakeVault::start_on(args.listen, s).await.map_err(io)?)
        }
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pathops-fake: {e}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let running = match start(&args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pathops-fake: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let line = serde_json::json!({
        "provider": args.provider,
        "url": running.server().url(),
        "api_url": running.api_url(),
    });
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return std::process::ExitCode::FAILURE;
    }
    drop(stdout);
    let mut logged = 0;
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(200));
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            _ = ticker.tick() => {
                let requests = running.server().requests();
                for r in requests.iter().skip(logged) {
                    eprintln!("pathops-fake: {} {}{}", r.method, r.path, r.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default());
                }
                logged = requests.len();
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
