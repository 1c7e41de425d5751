//! One plugin process: spawning it isolated, framing, routing answers to calls, deadlines,
//! cancellation, its stderr, and killing its process group.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, Command};
use tokio::sync::{Semaphore, oneshot};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use super::protocol::{self, Response, RpcError, method};

/// The longest stderr line kept, in characters.
const STDERR_LINE_CHARS: usize = 512;

/// How a process is started.
#[derive(Debug, Clone)]
pub(crate) struct SpawnSpec {
    /// The plugin's id (for logs and messages).
    pub(crate) plugin_id: String,
    /// The operator's wrapper command, then the executable.
    pub(crate) argv: Vec<String>,
    /// The working directory: the plugin's own.
    pub(crate) dir: PathBuf,
    /// The whole environment of the child.
    pub(crate) env: Vec<(String, String)>,
    /// The cap on one message, in bytes.
    pub(crate) max_message_bytes: usize,
    /// Calls served at once.
    pub(crate) max_concurrency: usize,
    /// How long past a call's deadline a `$/cancel`led call may still answer.
    pub(crate) cancel_grace: Duration,
}

/// The last lines a plugin wrote to stderr, with every secret it was given replaced.
#[derive(Debug)]
pub(crate) struct StderrTail {
    capacity: usize,
    lines: Mutex<VecDeque<String>>,
    secrets: Mutex<VecDeque<SecretString>>,
}

/// How many recent secrets the redaction remembers.
const REMEMBERED_SECRETS: usize = 64;

impl StderrTail {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            lines: Mutex::new(VecDeque::new()),
            secrets: Mutex::new(VecDeque::new()),
        }
    }

    /// Remembers `secret` so that stderr lines containing it are redacted.
    pub(crate) fn remember(&self, secret: &SecretString) {
        let mut secrets = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        if secrets
            .iter()
            .any(|s| s.expose_secret() == secret.expose_secret())
        {
            return;
        }
        if secrets.len() == REMEMBERED_SECRETS {
            secrets.pop_front();
        }
        secrets.push_back(secret.clone());
    }

    /// `line` with every remembered secret replaced by `[REDACTED]`, control characters
    /// removed and cut to [`STDERR_LINE_CHARS`].
    pub(crate) fn redact(&self, line: &str) -> String {
        let mut line = line.to_owned();
        for secret in self
            .secrets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let secret = secret.expose_secret();
            if !secret.is_empty() && line.contains(secret) {
                line = line.replace(secret, "[REDACTED]");
            }
        }
        line.chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .take(STDERR_LINE_CHARS)
            .collect()
    }

    fn push(&self, line: &str) -> String {
        let line = self.redact(line);
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line.clone());
        line
    }

    /// The lines kept, oldest first.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// `; its stderr ended with: a | b` or nothing.
    pub(crate) fn suffix(&self) -> String {
        let lines = self.lines();
        if lines.is_empty() {
            String::new()
        } else {
            let last: Vec<_> = lines.iter().rev().take(5).rev().cloned().collect();
            format!("; its stderr ended with: {}", last.join(" | "))
        }
    }
}

/// Why a process ended (or must be treated as ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Death {
    /// It exited or closed its output.
    Crashed(String),
    /// It broke the protocol; it was killed.
    Protocol(String),
    /// The host killed it (a call outlived its deadline and `$/cancel`).
    Killed(String),
    /// The host shut it down.
    Shutdown,
}

/// How a call failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallError {
    /// The plugin answered with an error.
    Rpc(RpcError),
    /// No answer before the deadline; `killed` when not even after `$/cancel`.
    Timeout { killed: bool },
    /// The process ended during the call.
    Ended(Death),
}

type Reply = Result<Value, CallError>;

/// A running plugin process.
#[derive(Debug)]
pub(crate) struct Session {
    spec: Arc<SpawnSpec>,
    pid: u32,
    next_id: AtomicU64,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    death: OnceLock<Death>,
    exited: Arc<AtomicBool>,
    exit_waiter: tokio::sync::Notify,
    permits: Semaphore,
    /// When the last call ended (or the process started).
    idle_since: Mutex<Instant>,
    pub(crate) stderr: Arc<StderrTail>,
}

