//! What the tests run beside the server under test: the `attest` binary itself (operator
//! commands, a second `attest serve`) and the webhook receiver that checks signatures
//! with the third-party `standardwebhooks` package.

use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

/// The `attest` binary with a clean environment: sandbox, `data_dir`, `database_url`,
/// then `env` on top.
fn command(data_dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_attest"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ATTEST_ENV", "sandbox")
        .env("ATTEST_DATA_DIR", data_dir)
        .env("DATABASE_URL", database_url)
        .env("ATTEST_LOG", "warn")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Runs `attest <args>` to completion.
pub fn attest(data_dir: &Path, database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(data_dir, database_url, env).args(args).output().expect("attest binary runs")
}

/// The command's stdout, after checking that it succeeded.
pub fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "attest failed: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The command's stderr, after checking that it refused.
pub fn failed(output: &Output) -> String {
    assert!(!output.status.success(), "attest should have refused: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Everything the command said, to check that no secret was printed.
pub fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A running `attest` child, stopped when dropped (when the test ends however it ends).
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `attest <args>` (a worker, say) in the background.
pub fn spawn(data_dir: &Path, database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    Running(command(data_dir, database_url, env).args(args).stdout(Stdio::null()).spawn().expect("attest binary runs"))
}

/// An `attest serve` child on a free port.
pub struct Serving {
    _child: Running,
    pub base: String,
}

impl Serving {
    /// Starts `attest serve` and waits until `/healthz` answers.
    pub async fn start(data_dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Serving {
        Serving::start_with(data_dir, database_url, &["serve"], env).await
    }

    /// [`Serving::start`] with other arguments (`serve --no-workers`).
    pub async fn start_with(data_dir: &Path, database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Serving {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let child = command(data_dir, database_url, env).args(args).env("ATTEST_ADDR", &addr).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let serving = Serving { _child: Running(child), base: format!("http://{addr}") };
        let probe = reqwest::Client::new();
        for _ in 0..300 {
            if probe.get(format!("{}/healthz", serving.base)).send().await.is_ok_and(|r| r.status() == 200) {
                return serving;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("attest serve did not start on {database_url}");
    }
}

/// The Python receiver (server/tests/support/webhook_receiver.py): it answers by path
/// (`/ok`, `/fail`, `/gone`, `/slow`, …) and logs each request with the indexes of the
/// trusted secrets its signature verifies with.
pub struct Receiver {
    child: Child,
    pub port: u16,
    log: PathBuf,
    secrets: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let (port_file, log, secrets) = (dir.path().join("port"), dir.path().join("log.jsonl"), dir.path().join("secrets"));
        let python = std::env::var("ATTEST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/webhook_receiver.py");
        let mut child = Command::new(&python).arg(script).arg(&port_file).arg(&log).arg(&secrets).spawn().expect("the webhook receiver starts");
        for _ in 0..100 {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                return Receiver { child, port: text.trim().parse().unwrap(), log, secrets, _dir: dir };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the receiver did not start (is `standardwebhooks` installed for {python}? scripts/test installs it)");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The secrets deliveries are checked against, in this order.
    pub fn trust(&self, secrets: &[&str]) {
        std::fs::write(&self.secrets, secrets.join("\n")).unwrap();
    }

    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// Waits until `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..400 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} deliveries, got {:?}", self.received());
    }
}
