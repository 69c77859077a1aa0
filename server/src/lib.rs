//! `carnet-server`: the reference server standing in for the national services, so that
//! Carnet runs for real on one machine (DESIGN.md §6).
//!
//! Axum on tokio, SQLite, loopback by default. Routes:
//!
//! | prefix | module | who |
//! |---|---|---|
//! | `POST /v1/enrol/test` | [`auth`] | a device enrolling without a card (tests only: off unless configured) |
//! | `/v1/me/…` | [`health_space`], [`issuer`] | a citizen's device (signed requests) |
//! | `/v1/pro/…` | [`health_space`], [`issuer`], [`readers`] | professionals' and the caisse's software (bearer key) |
//! | `/v1/lists/…` | [`lists`] | anyone: the signed DCC trust and revocation lists, business rules and value sets |
//! | `/v1/issuer/…` | [`issuer`] | the ApCV issuer: root, status list, enrolment |
//! | `/v1/readers/…` | [`readers`] | the health professionals' PKI: reader root and revocations |
//! | `/v1/keys/…` | [`keys`] | the exposure-notification key server: uploads with a test result's code, signed day files |
//! | `GET /v1/health` | | liveness |
//!
//! Every request body is bounded, every client rate-limited (per user, per professional key,
//! per address for enrolment); logs carry the route template, status and latency, never
//! health data or identifiers; the server stops gracefully (in-flight requests finish).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod auth;
mod config;
mod db;
mod error;
mod health_space;
mod issuer;
mod keys;
mod limits;
mod lists;
mod professional;
mod readers;
mod serve;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use auth::MAX_CLOCK_SKEW_MILLIS;
pub use config::{ServerConfig, TEST_ENROLMENT_CODE};
pub use error::{ApiError, ServerError};
pub use issuer::issuer_root;
pub use keys::key_server_verification_key;
pub use lists::list_anchor;
pub use professional::{DepositError, ProfessionalClient};
pub use serve::{ConnectionLimits, serve};

/// What every handler shares.
pub(crate) struct AppState {
    config: ServerConfig,
    db: db::Database,
    guard: auth::Guard,
    lists: lists::Lists,
    issuer: issuer::Issuer,
    readers: readers::Readers,
    keys: keys::KeyServer,
}

/// The current time, Unix milliseconds.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes a secret file readable by its owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| ServerError::io("create", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ServerError::io("write", path, e))
}

/// Certificates and keys made together on first start, in `dir` under `names`: read back
/// whole by `load`, or, if any is missing, made by `make` (valid ten years from `now_secs`)
/// and written again whole, so that a crash between two files leaves no mixed set.
pub(crate) fn certificate_files<T>(
    dir: &Path,
    names: &[&str],
    now_secs: i64,
    load: impl FnOnce(Vec<Vec<u8>>) -> Result<T, carnet_identity::IdentityError>,
    make: impl FnOnce(
        carnet_identity::authority::CertificateValidity,
    ) -> Result<(T, Vec<Vec<u8>>), carnet_identity::IdentityError>,
) -> Result<T, ServerError> {
    std::fs::create_dir_all(dir).map_err(|e| ServerError::io("create", dir, e))?;
    let files: Vec<_> = names.iter().map(|name| dir.join(name)).collect();
    let failed =
        |e: carnet_identity::IdentityError| ServerError::Config(format!("{}: {e}", dir.display()));
    if files.iter().all(|f| f.exists()) {
        let contents = files
            .iter()
            .map(|path| std::fs::read(path).map_err(|e| ServerError::io("read", path, e)))
            .collect::<Result<_, _>>()?;
        return load(contents).map_err(failed);
    }
    let (made, contents) = make(carnet_identity::authority::CertificateValidity {
        not_before: now_secs - 86_400,
        not_after: now_secs + 10 * 365 * 86_400,
    })
    .map_err(failed)?;
    for (path, bytes) in files.iter().zip(contents) {
        let _ = std::fs::remove_file(path);
        write_private(path, &bytes)?;
    }
    Ok(made)
}

/// Reads a secret file, making it with `make` the first time.
fn secret_file(path: &Path, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, ServerError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = make();
            write_private(path, &bytes)?;
            Ok(bytes)
        }
        Err(e) => Err(ServerError::io("read", path, e)),
    }
}

fn random_bytes() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    // The system generator failing leaves zeros, which the length check below cannot see;
    // ring's SystemRandom only fails where there is no OS generator at all.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes
}

