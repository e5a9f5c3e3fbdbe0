//! A fault-injecting loopback HTTP proxy that stands between keyward and the moto server, so a
//! test can make one region's endpoint refuse, hang, slow down, drop a response half-way or
//! throttle, and then heal it, while other regions talk to moto directly.
//!
//! It speaks just enough HTTP/1.1 for the AWS SDK's requests (a head, then a body of
//! `Content-Length` bytes) and forwards each request on a fresh upstream connection, so the
//! fault is chosen per request even on a kept-alive client connection. It listens and forwards
//! only on loopback addresses, and every task it starts ends when the proxy is dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Longest request or response head the proxy reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Longest body the proxy reads.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Requests served on one client connection before the proxy closes it.
const MAX_REQUESTS_PER_CONNECTION: usize = 10_000;
/// How long an idle client connection is kept open.
const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the proxy waits for moto to answer one request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// A hanging connection is released after this long even if the fault never changes.
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// What the proxy does with each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards the request and its answer unchanged.
    PassThrough,
    /// Forwards after waiting this long.
    Delay(Duration),
    /// Closes every connection at once, without reading or answering (a reset).
    Refuse,
    /// Reads the request and never answers, until the fault changes.
    Hang,
    /// Forwards, sends the response head and half its body, then closes.
    DropMidResponse,
    /// Answers every `every`-th request (counted over the proxy's life) with a throttling
    /// error in the request's protocol; forwards the others.
    Throttle { every: u32 },
}

/// One request as it reached the proxy.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Since the proxy started.
    pub at: Duration,
    /// `X-Amz-Target` (JSON protocols) or the `Action=` of a query request.
    pub operation: String,
}

struct Shared {
    upstream: SocketAddr,
    fault: watch::Sender<Fault>,
    started: Instant,
    arrivals: Mutex<Vec<Arrival>>,
    seen: AtomicU32,
    throttled: AtomicU32,
}

/// The proxy; dropping it stops it and closes every connection it holds.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` in front of `upstream_url` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream_url: &str) -> FaultProxy {
        let authority = upstream_url
            .strip_prefix("http://")
            .expect("the upstream is plain http")
            .trim_end_matches('/');
        let upstream: SocketAddr = authority.parse().expect("the upstream is ip:port");
        assert!(
            upstream.ip().is_loopback(),
            "the proxy forwards to loopback only"
        );

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (fault, _) = watch::channel(Fault::PassThrough);
        let shared = Arc::new(Shared {
            upstream,
            fault,
            started: Instant::now(),
            arrivals: Mutex::new(Vec::new()),
            seen: AtomicU32::new(0),
            throttled: AtomicU32::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        FaultProxy {
            addr,
            shared,
            accept,
        }
    }

    /// The URL to give keyward as a region's endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the fault for every request from now on, including those already hanging.
    pub fn set(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    /// Every request that reached the proxy, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.arrivals.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.arrivals.lock().unwrap().len()
    }

    /// How many throttling errors the proxy has sent.
    pub fn throttled_count(&self) -> u32 {
        self.shared.throttled.load(Ordering::Relaxed)
    }

    /// Requests in each whole second since the first arrival.
    pub fn per_second(&self) -> Vec<u32> {
        let arrivals = self.arrivals();
        let Some(first) = arrivals.first().map(|a| a.at) else {
            return Vec::new();
        };
        let mut buckets = Vec::new();
        for arrival in &arrivals {
            let second = (arrival.at - first).as_secs() as usize;
            if buckets.len() <= second {
                buckets.resize(second + 1, 0);
            }
            buckets[second] += 1;
        }
        buckets
    }

    /// The most requests that arrived within any one-second window.
    pub fn busiest_second(&self) -> usize {
        let times: Vec<Duration> = self.arrivals().iter().map(|a| a.at).collect();
        let mut busiest = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end] - times[start] >= Duration::from_secs(1) {
                start += 1;
            }
            busiest = busiest.max(end - start + 1);
        }
        busiest
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        // Reap finished connections so the set stays as small as the live ones.
        while connections.try_join_next().is_some() {}
        if *shared.fault.borrow() == Fault::Refuse {
            refuse(client);
            continue;
        }
        connections.spawn(serve(client, shared.clone()));
    }
}

/// Closes with a reset, as a refusing endpoint does.
fn refuse(client: TcpStream) {
    let _ = client.set_zero_linger();
    drop(client);
}

