//! Unary echo as deployed: client, server and nats-server as three
//! processes, raw async-nats request/reply and nrpc alternating row by row.
//!
//! ```text
//! cargo bench -p nrpc-examples --bench deployment
//! NRPC_BENCH_SECS=5 NRPC_BENCH_REPEAT=3 cargo bench -p nrpc-examples --bench deployment
//! NRPC_BENCH_PAYLOADS=16 NRPC_BENCH_IN_FLIGHT=1,256 cargo bench -p nrpc-examples --bench deployment
//! ```
//!
//! For each payload (16 B, 1 KiB, 64 KiB) and calls in flight (1, 16, 64,
//! 256, 1024) it starts a server process and a client process (this binary
//! again, in another role), and prints calls/s, p50/p99 latency and the CPU
//! time per call of the client, the server and nats-server (from
//! `/proc/<pid>/stat`, measured over the client's measuring window). With a
//! repeat count it prints the median row of each.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use nats_harness::NatsServer;
use nrpc_examples::bench::{cpu_time, measure, Echo};
use nrpc_examples::greeter::greeter_client::GreeterClient;
use nrpc_examples::greeter::greeter_server::GreeterServer;
use nrpc_examples::greeter::EchoMessage;
use nrpc_examples::tonic_bench;
use nrpc_examples::tonic_bench::echo_service_client::EchoServiceClient;
use nrpc_examples::tonic_bench::echo_service_server::{EchoService, EchoServiceServer};
use nrpc_runtime::{async_nats, futures};
use nrpc_runtime::{Connection, Server};

const PAYLOADS: [usize; 3] = [16, 1024, 64 * 1024];
const IN_FLIGHT: [usize; 5] = [1, 16, 64, 256, 1024];
const WARMUP: Duration = Duration::from_millis(500);
const RAW_SUBJECT: &str = "bench.raw.echo";

/// tonic's echo: the gRPC reference.
struct TonicEcho;

#[tonic::async_trait]
impl EchoService for TonicEcho {
    async fn echo(
        &self,
        request: tonic::Request<tonic_bench::EchoMessage>,
    ) -> Result<tonic::Response<tonic_bench::EchoMessage>, tonic::Status> {
        Ok(tonic::Response::new(request.into_inner()))
    }
}

/// `server tonic -`: serves gRPC on a free loopback port until stdin
/// closes, after printing `ready <address>`.
async fn serve_tonic() -> Result<(), Box<dyn Error>> {
    // No Nagle delay, as NATS clients do (else small calls wait ~40 ms).
    let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse()?)?
        .with_nodelay(Some(true));
    println!("ready {}", incoming.local_addr()?);
    std::io::stdout().flush()?;
    let stdin_closed = async {
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await;
    };
    tonic::transport::Server::builder()
        .add_service(EchoServiceServer::new(TonicEcho))
        .serve_with_incoming_shutdown(incoming, stdin_closed)
        .await?;
    Ok(())
}

/// `server <mode> <url>`: serves until stdin closes.
async fn serve(mode: &str, url: &str) -> Result<(), Box<dyn Error>> {
    if mode == "tonic" {
        return serve_tonic().await;
    }
    let nats = async_nats::connect(url).await?;
    let handle = match mode {
        "raw" | "rawh" => {
            let mut sub = nats.queue_subscribe(RAW_SUBJECT, "q".into()).await?;
            let responder = nats.clone();
            tokio::spawn(async move {
                while let Some(msg) = sub.next().await {
                    if let Some(reply) = msg.reply {
                        let _ = responder.publish(reply, msg.payload).await;
                    }
                }
            });
            nats.flush().await?;
            None
        }
        _ => Some(
            Server::builder(&Connection::new(nats).await?)
                .max_concurrent_requests(4096)
                .add_service(GreeterServer::new(Echo))
                .serve()
                .await?,
        ),
    };
    println!("ready {url}");
    std::io::stdout().flush()?;
    // The orchestrator closes our stdin to stop us.
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
    if let Some(h) = handle {
        h.shutdown().await;
    }
    Ok(())
}

