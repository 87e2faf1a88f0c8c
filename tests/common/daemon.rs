//! The real binary as a child process: started on an ephemeral loopback port with JSON logs,
//! its standard error collected for assertions, signalled like systemd would, killed when the
//! test ends however it ends.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cloud-task-exporter");

pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    /// What the log reader sends once it sees the line waited for.
    ready: Option<std::sync::mpsc::Receiver<String>>,
}

impl Daemon {
    /// Starts the exporter with `args` (plus a loopback listen address and JSON logs) and
    /// waits until it listens. Panics with its output if it exits first.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut daemon = Daemon::launch(args, env, |log| {
            log["fields"]["address"].as_str().map(str::to_owned)
        });
        daemon.addr = daemon.ready("listen").parse().expect("a socket address");
        daemon
    }

    /// Starts the exporter as [`Daemon::start`] does, but waits only until it logs a line
    /// whose message contains `needle` (its `addr` stays unset).
    pub fn start_until(args: &[&str], env: &[(&str, &str)], needle: &'static str) -> Daemon {
        let mut daemon = Daemon::launch(args, env, move |log| {
            let message = log["fields"]["message"].as_str()?;
            message.contains(needle).then(|| message.to_owned())
        });
        daemon.ready(&format!("log {needle:?}"));
        daemon
    }

    /// Spawns the exporter; its log reader sends what `ready` finds in a line, once.
    fn launch(
        args: &[&str],
        env: &[(&str, &str)],
        ready: impl Fn(&serde_json::Value) -> Option<String> + Send + 'static,
    ) -> Daemon {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .args(["--web.listen-address=127.0.0.1:0", "--log.format=json"])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start the exporter");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let collected = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(log) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(found) = ready(&log)
                {
                    let _ = ready_tx.send(found);
                }
                collected.lock().unwrap().push(line);
            }
        });
        Daemon {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            logs,
            ready: Some(ready_rx),
        }
    }

    /// Waits for what the log reader looks for; panics with the output if the exporter exits
    /// or takes 20 s.
    fn ready(&mut self, what: &str) -> String {
        let found = self
            .ready
            .take()
            .expect("waited for once")
            .recv_timeout(Duration::from_secs(20));
        match found {
            Ok(found) => found,
            Err(_) => {
                let status = self.wait_exit(Duration::from_secs(1));
                panic!(
                    "the exporter did not {what} ({status:?}):\n{}",
                    self.logs().join("\n")
                );
            }
        }
    }

    /// Every line it has written to standard error so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`, and returns it.
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> String {
        let until = Instant::now() + within;
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < until,
                "no log line with {needle:?} within {within:?}:\n{}",
                self.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal by name (`HUP`, `TERM`, `INT`), as `systemctl reload` or `stop` would,
    /// at once (no `kill` process in between, so that it can come right after the start).
    pub fn signal(&self, name: &str) {
        use rustix::process::{Pid, Signal, kill_process};
        let signal = match name {
            "HUP" => Signal::HUP,
            "TERM" => Signal::TERM,
            "INT" => Signal::INT,
            other => panic!("no signal {other} here"),
        };
        let pid = i32::try_from(self.child.id())
            .ok()
            .and_then(Pid::from_raw)
            .expect("a process id");
        kill_process(pid, signal).unwrap_or_else(|e| panic!("kill -s {name}: {e}"));
    }

    /// [`Daemon::wait_exit`] for async tests, which must not block their runtime; the daemon
    /// comes back for its logs.
    pub async fn exited(mut self, within: Duration) -> (Option<ExitStatus>, Daemon) {
        tokio::task::spawn_blocking(move || (self.wait_exit(within), self))
            .await
            .expect("waiting for the exporter to exit")
    }

    /// Waits for the process to exit, up to `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