async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let mut faults = shared.fault.subscribe();
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let request =
            match tokio::time::timeout(CLIENT_IDLE_TIMEOUT, read_message(&mut client)).await {
                Ok(Some(request)) => request,
                _ => return,
            };
        let fault = *faults.borrow_and_update();
        let number = shared.record(&request);

        let response = match fault {
            Fault::Refuse => return refuse(client),
            Fault::Hang => {
                // Never answer; give up only when the fault changes or the limit passes.
                let _ = tokio::time::timeout(HANG_LIMIT, faults.changed()).await;
                return;
            }
            Fault::Throttle { every } if every > 0 && number.is_multiple_of(every) => {
                shared.throttled.fetch_add(1, Ordering::Relaxed);
                throttling_response(&request, number)
            }
            Fault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                match forward(&shared, &request).await {
                    Some(response) => response,
                    None => return,
                }
            }
            _ => match forward(&shared, &request).await {
                Some(response) => response,
                None => return,
            },
        };

        if fault == Fault::DropMidResponse {
            let cut = response.head_len + (response.bytes.len() - response.head_len) / 2;
            let _ = client.write_all(&response.bytes[..cut]).await;
            let _ = client.flush().await;
            return;
        }
        if client.write_all(&response.bytes).await.is_err() || response.closes {
            return;
        }
    }
}

impl Shared {
    /// Notes the arrival and returns its number, counting from 1.
    fn record(&self, request: &Message) -> u32 {
        let arrival = Arrival {
            at: self.started.elapsed(),
            operation: request.operation(),
        };
        self.arrivals.lock().unwrap().push(arrival);
        self.seen.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// An HTTP/1.1 message as bytes, with what the proxy needs to know about it.
struct Message {
    bytes: Vec<u8>,
    head_len: usize,
    /// The head's lines after the start line, lower-cased names.
    headers: Vec<(String, String)>,
    closes: bool,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn body(&self) -> &[u8] {
        &self.bytes[self.head_len..]
    }

    fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.to_owned();
        }
        String::from_utf8_lossy(self.body())
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .unwrap_or("")
            .to_owned()
    }
}

/// Reads one message: the head, then a `Content-Length` or chunked body. `None` when the peer
/// closed or sent something this proxy does not understand.
async fn read_message(stream: &mut TcpStream) -> Option<Message> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_len = loop {
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            break end + 4;
        }
        if bytes.len() > MAX_HEAD_BYTES {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
    };

    let head = String::from_utf8_lossy(&bytes[..head_len]).into_owned();
    let headers: Vec<(String, String)> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let closes = value("connection").is_some_and(|v| v == "close");

    if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while find(&bytes[head_len..], b"0\r\n\r\n").is_none() {
            if bytes.len() - head_len > MAX_BODY_BYTES {
                return None;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
    } else {
        let length: usize = value("content-length").map_or(Some(0), |v| v.parse().ok())?;
        if length > MAX_BODY_BYTES {
            return None;
        }
        while bytes.len() < head_len + length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
        bytes.truncate(head_len + length);
    }
    Some(Message {
        bytes,
        head_len,
        headers,
        closes,
    })
}

/// Sends the request to moto on a fresh connection and reads its answer.
async fn forward(shared: &Shared, request: &Message) -> Option<Message> {
    let exchange = async {
        let mut upstream = TcpStream::connect(shared.upstream).await.ok()?;
        upstream.write_all(&request.bytes).await.ok()?;
        read_message(&mut upstream).await
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}

/// A throttling error as AWS sends it: JSON for JSON-protocol requests (they carry
/// `X-Amz-Target`), XML for query-protocol ones such as CloudWatch's.
fn throttling_response(request: &Message, number: u32) -> Message {
    let request_id = format!("fault-proxy-{number}");
    let (content_type, body) = if request.header("x-amz-target").is_some() {
        let content_type = request
            .header("content-type")
            .unwrap_or("application/x-amz-json-1.1")
            .to_owned();
        let body = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned();
        (content_type, body)
    } else {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
             <Message>Rate exceeded</Message></Error><RequestId>{request_id}</RequestId>\
             </ErrorResponse>"
        );
        ("text/xml".to_owned(), body)
    };
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: {request_id}\r\n\r\n",
        body.len()
    );
    let mut bytes = head.clone().into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    Message {
        bytes,
        head_len: head.len(),
        headers: Vec::new(),
        closes: false,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
