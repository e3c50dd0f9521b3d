//! Charts and values files straight from a git repository (url + ref + path). Each URL has
//! one bare mirror in the cache (`<cache>/git/<url>`); a ref is fetched shallowly (depth 1)
//! into it on every use, so a new commit on a branch is seen at once, and the mirror is the
//! fallback when the remote cannot be reached. Charts are read from the resolved commit's
//! tree, extracted once per commit and then read by the local source. Fetching uses gix
//! (pure Rust: git://, http(s) with a token, file:// and ssh through `git upload-pack`/ssh).
//! Never prompts, never logs or shows a credential.

use super::{local::LocalSource, ChartSource, FetchedChart, Progress, SourceError, SourceIndex};
use crate::config::{RepoType, Repository};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A chart repository of type git.
pub struct GitSource {
    mirror: Mirror,
    git_ref: String,
    /// Folder inside the repository that holds chart folders (or is a chart); "" = root.
    path: String,
    fresh_for: Duration,
}

/// The cached bare mirror of one remote URL, and how to reach that remote.
#[derive(Clone)]
pub struct Mirror {
    repo: String,
    /// The URL as configured (may hold credentials in its userinfo: never shown).
    url: String,
    auth: Option<(String, String)>,
    dir: PathBuf,
}

/// A ref resolved to a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub git_ref: String,
    /// Full commit id.
    pub commit: String,
    /// Nothing new came over the network (the mirror already had it, or was used offline).
    pub from_cache: bool,
    /// E.g. "git repository `platform` is unreachable (…): using the cached copy …".
    pub warnings: Vec<String>,
}

/// A file read from a repository at a resolved commit.
#[derive(Debug, Clone)]
pub struct GitBlob {
    pub repository: String,
    pub git_ref: String,
    pub commit: String,
    pub path: String,
    pub text: String,
    pub warnings: Vec<String>,
}

