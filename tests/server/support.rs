//! Shared by the server tests (API and browser): what both test binaries share
//! (`tests/support`: the binary, and the index of `data/` shared with the `cli` binary), and
//! real servers on free loopback ports.
//!
//! Stable for other test files: [`shared_server`] (the server over the shared index, started
//! once), [`start_server`] (a new server over any index), [`Server::url`], [`get`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use paperscope::ModelSource;
use paperscope::server::{self, AppState};

pub use crate::shared::*;

/// A running server: its address. It serves until the test process ends.
pub struct Server {
    /// Where it listens (a free loopback port).
    pub address: SocketAddr,
}

impl Server {
    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

/// Starts a server over `index` on a free loopback port, in this process (on its own thread,
/// with the server's own runtime), and returns once it accepts connections.
pub fn start_server(index: &Path) -> Server {
    let state = AppState::open(index, &ModelSource::default()).expect("index opens");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let address = listener.local_addr().expect("bound address");
    std::thread::spawn(move || server::run(listener, state));
    Server { address }
}

/// The server over the shared index, started once per run.
pub fn shared_server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start_server(Path::new(shared_index())))
}

/// A GET answer: status, content type and body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build()
    })
}

/// GET `url` with a real HTTP client; any status is an answer (only a transport failure panics).
pub fn get(url: &str) -> Answer {
    let response = match agent().get(url).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("GET {url}: {error}"),
    };
    let status = response.status();
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_string();
    let body = response.into_string().expect("a UTF-8 body");
    Answer {
        status,
        content_type,
        body,
    }
}

/// GET `path` on the shared server, expecting 200 and JSON.
pub fn get_json(path: &str) -> serde_json::Value {
    let answer = get(&shared_server().url(path));
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer.json()
}

/// Sends `request` as raw bytes (for what an HTTP client library refuses to send) and returns
/// the status line's code.
pub fn raw_status(server: &Server, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(server.address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(request).expect("request sent");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}
