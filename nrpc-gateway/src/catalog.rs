//! The services the gateway can call: those the `.proto` files given at
//! start define, and those learned from the schemas instances publish,
//! kept for a while and refreshed in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nrpc_reflect::{DynamicService, Error};
use nrpc_runtime::{Connection, ServiceClient};

use crate::expose::Exposure;

/// A service ready to call.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) service: DynamicService,
    /// The client of a service without package or service parameters,
    /// made once (its subjects too).
    pub(crate) client: Option<ServiceClient>,
}

impl Target {
    fn new(conn: &Connection, service: DynamicService) -> Self {
        let spec = &service.spec;
        let client = (spec.package_params.is_empty() && spec.service_params.is_empty())
            .then(|| ServiceClient::new(conn.clone(), spec.clone(), &[]).ok())
            .flatten();
        Target { service, client }
    }
}

#[derive(Debug)]
struct Learned {
    at: Instant,
    target: Arc<Target>,
    refreshing: bool,
}

/// Every service the gateway knows, by the name callers use.
#[derive(Debug)]
pub(crate) struct Catalog {
    conn: Connection,
    /// What callers may see and call of it.
    exposure: Exposure,
    discovery_timeout: Duration,
    refresh_after: Duration,
    /// From `.proto` files: fixed for the gateway's life.
    defined: Vec<Arc<Target>>,
    /// Indexes into `defined` by full name.
    defined_names: HashMap<String, usize>,
    /// From published schemas, by the name asked for.
    learned: Mutex<HashMap<String, Learned>>,
    /// Names discovery did not know (or whose instances disagreed),
    /// lately: asked again only after [`MISS_TTL`], so a stream of calls
    /// to a wrong name is not a stream of discoveries.
    misses: Mutex<HashMap<String, (Instant, Miss)>>,
    /// Names being learned now, each behind its own gate.
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Why discovery gave no service for a name.
#[derive(Debug)]
enum Miss {
    Unknown(String),
    Conflict(String),
}

/// How long a name discovery did not know is answered from memory.
const MISS_TTL: Duration = Duration::from_secs(1);
/// At most this many remembered misses (names come from callers).
const MAX_MISSES: usize = 1024;

impl Catalog {
    pub(crate) fn new(
        conn: Connection,
        defined: Vec<DynamicService>,
        exposure: Exposure,
        discovery_timeout: Duration,
        refresh_after: Duration,
    ) -> Self {
        let defined: Vec<Arc<Target>> = defined
            .into_iter()
            .map(|s| Arc::new(Target::new(&conn, s)))
            .collect();
        let mut defined_names = HashMap::new();
        for (i, t) in defined.iter().enumerate() {
            // The first definition of a name wins, as before.
            defined_names
                .entry(t.service.spec.name.to_string())
                .or_insert(i);
        }
        Catalog {
            conn,
            exposure,
            discovery_timeout,
            refresh_after,
            defined,
            defined_names,
            learned: Mutex::new(HashMap::new()),
            misses: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn exposure(&self) -> &Exposure {
        &self.exposure
    }

    /// Whether some method of `target` is exposed.
    pub(crate) fn shows(&self, target: &Target) -> bool {
        let spec = &target.service.spec;
        spec.methods
            .iter()
            .any(|m| self.exposure.method(&spec.name, &m.name))
    }

    pub(crate) fn discovery_timeout(&self) -> Duration {
        self.discovery_timeout
    }

    /// The service named `name` (its full proto name, as in gRPC paths):
    /// a defined one, else a learned one (a stale entry is served while a
    /// refresh runs in the background), else learned now from discovery —
    /// once for all the calls that ask for it meanwhile.
    pub(crate) async fn find(self: &Arc<Self>, name: &str) -> Result<Arc<Target>, Error> {
        if let Some(t) = self
            .defined_names
            .get(name)
            .and_then(|&i| self.defined.get(i))
        {
            return Ok(t.clone());
        }
        if let Some(known) = self.remembered(name) {
            return known;
        }
        // The first call for a name learns it; the others wait for it,
        // then find what it learned (or that nothing answers).
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone();
        let turn = gate.lock().await;
        let found = match self.remembered(name) {
            Some(known) => known,
            None => {
                let learned = self.learn(name).await;
                let miss = match &learned {
                    Err(Error::UnknownService(m)) => Some(Miss::Unknown(m.clone())),
                    Err(Error::Conflict(m)) => Some(Miss::Conflict(m.clone())),
                    _ => None,
                };
                if let Some(miss) = miss {
                    let mut misses = self.misses.lock().unwrap_or_else(|e| e.into_inner());
                    if misses.len() >= MAX_MISSES {
                        misses.clear();
                    }
                    misses.insert(name.to_owned(), (Instant::now(), miss));
                }
                learned
            }
        };
        drop(turn);
        self.gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        found
    }

    /// What is known of `name` without asking: a learned service (stale
    /// ones start a refresh in the background) or a recent miss.
    fn remembered(self: &Arc<Self>, name: &str) -> Option<Result<Arc<Target>, Error>> {
        {
            let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = learned.get_mut(name) {
                if entry.at.elapsed() >= self.refresh_after && !entry.refreshing {
                    entry.refreshing = true;
                    let catalog = self.clone();
                    let name = name.to_owned();
                    tokio::spawn(async move { catalog.learn(&name).await });
                }
                return Some(Ok(entry.target.clone()));
            }
        }
        let misses = self.misses.lock().unwrap_or_else(|e| e.into_inner());
        match misses.get(name) {
            Some((at, miss)) if at.elapsed() < MISS_TTL => Some(Err(match miss {
                Miss::Unknown(m) => Error::UnknownService(m.clone()),
                Miss::Conflict(m) => Error::Conflict(m.clone()),
            })),
            _ => None,
        }
    }

    /// Asks discovery for `name`'s schema and keeps what it learns; a
    /// failed refresh keeps the entry it had (retried after a while).
    async fn learn(&self, name: &str) -> Result<Arc<Target>, Error> {
        let found = DynamicService::discover(&self.conn, self.discovery_timeout, name).await;
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        match found {
            Ok(service) => {
                // Where a known service's calls go does not change behind
                // the gateway's back: a different description now is
                // another responder claiming the name.
                if let Some(entry) = learned.get_mut(name) {
                    if !entry.target.service.spec.routes_like(&service.spec) {
                        tracing::warn!(
                            "nrpc-gateway: {name} is now described with other subjects \
                             ({}); keeping those learned first (restart the gateway, or \
                             give its .proto, to accept the change)",
                            service.origin
                        );
                        entry.at = Instant::now();
                        entry.refreshing = false;
                        return Ok(entry.target.clone());
                    }
                }
                let target = Arc::new(Target::new(&self.conn, service));
                learned.insert(
                    name.to_owned(),
                    Learned {
                        at: Instant::now(),
                        target: target.clone(),
                        refreshing: false,
                    },
                );
                Ok(target)
            }
            Err(e) => match learned.get_mut(name) {
                Some(entry) => {
                    tracing::debug!("nrpc-gateway: refreshing {name} failed, keeping it: {e}");
                    entry.at = Instant::now();
                    entry.refreshing = false;
                    Ok(entry.target.clone())
                }
                None => Err(e),
            },
        }
    }

    /// Every service known now: defined, then learned.
    pub(crate) fn known(&self) -> Vec<Arc<Target>> {
        let learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        self.defined
            .iter()
            .cloned()
            .chain(learned.values().map(|l| l.target.clone()))
            .collect()
    }

    /// The services defined by `.proto` files, for the console.
    pub(crate) fn defined(&self) -> impl Iterator<Item = &DynamicService> {
        self.defined.iter().map(|t| &t.service)
    }
}