fn router(state: Arc<AppState>) -> Router {
    let citizen = Router::new()
        .route("/changes", get(health_space::changes))
        .route("/items/{kind}/{id}", get(health_space::get_item))
        .route(
            "/blobs/{sha256}",
            get(health_space::get_blob).put(health_space::put_blob),
        )
        .route("/documents/{id}", put(health_space::put_document))
        .route("/profile/{id}", put(health_space::put_profile))
        .route("/profile/{id}/history", get(health_space::profile_history))
        .merge(issuer::holder_router())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::citizen));
    let professional = Router::new()
        .route(
            "/patients/{user}/documents",
            post(health_space::deposit_document),
        )
        .route(
            "/patients/{user}/messages",
            post(health_space::deposit_message),
        )
        .merge(issuer::caisse_router())
        .merge(readers::professional_router())
        .merge(keys::laboratory_router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::professional,
        ));
    let lists = Router::new()
        .route("/anchor", get(lists::get_anchor))
        .route("/{name}", get(lists::get_list));
    Router::new()
        .route("/v1/health", get(|| async { "ok" }))
        .route("/v1/enrol/test", post(auth::enrol))
        .nest("/v1/me", citizen)
        .nest("/v1/pro", professional)
        .nest("/v1/lists", lists)
        .nest("/v1/issuer", issuer::router())
        .nest("/v1/readers", readers::router())
        .nest("/v1/keys", keys::router())
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::enforce,
        ))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// Logs each request's route template (never its identifiers), status and latency.
async fn access_log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        millis = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// A server running on the caller's tokio runtime.
pub struct RunningServer {
    address: SocketAddr,
    professional_key: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Prepares the data directory (database, keys, signed lists) and starts listening.
    pub async fn start(config: ServerConfig) -> Result<Self, ServerError> {
        config.check()?;
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| ServerError::io("create", &dir, e))?;
        let token_secret = secret_file(&dir.join("token.key"), random_bytes)?;
        if token_secret.len() < 32 {
            return Err(ServerError::Config(
                "token.key is shorter than 32 bytes".into(),
            ));
        }
        let professional_key = if config.professional_key.is_empty() {
            let key = secret_file(&dir.join("professional.key"), || {
                hex::encode(random_bytes()).into_bytes()
            })?;
            String::from_utf8(key)
                .map_err(|_| ServerError::Config("professional.key is not text".into()))?
        } else {
            config.professional_key.clone()
        };
        let state = Arc::new(AppState {
            guard: auth::Guard::new(
                &token_secret,
                &professional_key,
                config.requests_per_minute,
                config.max_body_bytes,
            ),
            db: db::Database::open(&dir.join("server.sqlite"))?,
            lists: lists::Lists::publish(&dir.join("lists"), now_millis() / 1000)?,
            issuer: issuer::Issuer::open(&dir.join("issuer"), now_millis() / 1000)?,
            readers: readers::Readers::open(&dir.join("readers"), now_millis() / 1000)?,
            keys: keys::KeyServer::open(&dir.join("keys"))?,
            config,
        });
        let listener = TcpListener::bind(state.config.bind).await.map_err(|e| {
            ServerError::io("listen on", Path::new(&state.config.bind.to_string()), e)
        })?;
        let address = listener
            .local_addr()
            .map_err(|e| ServerError::io("listen on", Path::new("socket"), e))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let limits = state.config.connection_limits();
        let app = router(state);
        let task = tokio::spawn(serve::serve(listener, app, limits, async {
            let _ = stopped.await;
        }));
        tracing::info!(%address, "carnet-server listening");
        Ok(RunningServer {
            address,
            professional_key,
            shutdown,
            task,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The key professionals' software presents.
    pub fn professional_key(&self) -> &str {
        &self.professional_key
    }

    /// Stops accepting connections and waits for the requests in flight.
    pub async fn stop(self) -> Result<(), ServerError> {
        let _ = self.shutdown.send(());
        self.task
            .await
            .map_err(|e| ServerError::Config(format!("server task: {e}")))
    }
}

/// A server on its own thread and runtime, for callers without one (the CLI, the demo,
/// synchronous tests).
pub struct BackgroundServer {
    address: SocketAddr,
    professional_key: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl BackgroundServer {
    /// Starts the server and returns once it listens.
    pub fn spawn(config: ServerConfig) -> Result<Self, ServerError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("carnet-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| ServerError::io("start", Path::new("runtime"), e))?;
                runtime.block_on(async move {
                    let server = match RunningServer::start(config).await {
                        Ok(server) => server,
                        Err(error) => {
                            let message = error.to_string();
                            let _ = ready_tx.send(Err(error));
                            return Err(ServerError::Config(message));
                        }
                    };
                    let _ =
                        ready_tx.send(Ok((server.address(), server.professional_key().to_owned())));
                    let _ = stop.await;
                    server.stop().await
                })
            })
            .map_err(|e| ServerError::io("start", Path::new("thread"), e))?;
        let (address, professional_key) = ready_rx.recv().map_err(|_| {
            ServerError::Config("the server thread ended before listening".into())
        })??;
        Ok(BackgroundServer {
            address,
            professional_key,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The key professionals' software presents.
    pub fn professional_key(&self) -> &str {
        &self.professional_key
    }

    /// Stops the server gracefully and waits for its thread.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.shutdown_and_join()
    }

    fn shutdown_and_join(&mut self) -> Result<(), ServerError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| ServerError::Config("the server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        let _ = self.shutdown_and_join();
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then stops gracefully (`carnet server`).
pub fn run_until_interrupted(
    config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr, &str),
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerError::io("start", Path::new("runtime"), e))?;
    runtime.block_on(async move {
        let server = RunningServer::start(config).await?;
        on_ready(server.address(), server.professional_key());
        interrupted().await;
        tracing::info!("stopping: finishing the requests in flight");
        server.stop().await
    })
}

async fn interrupted() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