/// When each ref was last fetched, for the age in offline warnings.
#[derive(Debug, Default, Serialize, Deserialize)]
struct FetchLog {
    refs: BTreeMap<String, FetchEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FetchEntry {
    commit: String,
    fetched_at: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A full commit id: such a ref never moves, so a mirror holding it needs no fetch.
pub fn is_commit_id(r: &str) -> bool {
    r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// The URL without credentials in it, for messages and cache folder names.
pub fn display_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(80);
    out
}

/// One lock per mirror folder, so that tasks of one process never fetch into it at once.
fn mirror_lock(dir: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(dir.to_path_buf()).or_default().clone()
}

type ResolvedMemo = HashMap<(PathBuf, String), (String, Instant)>;

/// Refs this process fetched, and when (see `Mirror::resolve_blocking`'s `fresh_for`).
fn resolved_memo() -> &'static Mutex<ResolvedMemo> {
    static MEMO: OnceLock<Mutex<ResolvedMemo>> = OnceLock::new();
    MEMO.get_or_init(Default::default)
}

fn recently_resolved(dir: &Path, git_ref: &str, fresh_for: Duration) -> Option<String> {
    if fresh_for.is_zero() {
        return None;
    }
    let memo = resolved_memo().lock().unwrap_or_else(|e| e.into_inner());
    memo.get(&(dir.to_path_buf(), git_ref.to_string()))
        .filter(|(_, at)| at.elapsed() < fresh_for)
        .map(|(c, _)| c.clone())
}

fn remember_resolved(dir: &Path, git_ref: &str, commit: &str) {
    let mut memo = resolved_memo().lock().unwrap_or_else(|e| e.into_inner());
    memo.insert(
        (dir.to_path_buf(), git_ref.to_string()),
        (commit.to_string(), Instant::now()),
    );
}

/// How long a ref fetched by this process is reused without asking the server again.
/// Short, so that a push shows up in the console within seconds; a new process always asks.
pub const DEFAULT_FRESH_FOR: Duration = Duration::from_secs(5);

/// gix's http client is reqwest with rustls and no bundled crypto: give it ring, which the
/// rest of helmdeck already uses.
fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// What went wrong talking to the remote, decided from gix's error chain.
enum FetchFailure {
    Unreachable(String),
    Auth,
    RefNotFound,
    Other(String),
}

impl Mirror {
    pub fn new(repo: &Repository, cache_root: &Path) -> Result<Mirror, SourceError> {
        let url = repo.url.clone().unwrap_or_default();
        let env = |var: &String| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SourceError::MissingCredential {
                    repo: repo.name.clone(),
                    var: var.clone(),
                })
        };
        let auth = match &repo.auth {
            Some(a) => match (&a.token_env, &a.username_env, &a.password_env) {
                (Some(t), user, _) => Some((
                    match user {
                        Some(u) => env(u)?,
                        None => "x-access-token".to_string(),
                    },
                    env(t)?,
                )),
                (None, Some(u), Some(p)) => Some((env(u)?, env(p)?)),
                (None, Some(u), None) => Some((env(u)?, String::new())),
                _ => None,
            },
            None => None,
        };
        let shown = display_url(&url);
        let key = hex::encode(&Sha256::digest(shown.as_bytes())[..4]);
        let stem = shown
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(&shown);
        Ok(Mirror {
            repo: repo.name.clone(),
            dir: cache_root
                .join("git")
                .join(format!("{}-{key}", sanitize(stem))),
            url,
            auth,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn shown_url(&self) -> String {
        display_url(&self.url)
    }

    /// Removes anything credential-like from a message of git's.
    fn scrub(&self, msg: &str) -> String {
        let mut m = msg.replace(&self.url, &self.shown_url());
        if let Some((_, secret)) = &self.auth {
            if !secret.is_empty() {
                m = m.replace(secret.as_str(), "********");
            }
        }
        m
    }

    fn io_err(&self, path: &Path, e: impl std::fmt::Display) -> SourceError {
        SourceError::Io {
            path: path.display().to_string(),
            message: self.scrub(&e.to_string()),
        }
    }

    fn open_repo(&self) -> Result<gix::Repository, SourceError> {
        let mut repo = if self.dir.join("HEAD").is_file() {
            gix::open_opts(&self.dir, gix::open::Options::isolated())
                .map_err(|e| self.io_err(&self.dir, e))?
        } else {
            std::fs::create_dir_all(&self.dir).map_err(|e| self.io_err(&self.dir, e))?;
            gix::init_bare(&self.dir).map_err(|e| self.io_err(&self.dir, e))?;
            gix::open_opts(&self.dir, gix::open::Options::isolated())
                .map_err(|e| self.io_err(&self.dir, e))?
        };
        // Ref updates write a reflog line; a mirror has no user identity of its own.
        let _ = repo.committer_or_set_generic_fallback();
        Ok(repo)
    }

    /// Where the mirror keeps what `git_ref` resolved to; the hash keeps `a/b` and `a_b`
    /// apart.
    fn local_ref(git_ref: &str) -> String {
        let h = hex::encode(&Sha256::digest(git_ref.as_bytes())[..4]);
        format!("refs/helmdeck/{}-{h}", sanitize(git_ref))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("helmdeck-fetch.json")
    }

    fn read_log(&self) -> FetchLog {
        std::fs::read(self.log_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn note_fetch(&self, git_ref: &str, commit: &str) {
        let mut log = self.read_log();
        log.refs.insert(
            git_ref.to_string(),
            FetchEntry {
                commit: commit.to_string(),
                fetched_at: now(),
            },
        );
        if let Ok(bytes) = serde_json::to_vec_pretty(&log) {
            let _ = super::fetch::write_atomic(&self.log_path(), &bytes);
        }
    }

    /// The commit the mirror holds for `git_ref` (from an earlier fetch).
    fn cached_commit(&self, repo: &gix::Repository, git_ref: &str) -> Option<String> {
        let mut r = repo
            .try_find_reference(Self::local_ref(git_ref).as_str())
            .ok()??;
        let c = r.peel_to_commit().ok()?;
        Some(c.id.to_string())
    }

    /// Resolves `git_ref` to a commit: fetched (depth 1) from the remote, or — only when
    /// the remote cannot be reached — the mirror's copy, with a warning naming its age.
    /// A full commit id the mirror already holds needs no network at all.
    ///
    /// `fresh_for`: a ref this process resolved less than that long ago is taken as is
    /// (no round trip), so that one render reading a chart and values files from the same
    /// repository asks the server once, and the console can re-render without waiting on
    /// the network. Zero always asks the server.
    pub fn resolve_blocking(
        &self,
        git_ref: &str,
        fresh_for: Duration,
        bytes: &gix::progress::StepShared,
    ) -> Result<Resolved, SourceError> {
        let lock = mirror_lock(&self.dir);
        let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(commit) = recently_resolved(&self.dir, git_ref, fresh_for) {
            return Ok(Resolved {
                git_ref: git_ref.to_string(),
                commit,
                from_cache: true,
                warnings: Vec::new(),
            });
        }
        let repo = self.open_repo()?;
        if is_commit_id(git_ref) {
            if let Ok(id) = gix::ObjectId::from_hex(git_ref.as_bytes()) {
                if repo.find_commit(id).is_ok() {
                    return Ok(Resolved {
                        git_ref: git_ref.to_string(),
                        commit: git_ref.to_ascii_lowercase(),
                        from_cache: true,
                        warnings: Vec::new(),
                    });
                }
            }
        }
        match self.fetch(&repo, git_ref, bytes) {
            Ok(received) => {
                let commit =
                    self.cached_commit(&repo, git_ref)
                        .ok_or_else(|| SourceError::RefNotFound {
                            repo: self.repo.clone(),
                            url: self.shown_url(),
                            git_ref: git_ref.to_string(),
                        })?;
                self.note_fetch(git_ref, &commit);
                remember_resolved(&self.dir, git_ref, &commit);
                Ok(Resolved {
                    git_ref: git_ref.to_string(),
                    commit,
                    from_cache: !received,
                    warnings: Vec::new(),
                })
            }
            Err(FetchFailure::Unreachable(message)) => {
                let err = SourceError::Unreachable {
                    repo: self.repo.clone(),
                    url: self.shown_url(),
                    message: message.clone(),
                };
                let Some(commit) = self.cached_commit(&repo, git_ref) else {
                    return Err(err);
                };
                let age = self
                    .read_log()
                    .refs
                    .get(git_ref)
                    .map(|e| super::http::age(now().saturating_sub(e.fetched_at)))
                    .unwrap_or_else(|| "an earlier run".into());
                tracing::warn!(repo = %self.repo, "git remote unreachable, using the mirror");
                Ok(Resolved {
                    git_ref: git_ref.to_string(),
                    warnings: vec![format!(
                        "git repository `{}` is unreachable ({}): using the cached copy of `{git_ref}` ({}) fetched {age}",
                        self.repo,
                        last_reason(&message),
                        short(&commit),
                    )],
                    commit,
                    from_cache: true,
                })
            }
            Err(FetchFailure::Auth) => Err(SourceError::GitAuthRefused {
                repo: self.repo.clone(),
                url: self.shown_url(),
            }),
            Err(FetchFailure::RefNotFound) => Err(SourceError::RefNotFound {
                repo: self.repo.clone(),
                url: self.shown_url(),
                git_ref: git_ref.to_string(),
            }),
            Err(FetchFailure::Other(message)) => Err(SourceError::GitFailed {
                repo: self.repo.clone(),
                url: self.shown_url(),
                message,
            }),
        }
    }

    /// Fetches `git_ref` (depth 1) into `refs/helmdeck/<ref>`; true when a pack came in.
    fn fetch(
        &self,
        repo: &gix::Repository,
        git_ref: &str,
        bytes: &gix::progress::StepShared,
    ) -> Result<bool, FetchFailure> {
        install_crypto_provider();
        if self.auth.is_some() && self.url.starts_with("http://") && !is_loopback(&self.url) {
            return Err(FetchFailure::Other(
                "will not send credentials in clear text over http: use an https URL".into(),
            ));
        }
        let spec = format!("+{git_ref}:{}", Self::local_ref(git_ref));
        let remote = repo
            .remote_at(self.url.as_str())
            .map_err(|e| FetchFailure::Other(self.scrub(&chain(&e))))?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs(Some(spec.as_str()), gix::remote::Direction::Fetch)
            .map_err(|_| FetchFailure::RefNotFound)?;
        if self.url.starts_with("git://") {
            let transport = self.git_daemon_transport()?;
            let connection = remote.to_connection_with_transport(transport);
            self.receive(repo, git_ref, connection, bytes)
        } else {
            let connection = remote
                .connect(gix::remote::Direction::Fetch)
                .map_err(|e| self.classify(&e))?;
            self.receive(repo, git_ref, connection, bytes)
        }
    }

    /// A git:// connection with Nagle's algorithm off: gix writes each packet line in
    /// pieces, and on a socket with Nagle on, every request then waits out the peer's
    /// delayed ACK (40 ms a round on Linux); measured, this was most of a cold pull.
    fn git_daemon_transport(
        &self,
    ) -> Result<
        gix_transport::client::git::blocking_io::Connection<
            std::net::TcpStream,
            std::net::TcpStream,
        >,
        FetchFailure,
    > {
        use std::net::ToSocketAddrs;
        let url = gix::url::parse(gix::bstr::BStr::new(self.url.as_bytes()))
            .map_err(|e| FetchFailure::Other(self.scrub(&e.to_string())))?;
        let host = url.host().unwrap_or("localhost").to_string();
        let port = url.port;
        let unreachable = |e: std::io::Error| {
            FetchFailure::Unreachable(format!("could not connect to {host}: {e}"))
        };
        let addr = (host.as_str(), port.unwrap_or(9418))
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| FetchFailure::Unreachable(format!("could not resolve {host}")))?;
        let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(unreachable)?;
        let _ = stream.set_nodelay(true);
        let write = stream.try_clone().map_err(unreachable)?;
        Ok(gix_transport::client::git::blocking_io::Connection::new(
            stream,
            write,
            gix_transport::Protocol::V2,
            url.path.clone(),
            Some((host.clone(), port)),
            gix_transport::client::git::ConnectMode::Daemon,
            false,
        ))
    }

    /// Lists the ref, and receives a depth-1 pack of it unless the mirror is up to date.
    fn receive<T: gix_transport::client::blocking_io::Transport>(
        &self,
        repo: &gix::Repository,
        git_ref: &str,
        connection: gix::remote::Connection<'_, '_, '_, T>,
        bytes: &gix::progress::StepShared,
    ) -> Result<bool, FetchFailure> {
        let auth = self.auth.clone();
        let connection = connection.with_credentials(move |action| match action {
            gix::credentials::helper::Action::Get(ctx) => {
                Ok(auth
                    .clone()
                    .map(|(u, p)| gix::credentials::protocol::Outcome {
                        identity: gix::sec::identity::Account {
                            username: u,
                            password: p,
                            oauth_refresh_token: None,
                        },
                        next: ctx.into(),
                    }))
            }
            _ => Ok(None),
        });
        let progress = PackProgress::new(bytes.clone());
        let prepare = connection
            .prepare_fetch(progress.clone(), Default::default())
            .map_err(|e| self.classify(&e))?;
        let Some(wanted) = prepare
            .ref_map()
            .mappings
            .first()
            .and_then(|m| m.remote.as_id())
            .map(|id| id.to_owned())
        else {
            return Err(FetchFailure::RefNotFound);
        };
        // Up to date: the ref already points at what the remote has (the common case of a
        // refresh). Skip the pack negotiation, which a shallow fetch would otherwise redo.
        let local = repo
            .try_find_reference(Self::local_ref(git_ref).as_str())
            .ok()
            .flatten()
            .and_then(|r| r.target().try_id().map(|id| id.to_owned()));
        if local == Some(wanted) && repo.has_object(wanted) {
            return Ok(false);
        }
        let outcome = prepare
            .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
                std::num::NonZeroU32::MIN,
            ))
            .receive(progress, &AtomicBool::new(false))
            .map_err(|e| self.classify(&e))?;
        Ok(matches!(
            outcome.status,
            gix::remote::fetch::Status::Change { .. }
        ))
    }

    fn classify(&self, e: &gix::Error) -> FetchFailure {
        let text = self.scrub(&chain(e));
        tracing::debug!(repo = %self.repo, error = %text, "git fetch failed");
        let lower = text.to_ascii_lowercase();
        let io_unreachable = e.iter_errors().any(|err| {
            err.downcast_ref::<std::io::Error>().is_some_and(|io| {
                use std::io::ErrorKind as K;
                matches!(
                    io.kind(),
                    K::ConnectionRefused
                        | K::ConnectionReset
                        | K::ConnectionAborted
                        | K::NotConnected
                        | K::TimedOut
                        | K::HostUnreachable
                        | K::NetworkUnreachable
                        | K::AddrNotAvailable
                )
            })
        });
        if lower.contains("401")
            || lower.contains("403")
            || lower.contains("authentication")
            || lower.contains("credentials")
            || lower.contains("permission denied (publickey")
        {
            FetchFailure::Auth
        } else if lower.contains("not our ref")
            || lower.contains("unknown object")
            || lower.contains("couldn't find remote ref")
            || lower.contains("upload-pack: not our ref")
        {
            FetchFailure::RefNotFound
        } else if io_unreachable
            || lower.contains("connection refused")
            || lower.contains("could not resolve")
            || lower.contains("failed to lookup address")
            || lower.contains("dns error")
            || lower.contains("timed out")
            || lower.contains("error sending request")
            || lower.contains("could not read from remote")
            || lower.contains("does not appear to be a git repository") && lower.contains("ssh")
        {
            FetchFailure::Unreachable(text)
        } else {
            FetchFailure::Other(text)
        }
    }

    fn commit_tree<'r>(
        &self,
        repo: &'r gix::Repository,
        commit: &str,
    ) -> Result<gix::Tree<'r>, SourceError> {
        let id =
            gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| SourceError::GitFailed {
                repo: self.repo.clone(),
                url: self.shown_url(),
                message: format!("bad commit id {commit}: {e}"),
            })?;
        repo.find_commit(id)
            .and_then(|c| c.tree())
            .map_err(|e| self.io_err(&self.dir, format!("commit {commit}: {}", chain(&e))))
    }

    /// The bytes of `path` at `commit`.
    pub fn read_file_blocking(&self, commit: &str, path: &str) -> Result<Vec<u8>, SourceError> {
        let path = &tree_path(path);
        let repo = self.open_repo()?;
        let tree = self.commit_tree(&repo, commit)?;
        let missing = || SourceError::GitPathMissing {
            repo: self.repo.clone(),
            commit: short(commit).to_string(),
            path: path.to_string(),
            what: "file".into(),
        };
        let entry = tree
            .lookup_entry_by_path(path)
            .map_err(|e| self.io_err(&self.dir, chain(&e)))?
            .ok_or_else(missing)?;
        if !entry.mode().is_blob() {
            return Err(missing());
        }
        let obj = entry
            .object()
            .map_err(|e| self.io_err(&self.dir, chain(&e)))?;
        Ok(obj.detach().data)
    }

    /// The folder `path` of `commit`'s tree on disk, extracted once per commit. A folder
    /// that is itself a chart lands as `<dest>/<its name>` so that the local source, which
    /// reads chart folders under a root, reads it like any other.
    pub fn extract_blocking(&self, commit: &str, path: &str) -> Result<PathBuf, SourceError> {
        let path = tree_path(path);
        let path = path.as_str();
        let key = hex::encode(&Sha256::digest(path.as_bytes())[..4]);
        let dest = self.dir.join("trees").join(format!("{commit}-{key}"));
        let marker = dest.join(".helmdeck-digest");
        if let Ok(recorded) = std::fs::read_to_string(&marker) {
            // Verify the extracted copy before trusting it; a damaged one is redone.
            if super::chart::digest(&dest).ok().as_deref() == Some(recorded.trim()) {
                // Mark it used (the age `prune_trees` goes by).
                let _ = std::fs::File::open(&dest).and_then(|f| f.set_modified(SystemTime::now()));
                return Ok(dest);
            }
            tracing::warn!(dir = %dest.display(), "extracted git tree changed on disk, extracting again");
        }
        let repo = self.open_repo()?;
        let root = self.commit_tree(&repo, commit)?;
        let missing = || SourceError::GitPathMissing {
            repo: self.repo.clone(),
            commit: short(commit).to_string(),
            path: path.to_string(),
            what: "folder".into(),
        };
        let tree = if path.is_empty() {
            root
        } else {
            let entry = root
                .lookup_entry_by_path(path)
                .map_err(|e| self.io_err(&self.dir, chain(&e)))?
                .ok_or_else(missing)?;
            if !entry.mode().is_tree() {
                return Err(missing());
            }
            entry
                .object()
                .map_err(|e| self.io_err(&self.dir, chain(&e)))?
                .into_tree()
        };
        let is_chart = tree.find_entry("Chart.yaml").is_some();
        let tmp = self
            .dir
            .join("trees")
            .join(format!(".tmp-{commit}-{key}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let target = if is_chart {
            let name = path.rsplit('/').next().filter(|n| !n.is_empty());
            tmp.join(sanitize(name.unwrap_or(&self.repo)))
        } else {
            tmp.clone()
        };
        std::fs::create_dir_all(&target).map_err(|e| self.io_err(&target, e))?;
        self.write_tree(&repo, &tree, &target)?;
        let digest = super::chart::digest(&tmp)?;
        std::fs::write(tmp.join(".helmdeck-digest"), &digest).map_err(|e| self.io_err(&tmp, e))?;
        let _ = std::fs::remove_dir_all(&dest);
        self.prune_trees();
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            // Another process extracted the same commit meanwhile: use theirs.
            let _ = std::fs::remove_dir_all(&tmp);
            if !marker.is_file() {
                return Err(self.io_err(&dest, e));
            }
        }
        Ok(dest)
    }

    /// Extracted trees of commits nobody used for a week go (each extraction would
    /// otherwise stay in the cache forever); the mirror itself keeps the objects.
    fn prune_trees(&self) {
        const UNUSED_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
        let Ok(entries) = std::fs::read_dir(self.dir.join("trees")) else {
            return;
        };
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > UNUSED_FOR);
            if old {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    fn write_tree(
        &self,
        repo: &gix::Repository,
        tree: &gix::Tree<'_>,
        dir: &Path,
    ) -> Result<(), SourceError> {
        let decoded = tree.decode().map_err(|e| self.io_err(dir, chain(&e)))?;
        let entries: Vec<(String, gix::objs::tree::EntryMode, gix::ObjectId)> = decoded
            .entries
            .iter()
            .map(|e| (e.filename.to_string(), e.mode, e.oid.to_owned()))
            .collect();
        for (name, mode, oid) in entries {
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
                continue;
            }
            let p = dir.join(&name);
            if mode.is_tree() {
                std::fs::create_dir_all(&p).map_err(|e| self.io_err(&p, e))?;
                let sub = repo
                    .find_tree(oid)
                    .map_err(|e| self.io_err(&p, chain(&e)))?;
                self.write_tree(repo, &sub, &p)?;
            } else if mode.is_blob() {
                let blob = repo
                    .find_blob(oid)
                    .map_err(|e| self.io_err(&p, chain(&e)))?;
                std::fs::write(&p, &blob.data).map_err(|e| self.io_err(&p, e))?;
            }
            // Symlinks and submodules have no place in a chart: skipped, as `helm package`
            // would not follow them out of the repository either.
        }
        Ok(())
    }
}

