//! The services the gateway can call: those the `.proto` files given at
//! start define, and those learned from the schemas instances publish,
//! kept for a while and refreshed in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nrpc_reflect::{DynamicService, Error};
use nrpc_runtime::{Connection, ServiceClient};

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
        let spec = service.spec;
        let client = (spec.package_params.is_empty() && spec.service_params.is_empty())
            .then(|| ServiceClient::new(conn.clone(), spec, &[]).ok())
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
    discovery_timeout: Duration,
    refresh_after: Duration,
    /// From `.proto` files: fixed for the gateway's life.
    defined: Vec<Arc<Target>>,
    /// From published schemas, by the name asked for.
    learned: Mutex<HashMap<String, Learned>>,
}

impl Catalog {
    pub(crate) fn new(
        conn: Connection,
        defined: Vec<DynamicService>,
        discovery_timeout: Duration,
        refresh_after: Duration,
    ) -> Self {
        let defined = defined
            .into_iter()
            .map(|s| Arc::new(Target::new(&conn, s)))
            .collect();
        Catalog {
            conn,
            discovery_timeout,
            refresh_after,
            defined,
            learned: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn discovery_timeout(&self) -> Duration {
        self.discovery_timeout
    }

    /// The service named `name` (its full proto name, as in gRPC paths):
    /// a defined one, else a learned one (a stale entry is served while a
    /// refresh runs in the background), else learned now from discovery.
    pub(crate) async fn find(self: &Arc<Self>, name: &str) -> Result<Arc<Target>, Error> {
        if let Some(t) = self.defined.iter().find(|t| t.service.spec.name == name) {
            return Ok(t.clone());
        }
        let stale = {
            let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
            match learned.get_mut(name) {
                Some(entry) if entry.at.elapsed() < self.refresh_after => {
                    return Ok(entry.target.clone());
                }
                Some(entry) => {
                    if !entry.refreshing {
                        entry.refreshing = true;
                        let catalog = self.clone();
                        let name = name.to_owned();
                        tokio::spawn(async move { catalog.learn(&name).await });
                    }
                    Some(entry.target.clone())
                }
                None => None,
            }
        };
        match stale {
            Some(target) => Ok(target),
            None => self.learn(name).await,
        }
    }

    /// Asks discovery for `name`'s schema and keeps what it learns; a
    /// failed refresh keeps the entry it had (retried after a while).
    async fn learn(&self, name: &str) -> Result<Arc<Target>, Error> {
        let found = DynamicService::discover(&self.conn, self.discovery_timeout, name).await;
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        match found {
            Ok(service) => {
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

    /// The services defined by `.proto` files, for the console.
    pub(crate) fn defined(&self) -> impl Iterator<Item = &DynamicService> {
        self.defined.iter().map(|t| &t.service)
    }
}