/// `client <mode> <url> <payload> <in flight> <secs>`: prints `start`
/// when warm-up ends, then one result line.
async fn call(mode: &str, url: &str, args: &[String]) -> Result<(), Box<dyn Error>> {
    let size: usize = args[0].parse()?;
    let in_flight: usize = args[1].parse()?;
    let run = Duration::from_secs_f64(args[2].parse()?);
    let payload = Bytes::from(vec![0x5a; size]);
    let started = cpu_time(std::process::id());
    let (rate, p50, p99) = match mode {
        "raw" => {
            let raw = Arc::new(async_nats::connect(url).await?);
            announce_start();
            measure(in_flight, WARMUP, run, move || {
                let (raw, p) = (raw.clone(), payload.clone());
                async move {
                    raw.request(RAW_SUBJECT, p).await.expect("raw echo");
                }
            })
            .await
        }
        "tonic" => {
            let channel = tonic::transport::Channel::from_shared(format!("http://{url}"))?
                .tcp_nodelay(true)
                .connect()
                .await?;
            let client = EchoServiceClient::new(channel);
            let msg = tonic_bench::EchoMessage { payload };
            announce_start();
            measure(in_flight, WARMUP, run, move || {
                let (mut c, m) = (client.clone(), msg.clone());
                async move {
                    c.echo(m).await.expect("tonic echo");
                }
            })
            .await
        }
        "rawh" => {
            let raw = Arc::new(async_nats::connect(url).await?);
            announce_start();
            measure(in_flight, WARMUP, run, move || {
                let (raw, p) = (raw.clone(), payload.clone());
                async move {
                    let mut h = async_nats::HeaderMap::new();
                    h.insert("Nrpc-Timeout", "5000");
                    raw.request_with_headers(RAW_SUBJECT, h, p)
                        .await
                        .expect("raw echo");
                }
            })
            .await
        }
        _ => {
            let conn = Connection::new(async_nats::connect(url).await?).await?;
            let client = Arc::new(GreeterClient::new(conn));
            let msg = Arc::new(EchoMessage { payload });
            announce_start();
            measure(in_flight, WARMUP, run, move || {
                let (c, m) = (client.clone(), msg.clone());
                async move {
                    c.echo(&m).await.expect("nrpc echo");
                }
            })
            .await
        }
    };
    // Warm-up included: the client's own CPU is counted per measured call
    // over the whole run, which slightly overstates it.
    let cpu = cpu_time(std::process::id()).saturating_sub(started);
    println!(
        "{rate} {} {} {}",
        p50.as_nanos(),
        p99.as_nanos(),
        cpu.as_nanos() as f64 / (rate * (run + WARMUP).as_secs_f64())
    );
    Ok(())
}

/// Says `start` when the warm-up that begins now is over: the orchestrator
/// then starts counting the server's and the broker's CPU.
fn announce_start() {
    tokio::spawn(async {
        tokio::time::sleep(WARMUP).await;
        println!("start");
        let _ = std::io::stdout().flush();
    });
}

/// One measured row.
#[derive(Debug, Clone, Copy)]
struct Row {
    rate: f64,
    p50: Duration,
    p99: Duration,
    client_us: f64,
    server_us: f64,
    broker_us: f64,
}

fn spawn(args: &[&str]) -> Result<(Child, BufReader<ChildStdout>), Box<dyn Error>> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    Ok((child, out))
}

fn next_line(out: &mut BufReader<ChildStdout>) -> Result<String, Box<dyn Error>> {
    let mut line = String::new();
    if out.read_line(&mut line)? == 0 {
        return Err("a bench process ended early".into());
    }
    Ok(line.trim().to_owned())
}