impl Session {
    /// Starts the process: empty environment but `spec.env`, its own process group, the
    /// plugin's directory as working directory, killed when dropped, and on Linux killed
    /// when the host thread that started it dies.
    pub(crate) fn spawn(
        spec: Arc<SpawnSpec>,
        stderr: Arc<StderrTail>,
    ) -> std::io::Result<Arc<Self>> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: between fork and exec only async-signal-safe calls are made (prctl,
            // getppid), and nothing is allocated.
            let parent = std::process::id() as libc::pid_t;
            #[allow(unsafe_code)]
            unsafe {
                command.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The host died before prctl took effect: do not run orphaned.
                    if libc::getppid() != parent {
                        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the plugin exited at once"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let exited = Arc::new(AtomicBool::new(false));
        let session = Arc::new(Self {
            permits: Semaphore::new(spec.max_concurrency.max(1)),
            idle_since: Mutex::new(Instant::now()),
            spec: spec.clone(),
            pid,
            next_id: AtomicU64::new(1),
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Mutex::new(HashMap::new()),
            death: OnceLock::new(),
            exited: exited.clone(),
            exit_waiter: tokio::sync::Notify::new(),
            stderr: stderr.clone(),
        });
        // Reaps the child, so no zombie is left, and records an unexpected exit.
        let weak = Arc::downgrade(&session);
        tokio::spawn(async move {
            let status = child.wait().await;
            exited.store(true, Ordering::SeqCst);
            if let Some(session) = weak.upgrade() {
                let how = match status {
                    Ok(status) => format!("the plugin exited ({status})"),
                    Err(e) => format!("waiting for the plugin failed: {e}"),
                };
                session.end(Death::Crashed(how));
                session.exit_waiter.notify_waiters();
            }
        });
        let weak = Arc::downgrade(&session);
        let max = spec.max_message_bytes;
        tokio::spawn(async move {
            let mut lines = FramedRead::new(stdout, LinesCodec::new_with_max_length(max));
            loop {
                let next = lines.next().await;
                let Some(session) = weak.upgrade() else {
                    return;
                };
                match next {
                    Some(Ok(line)) => {
                        if let Err(reason) = session.route(&line) {
                            session.end(Death::Protocol(reason));
                            return;
                        }
                    }
                    Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                        session.end(Death::Protocol(format!(
                            "the plugin wrote a message over {max} bytes"
                        )));
                        return;
                    }
                    Some(Err(LinesCodecError::Io(e))) => {
                        session.end(Death::Crashed(format!("reading its output failed: {e}")));
                        return;
                    }
                    None => {
                        // Usually the process is exiting: give its exit status a moment to
                        // arrive, since it says more than "closed its output".
                        let exit = session.exit_waiter.notified();
                        if !session.exited.load(Ordering::SeqCst) {
                            let _ = tokio::time::timeout(Duration::from_millis(200), exit).await;
                        }
                        session.end(Death::Crashed("the plugin closed its output".into()));
                        return;
                    }
                }
            }
        });
        let plugin_id = spec.plugin_id.clone();
        let tail = stderr;
        tokio::spawn(async move {
            // Lossy: a plugin's stderr is for people; an overlong line is cut, not fatal.
            let mut lines =
                FramedRead::new(stderr_pipe, LinesCodec::new_with_max_length(64 * 1024));
            while let Some(line) = lines.next().await {
                match line {
                    Ok(line) => {
                        let kept = tail.push(&line);
                        tracing::debug!(plugin = %plugin_id, line = %kept, "plugin stderr");
                    }
                    Err(LinesCodecError::MaxLineLengthExceeded) => {
                        tail.push("[an overlong stderr line was dropped]");
                    }
                    Err(LinesCodecError::Io(_)) => return,
                }
            }
        });
        Ok(session)
    }

    /// How long it has served no call (`None` while one runs).
    pub(crate) fn idle_for(&self) -> Option<Duration> {
        if self.permits.available_permits() < self.spec.max_concurrency.max(1) {
            return None;
        }
        Some(
            self.idle_since
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed(),
        )
    }

    /// The process id (and process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Why the process ended, once it has.
    pub(crate) fn death(&self) -> Option<&Death> {
        self.death.get()
    }

    /// Routes one line from stdout to the call waiting for it. `Err` is a protocol error.
    fn route(&self, line: &str) -> Result<(), String> {
        let response: Response = serde_json::from_str(line).map_err(|e| {
            let shown: String = line.chars().take(80).collect();
            format!(
                "the plugin wrote a line that is not a JSON-RPC response ({e}): {:?}",
                self.stderr.redact(&shown)
            )
        })?;
        if response.jsonrpc != "2.0" {
            return Err(format!("jsonrpc is {:?}, not \"2.0\"", response.jsonrpc));
        }
        let reply = match (response.result, response.error) {
            (Some(result), None) => Ok(result),
            (None, Some(error)) => Err(CallError::Rpc(error)),
            (None, None) => Ok(Value::Null),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "the answer to {} has both a result and an error",
                    response.id
                ));
            }
        };
        let waiting = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&response.id);
        match waiting {
            Some(tx) => {
                let _ = tx.send(reply);
                Ok(())
            }
            // Answered after the host gave up on it (cancelled, timed out): harmless.
            None if response.id < self.next_id.load(Ordering::SeqCst) => Ok(()),
            None => Err(format!(
                "the plugin answered request {}, which the host never sent",
                response.id
            )),
        }
    }

    /// Marks the process ended (the first reason wins), kills its process group unless it
    /// exited by itself, and fails every waiting call.
    pub(crate) fn end(&self, death: Death) {
        let _ = self.death.set(death);
        // A process that closed its output but still runs is killed too.
        self.kill_group();
        let waiting: Vec<_> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        let death = self.death.get().cloned().unwrap_or(Death::Shutdown);
        for (_, tx) in waiting {
            let _ = tx.send(Err(CallError::Ended(death.clone())));
        }
    }

    fn kill_group(&self) {
        if self.exited.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: kill(2) with a negative pid signals the process group the child leads; it
        // has not been reaped (`exited` is false), so the id is not reused.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-(self.pid as libc::pid_t), libc::SIGKILL);
        }
    }

    /// One call: waits for a slot, sends the request (with `secret` remembered for
    /// redaction), and waits for the answer until `deadline`. Past it, sends `$/cancel` and
    /// waits [`SpawnSpec::cancel_grace`] more; then kills the process group.
    pub(crate) async fn call(
        self: &Arc<Self>,
        method: &str,
        params: Value,
        secret: Option<&SecretString>,
        deadline: Instant,
    ) -> Reply {
        let deadline = tokio::time::Instant::from_std(deadline);
        let _permit = match tokio::time::timeout_at(deadline, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(CallError::Ended(Death::Shutdown)),
            Err(_) => return Err(CallError::Timeout { killed: false }),
        };
        if let Some(death) = self.death() {
            return Err(CallError::Ended(death.clone()));
        }
        if let Some(secret) = secret {
            self.stderr.remember(secret);
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, mut rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        let guard = CancelOnDrop {
            session: self.clone(),
            id,
            armed: true,
        };
        if let Err(e) = self
            .write(&protocol::request_line(Some(id), method, params))
            .await
        {
            self.end(Death::Crashed(format!("writing to the plugin failed: {e}")));
        }
        let outcome = tokio::time::timeout_at(deadline, &mut rx).await;
        *self
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        let mut guard = guard;
        match outcome {
            Ok(Ok(reply)) => {
                guard.armed = false;
                reply
            }
            Ok(Err(_)) => {
                guard.armed = false;
                Err(CallError::Ended(
                    self.death().cloned().unwrap_or(Death::Shutdown),
                ))
            }
            Err(_) => {
                let _ = self
                    .write(&protocol::request_line(
                        None,
                        method::CANCEL,
                        serde_json::json!({"id": id}),
                    ))
                    .await;
                let answered = tokio::time::timeout(self.spec.cancel_grace, &mut rx).await;
                guard.armed = false;
                match answered {
                    Ok(Ok(_)) => Err(CallError::Timeout { killed: false }),
                    _ => {
                        self.pending
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&id);
                        self.end(Death::Killed(format!(
                            "{method} did not answer by its deadline, nor within {} ms of $/cancel",
                            self.spec.cancel_grace.as_millis()
                        )));
                        Err(CallError::Timeout { killed: true })
                    }
                }
            }
        }
    }

    async fn write(&self, line: &str) -> std::io::Result<()> {
        let mut stdin = self.stdin.lock().await;
        let Some(pipe) = stdin.as_mut() else {
            return Err(std::io::Error::other("stdin is closed"));
        };
        pipe.write_all(line.as_bytes()).await?;
        pipe.flush().await
    }

    /// Ends the process politely: `shutdown`, then stdin closed, then SIGTERM, then SIGKILL,
    /// each after a short wait.
    pub(crate) async fn shutdown(self: &Arc<Self>) {
        if self.death().is_none() {
            let deadline = Instant::now() + Duration::from_millis(500);
            let _ = self
                .call(method::SHUTDOWN, serde_json::json!({}), None, deadline)
                .await;
        }
        *self.stdin.lock().await = None;
        for signal in [None, Some(libc::SIGTERM), Some(libc::SIGKILL)] {
            if self.exited.load(Ordering::SeqCst) {
                break;
            }
            if let Some(signal) = signal {
                // SAFETY: signals the child's process group, which it leads (not yet reaped).
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(-(self.pid as libc::pid_t), signal);
                }
            }
            let notified = self.exit_waiter.notified();
            if self.exited.load(Ordering::SeqCst) {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
        let _ = self.death.set(Death::Shutdown);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Sends `$/cancel` for a call whose caller stopped waiting (its future was dropped).
struct CancelOnDrop {
    session: Arc<Session>,
    id: u64,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.session
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let session = self.session.clone();
            let id = self.id;
            handle.spawn(async move {
                let line =
                    protocol::request_line(None, method::CANCEL, serde_json::json!({"id": id}));
                let _ = session.write(&line).await;
            });
        }
    }
}
