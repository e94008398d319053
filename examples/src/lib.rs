//! Code generated from `proto/greeter.proto`, `proto/fleet.proto`,
//! `proto/chat.proto` and `proto/jobs.proto`, and
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

/// Messages, client and server of `jobs.v1` (durable commands and events).
pub mod jobs {
    include!(concat!(env!("OUT_DIR"), "/jobs.v1.rs"));
}

/// Messages, client and server of `fleet.v1`.
pub mod fleet {
    include!(concat!(env!("OUT_DIR"), "/fleet.v1.rs"));
}

/// The deployment bench's gRPC reference: `proto/bench.proto` compiled by
/// tonic-prost-build (not something a service crate needs).
pub mod tonic_bench {
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/tonic/bench.v1.rs"));
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
        Self::from_env_or(NatsServer::start)
    }

    /// Uses `$NATS_URL` (whose server must have JetStream on) or starts a
    /// local server with JetStream on a temporary store.
    pub fn from_env_with_jetstream() -> Result<Self, Box<dyn Error>> {
        Self::from_env_or(NatsServer::start_jetstream)
    }

    fn from_env_or(
        start: impl FnOnce() -> Result<NatsServer, nats_harness::Error>,
    ) -> Result<Self, Box<dyn Error>> {
        match std::env::var("NATS_URL") {
            Ok(url) => Ok(Self { url, _local: None }),
            Err(_) => {
                let local = start()?;
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

/// What the benches share: closed-loop load with latency percentiles, and
/// CPU time of a process.
pub mod bench {
    use std::time::Duration;

    use nrpc_runtime::{Request, Response, Status};
    use tokio::time::Instant;

    use crate::greeter::greeter_server::Greeter;
    use crate::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};

    /// This process's resident memory now, in bytes (Linux; 0 elsewhere).
    pub fn rss() -> f64 {
        let pages: f64 = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0.0);
        pages * 4096.0
    }

    /// The benches' service: `Echo` returns its request; the rest refuse.
    #[derive(Debug)]
    pub struct Echo;

    impl Greeter for Echo {
        async fn say_hello(
            &self,
            _: Request<HelloRequest>,
        ) -> Result<Response<HelloReply>, Status> {
            Err(Status::unimplemented("bench serves Echo only"))
        }
        async fn fail(&self, _: Request<FailRequest>) -> Result<Response<()>, Status> {
            Err(Status::unimplemented("bench serves Echo only"))
        }
        async fn echo(
            &self,
            request: Request<EchoMessage>,
        ) -> Result<Response<EchoMessage>, Status> {
            Ok(Response::new(request.into_inner()))
        }
    }

    /// Calls/s and p50/p99 latency of `in_flight` workers that each call
    /// `call` back to back for `run` after `warmup`.
    pub async fn measure<F, Fut>(
        in_flight: usize,
        warmup: Duration,
        run: Duration,
        call: F,
    ) -> (f64, Duration, Duration)
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let warm_end = Instant::now() + warmup;
        let end = warm_end + run;
        let workers: Vec<_> = (0..in_flight)
            .map(|_| {
                let call = call.clone();
                tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(100_000);
                    loop {
                        let start = Instant::now();
                        if start >= end {
                            break;
                        }
                        call().await;
                        if start >= warm_end {
                            lat.push(start.elapsed());
                        }
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.expect("worker"));
        }
        all.sort_unstable();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        (all.len() as f64 / run.as_secs_f64(), pct(0.50), pct(0.99))
    }

    /// CPU time (user + system) a process has used so far (Linux; zero
    /// elsewhere), from `/proc/<pid>/stat` in clock ticks of 10 ms.
    pub fn cpu_time(pid: u32) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may
        // contain spaces: utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|t| t.parse::<u64>().ok())
            .sum();
        Duration::from_millis(ticks * 10)
    }
}