/// A path inside a repository in the form gix looks up: `.` and `./` mean the root, and
/// `./charts/`, `charts//web` and `charts/./web` mean `charts` and `charts/web` (what users
/// write for a folder, as git itself reads it).
pub fn tree_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// http://127.0.0.1…, http://localhost…, http://[::1]…
pub(crate) fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The last part of an error chain ("connection refused").
fn last_reason(message: &str) -> String {
    message
        .rsplit(": ")
        .next()
        .unwrap_or(message)
        .trim()
        .to_string()
}

/// Every message of an error chain, joined with ": ".
fn chain(e: &gix::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for err in e.iter_errors() {
        let s = err.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Counts the pack bytes gix reads (its "read pack" task), so that the async side can report
/// progress while the fetch runs on a blocking thread.
#[derive(Clone)]
struct PackProgress {
    read_bytes: gix::progress::StepShared,
    own: gix::progress::StepShared,
    id: gix::progress::Id,
}

/// gix-pack's id of the task that reads the pack from the remote.
const READ_PACK_BYTES: gix::progress::Id = *b"BWRB";

impl PackProgress {
    fn new(read_bytes: gix::progress::StepShared) -> Self {
        PackProgress {
            own: Arc::new(AtomicUsize::new(0)),
            read_bytes,
            id: [0; 4],
        }
    }
}

impl gix::Count for PackProgress {
    fn set(&self, step: gix::progress::Step) {
        self.own.store(step, Ordering::Relaxed)
    }
    fn step(&self) -> gix::progress::Step {
        self.own.load(Ordering::Relaxed)
    }
    fn inc_by(&self, step: gix::progress::Step) {
        self.own.fetch_add(step, Ordering::Relaxed);
    }
    fn counter(&self) -> gix::progress::StepShared {
        self.own.clone()
    }
}

impl gix::Progress for PackProgress {
    fn init(&mut self, _max: Option<gix::progress::Step>, _unit: Option<gix::progress::Unit>) {}
    fn set_name(&mut self, _name: String) {}
    fn name(&self) -> Option<String> {
        None
    }
    fn id(&self) -> gix::progress::Id {
        self.id
    }
    fn message(&self, _level: gix::progress::MessageLevel, _message: String) {}
}

impl gix::NestedProgress for PackProgress {
    type SubProgress = PackProgress;
    fn add_child(&mut self, name: impl Into<String>) -> Self::SubProgress {
        self.add_child_with_id(name, [0; 4])
    }
    fn add_child_with_id(
        &mut self,
        _name: impl Into<String>,
        id: gix::progress::Id,
    ) -> Self::SubProgress {
        PackProgress {
            own: if id == READ_PACK_BYTES {
                self.read_bytes.clone()
            } else {
                Arc::new(AtomicUsize::new(0))
            },
            read_bytes: self.read_bytes.clone(),
            id,
        }
    }
}

/// Runs blocking git work off the async executor, reporting bytes received to `progress`
/// while it runs (the console's tasks stay responsive; the TUI thread never waits).
async fn off_thread<T: Send + 'static>(
    progress: Progress<'_>,
    work: impl FnOnce(&gix::progress::StepShared) -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    let bytes: gix::progress::StepShared = Arc::new(AtomicUsize::new(0));
    let b = bytes.clone();
    let mut task = tokio::task::spawn_blocking(move || work(&b));
    progress(0, None);
    loop {
        tokio::select! {
            r = &mut task => {
                progress(bytes.load(Ordering::Relaxed) as u64, None);
                return r.map_err(|e| SourceError::Io {
                    path: "git".into(),
                    message: format!("git task failed: {e}"),
                })?;
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                progress(bytes.load(Ordering::Relaxed) as u64, None);
            }
        }
    }
}

impl GitSource {
    pub fn new(repo: &Repository, cache_root: &Path) -> Result<GitSource, SourceError> {
        Ok(GitSource {
            mirror: Mirror::new(repo, cache_root)?,
            git_ref: repo.git_ref.clone().unwrap_or_else(|| "HEAD".into()),
            path: repo.path.clone().unwrap_or_default(),
            fresh_for: DEFAULT_FRESH_FOR,
        })
    }

    /// How long a ref this process already fetched is reused without a round trip
    /// (zero: ask the server on every use).
    pub fn with_fresh_for(mut self, fresh_for: Duration) -> Self {
        self.fresh_for = fresh_for;
        self
    }

    pub fn mirror(&self) -> &Mirror {
        &self.mirror
    }

    /// Fetches the configured ref now (the console calls this in a task to refresh the
    /// source in the background); reports bytes received through `progress`.
    pub async fn refresh(&self, progress: Progress<'_>) -> Result<Resolved, SourceError> {
        let m = self.mirror.clone();
        let r = self.git_ref.clone();
        off_thread(progress, move |bytes| {
            m.resolve_blocking(&r, Duration::ZERO, bytes)
        })
        .await
    }

    /// The charts of the resolved commit, read by the local source from the extracted tree.
    async fn snapshot(
        &self,
        progress: Progress<'_>,
    ) -> Result<(Resolved, LocalSource), SourceError> {
        let m = self.mirror.clone();
        let r = self.git_ref.clone();
        let p = self.path.clone();
        let fresh_for = self.fresh_for;
        let (resolved, dir) = off_thread(progress, move |bytes| {
            let resolved = m.resolve_blocking(&r, fresh_for, bytes)?;
            let dir = m.extract_blocking(&resolved.commit, &p)?;
            Ok((resolved, dir))
        })
        .await?;
        Ok((resolved, LocalSource::new(&self.mirror.repo, dir)))
    }
}

impl ChartSource for GitSource {
    fn name(&self) -> &str {
        &self.mirror.repo
    }

    fn kind(&self) -> RepoType {
        RepoType::Git
    }

    fn location(&self) -> String {
        let mut s = format!("{}@{}", self.mirror.shown_url(), self.git_ref);
        let path = tree_path(&self.path);
        if !path.is_empty() {
            s.push(':');
            s.push_str(&path);
        }
        s
    }

    fn index(&self) -> BoxFuture<'_, Result<SourceIndex, SourceError>> {
        Box::pin(async move {
            let (resolved, local) = self.snapshot(super::no_progress()).await?;
            let mut index = local.index().await?;
            index.warnings.extend(resolved.warnings);
            Ok(index)
        })
    }

    fn fetch<'a>(
        &'a self,
        chart: &'a str,
        constraint: Option<&'a str>,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<FetchedChart, SourceError>> {
        Box::pin(async move {
            let (resolved, local) = self.snapshot(progress).await?;
            let mut fetched = local.fetch(chart, constraint, progress).await?;
            fetched.from_cache = resolved.from_cache;
            fetched.revision = Some(resolved.commit);
            fetched.warnings.extend(resolved.warnings);
            Ok(fetched)
        })
    }
}

