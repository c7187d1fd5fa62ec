//! Real `redis-server` and `memcached` processes for tests, each on a free
//! loopback port, stopped when dropped, and killed even if the test process
//! dies (a shell supervisor holds our stdin and kills the server at its end).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Client;

/// Which server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `redis-server`.
    Redis,
    /// `memcached`.
    Memcached,
}

impl Kind {
    fn program(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server",
            Kind::Memcached => "memcached",
        }
    }

    fn debian_package(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server",
            Kind::Memcached => "memcached",
        }
    }

    /// A request, and the start of the answer a ready server gives.
    fn probe(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Redis => (b"PING\r\n", b"+PONG"),
            Kind::Memcached => (b"version\r\n", b"VERSION"),
        }
    }
}

/// A running (or stopped) server process.
pub struct Server {
    kind: Kind,
    /// The program's path (found on `PATH`, or in `/usr/sbin` or `/usr/bin`).
    program: PathBuf,
    port: u16,
    extra_args: Vec<String>,
    dir: PathBuf,
    supervisor: Option<Child>,
}

const START_TIMEOUT: Duration = Duration::from_secs(10);
const PORT_ATTEMPTS: usize = 5;

impl Server {
    /// Starts a server of `kind` on a free loopback port, or panics saying what to install.
    pub fn start(kind: Kind) -> Server {
        Server::start_with(kind, &[])
    }

    /// The same, with extra command-line arguments for the server.
    pub fn start_with(kind: Kind, extra_args: &[&str]) -> Server {
        let program = find_program(kind.program()).unwrap_or_else(|| {
            panic!(
                "`{}` is not installed; install it with `apt-get install -y {}` \
                 (the README's test command does this)",
                kind.program(),
                kind.debian_package()
            )
        });
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!(
                "cachetool-{}-{}-{port}",
                kind.program(),
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("a temporary directory");
            let mut server = Server {
                kind,
                program: program.clone(),
                port,
                extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
                dir,
                supervisor: None,
            };
            match server.try_start() {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("could not start {}: {last_error}", kind.program());
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:{port}`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The kind of server it is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `redis://127.0.0.1:{port}/` or `memcache://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Redis => format!("redis://127.0.0.1:{}/", self.port),
            Kind::Memcached => format!("memcache://127.0.0.1:{}", self.port),
        }
    }

    /// A raw client of this server (see [`Client`]).
    pub fn client(&self) -> Client {
        Client::new(self.kind, &self.address())
    }

    /// The server's working directory (Redis cluster config files live there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server and waits until it has exited.
    pub fn stop(&mut self) {
        if let Some(mut supervisor) = self.supervisor.take() {
            // Closing its stdin tells the supervisor to kill the server, wait for
            // it and remove its directory (a restart makes it again).
            drop(supervisor.stdin.take());
            let _ = supervisor.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.try_start() {
                Ok(()) => return,
                Err(error) if Instant::now() > deadline => {
                    panic!("could not restart {}: {error}", self.kind.program())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Sends one raw request and returns the raw answer (as much as arrives in one read).
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.address()).expect("connect to the test server");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = vec![0; 1 << 16];
        let read = stream.read(&mut answer).unwrap_or(0);
        answer.truncate(read);
        answer
    }

    fn command(&self) -> Vec<String> {
        let port = self.port.to_string();
        let mut args: Vec<String> = match self.kind {
            Kind::Redis => vec![
                self.program.display().to_string(),
                "--port".into(),
                port,
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                "".into(),
                "--appendonly".into(),
                "no".into(),
                "--dir".into(),
                self.dir.display().to_string(),
            ],
            Kind::Memcached => vec![
                self.program.display().to_string(),
                "-l".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port,
                "-U".into(),
                "0".into(),
                "-m".into(),
                "64".into(),
                "-t".into(),
                "2".into(),
                "-u".into(),
                "root".into(),
            ],
        };
        args.extend(self.extra_args.iter().cloned());
        args
    }

    fn try_start(&mut self) -> Result<(), String> {
        // The server runs in the background of a shell that waits on our stdin: at
        // its end (a stop, or this process dying) the shell kills the server and
        // removes its directory. (A server kept in a `static` is never dropped, nor
        // is one a test left stopped: the shell is what cleans up after them.)
        let script = r#""$@" >"$CACHETOOL_LOG" 2>&1 & pid=$!; read _; kill $pid 2>/dev/null; wait $pid; rm -rf "$CACHETOOL_DIR""#;
        std::fs::create_dir_all(&self.dir)
            .map_err(|error| format!("create {:?}: {error}", self.dir))?;
        let log = self.dir.join("server.log");
        let supervisor = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("supervisor")
            .args(self.command())
            .env("CACHETOOL_LOG", &log)
            .env("CACHETOOL_DIR", &self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("spawn sh: {error}"))?;
        self.supervisor = Some(supervisor);
        let deadline = Instant::now() + START_TIMEOUT;
        let (request, expected) = self.kind.probe();
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.supervisor.as_mut().unwrap().try_wait() {
                self.supervisor = None;
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("the server exited: {log}"));
            }
            if let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut answer = [0u8; 64];
                if stream.write_all(request).is_ok() {
                    if let Ok(read) = stream.read(&mut answer) {
                        if answer[..read].starts_with(expected) {
                            return Ok(());
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        Err(format!("not ready within {START_TIMEOUT:?}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free loopback port");
    listener.local_addr().unwrap().port()
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
