//! Code generated from `proto/greeter.proto`, `proto/fleet.proto` and
//! `proto/chat.proto`, and
//! the connection helper
//! the examples share.

use std::error::Error;

use nats_harness::NatsServer;

/// Messages, client and server of `greeter.v1`.
pub mod greeter {
    include!(concat!(env!("OUT_DIR"), "/greeter.v1.rs"));
}

/// Messages, client and server of `chat.v1`.
pub mod chat {
    include!(concat!(env!("OUT_DIR"), "/chat.v1.rs"));
}

/// Messages, client and server of `fleet.v1`.
pub mod fleet {
    include!(concat!(env!("OUT_DIR"), "/fleet.v1.rs"));
}

/// The NATS server the examples talk to: `$NATS_URL` if set, otherwise a
/// local nats-server started for the example (stopped when dropped).
pub struct Nats {
    /// The URL to connect to.
    pub url: String,
    _local: Option<NatsServer>,
}

impl Nats {
    /// Uses `$NATS_URL` or starts a local server.
    pub fn from_env() -> Result<Self, Box<dyn Error>> {
        match std::env::var("NATS_URL") {
            Ok(url) => Ok(Self { url, _local: None }),
            Err(_) => {
                let local = NatsServer::start()?;
                eprintln!(
                    "NATS_URL unset: started nats-server on {} (pid {})",
                    local.url(),
                    local.pid()
                );
                Ok(Self {
                    url: local.url(),
                    _local: Some(local),
                })
            }
        }
    }
}

/// The process's peak resident set size in MiB (Linux; `NaN` elsewhere),
/// for the benches.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}