/// Reads a values file from a git repository: `git_ref` (default: the repository's ref)
/// resolved now, the file read at that commit.
pub async fn read_file(
    repo: &Repository,
    cache_root: &Path,
    git_ref: Option<&str>,
    path: &str,
    progress: Progress<'_>,
) -> Result<GitBlob, SourceError> {
    let m = Mirror::new(repo, cache_root)?;
    let r = git_ref
        .or(repo.git_ref.as_deref())
        .unwrap_or("HEAD")
        .to_string();
    let p = path.to_string();
    let name = repo.name.clone();
    off_thread(progress, move |bytes| {
        let resolved = m.resolve_blocking(&r, DEFAULT_FRESH_FOR, bytes)?;
        let data = m.read_file_blocking(&resolved.commit, &p)?;
        let text = String::from_utf8(data).map_err(|_| SourceError::InvalidChart {
            path: format!("git:{name}@{}:{p}", short(&resolved.commit)),
            message: "not UTF-8 text".into(),
        })?;
        Ok(GitBlob {
            repository: name,
            git_ref: r,
            commit: resolved.commit,
            path: p,
            text,
            warnings: resolved.warnings,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_messages_or_folder_names() {
        assert_eq!(
            display_url("https://bot:s3cret@git.example.com/a/b.git"),
            "https://git.example.com/a/b.git"
        );
        assert_eq!(
            display_url("git@github.com:acme/charts.git"),
            "git@github.com:acme/charts.git"
        );
        let repo = Repository {
            name: "p".into(),
            kind: RepoType::Git,
            path: None,
            url: Some("https://bot:s3cret@git.example.com/a/b.git".into()),
            auth: None,
            region: None,
            endpoint: None,
            git_ref: Some("main".into()),
            plain_http: false,
        };
        let m = Mirror::new(&repo, Path::new("/cache")).expect("mirror");
        let dir = m.dir().display().to_string();
        assert!(!dir.contains("s3cret"), "{dir}");
        assert!(
            dir.starts_with("/cache/git/git.example.com_a_b.git-"),
            "{dir}"
        );
        assert_eq!(
            m.scrub("fetch https://bot:s3cret@git.example.com/a/b.git failed"),
            "fetch https://git.example.com/a/b.git failed"
        );
    }

    #[test]
    fn clear_text_credentials_only_go_to_loopback() {
        assert!(is_loopback("http://127.0.0.1:8080/a.git"));
        assert!(is_loopback("http://u:p@localhost/a.git"));
        assert!(is_loopback("http://[::1]:9/a.git"));
        assert!(!is_loopback("http://git.example.com/a.git"));
        assert!(!is_loopback("http://127.0.0.1.example.com/a.git"));
    }

    #[test]
    fn refs_that_sanitize_alike_keep_apart_in_the_mirror() {
        assert_ne!(
            Mirror::local_ref("release/1.0"),
            Mirror::local_ref("release_1.0")
        );
        assert!(Mirror::local_ref("release/1.0").starts_with("refs/helmdeck/release_1.0-"));
    }

    #[test]
    fn dot_paths_mean_the_repository_root() {
        for root in ["", ".", "./", "/", "./.", ".//"] {
            assert_eq!(tree_path(root), "", "{root:?}");
        }
        assert_eq!(tree_path("./charts/"), "charts");
        assert_eq!(tree_path("charts//./web"), "charts/web");
        assert_eq!(tree_path("/values/web.yaml"), "values/web.yaml");
    }

    #[test]
    fn only_full_commit_ids_count_as_pinned() {
        assert!(is_commit_id("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_commit_id("0123456"));
        assert!(!is_commit_id("main"));
    }
}