fn run_row(
    url: &str,
    broker: u32,
    mode: &str,
    size: usize,
    in_flight: usize,
    secs: f64,
) -> Result<Row, Box<dyn Error>> {
    let (mut server, mut server_out) = spawn(&["server", mode, url])?;
    // The server says where to call it (tonic listens on a port of its own).
    let ready = next_line(&mut server_out)?;
    let Some(url) = ready.strip_prefix("ready ") else {
        return Err("the server did not start".into());
    };
    let url = url.to_owned();
    let (size_s, n_s, secs_s) = (size.to_string(), in_flight.to_string(), secs.to_string());
    let (mut client, mut client_out) = spawn(&["client", mode, &url, &size_s, &n_s, &secs_s])?;
    if next_line(&mut client_out)? != "start" {
        return Err("the client did not start".into());
    }
    let (server_cpu, broker_cpu) = (cpu_time(server.id()), cpu_time(broker));
    let result = next_line(&mut client_out)?;
    let server_cpu = cpu_time(server.id()).saturating_sub(server_cpu);
    let broker_cpu = cpu_time(broker).saturating_sub(broker_cpu);
    client.wait()?;
    drop(server.stdin.take());
    server.wait()?;
    let f: Vec<f64> = result
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let [rate, p50, p99, client_us] = f[..] else {
        return Err(format!("bad client line {result:?}").into());
    };
    let calls = rate * secs;
    let per_call = |cpu: Duration| cpu.as_nanos() as f64 / calls / 1000.0;
    Ok(Row {
        rate,
        p50: Duration::from_nanos(p50 as u64),
        p99: Duration::from_nanos(p99 as u64),
        client_us: client_us / 1000.0,
        server_us: per_call(server_cpu),
        broker_us: per_call(broker_cpu),
    })
}

fn orchestrate() -> Result<(), Box<dyn Error>> {
    let secs: f64 = std::env::var("NRPC_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let repeat: usize = std::env::var("NRPC_BENCH_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let payloads = list_from_env("NRPC_BENCH_PAYLOADS", &PAYLOADS);
    let in_flights = list_from_env("NRPC_BENCH_IN_FLIGHT", &IN_FLIGHT);
    let broker = NatsServer::start()?;
    let url = broker.url();
    println!(
        "unary echo, three processes (client, server, nats-server {}), {secs} s per row, median of {repeat}",
        broker.pid()
    );
    println!(
        "{:>7} {:>9} {:<5} {:>10} {:>9} {:>9} {:>11} {:>11} {:>11} {:>6}",
        "payload",
        "in-flight",
        "mode",
        "calls/s",
        "p50",
        "p99",
        "client µs",
        "server µs",
        "broker µs",
        "ratio"
    );
    for &size in &payloads {
        for &in_flight in &in_flights {
            let mut raw_rate = 0.0;
            for mode in ["raw", "rawh", "nrpc", "tonic"] {
                let mut rows = Vec::new();
                for _ in 0..repeat {
                    rows.push(run_row(&url, broker.pid(), mode, size, in_flight, secs)?);
                }
                rows.sort_by(|a, b| a.rate.total_cmp(&b.rate));
                let r = rows[rows.len() / 2];
                if mode == "raw" {
                    raw_rate = r.rate;
                }
                println!(
                    "{size:>7} {in_flight:>9} {mode:<5} {:>10.0} {:>9.1?} {:>9.1?} {:>11.2} {:>11.2} {:>11.2} {:>6.2}",
                    r.rate,
                    r.p50,
                    r.p99,
                    r.client_us,
                    r.server_us,
                    r.broker_us,
                    r.rate / raw_rate
                );
            }
        }
    }
    Ok(())
}

/// A comma-separated list from the environment, or the default.
fn list_from_env(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some(role @ ("server" | "client")) if args.len() >= 3 => {
            let rt = tokio::runtime::Runtime::new()?;
            let (mode, url) = (args[1].clone(), args[2].clone());
            if role == "server" {
                rt.block_on(serve(&mode, &url))
            } else {
                rt.block_on(call(&mode, &url, &args[3..]))
            }
        }
        _ => orchestrate(),
    }
}
