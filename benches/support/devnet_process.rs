//! A devnet in its own process (`session-gateway devnet`), so that a bench's CPU and memory
//! figures are the gateway's own: the service nodes' relaying and storage work is done (and
//! counted) in the child.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use session_gateway::network::NetworkConfig;

/// The running child and the network config that points at it.
pub struct DevnetProcess {
    child: Child,
    /// Its seed and file server, the other settings at their defaults.
    pub config: NetworkConfig,
}

impl DevnetProcess {
    /// Starts `session-gateway devnet --nodes N --swarm-size S` and reads its ready line.
    #[allow(dead_code)] // each bench uses one of the two
    pub fn spawn(nodes: usize, swarm_size: usize) -> Self {
        Self::spawn_with_faults(nodes, swarm_size, "")
    }

    /// As [`DevnetProcess::spawn`], with `--faults SPEC` (the devnet's fault grammar) unless
    /// `faults` is empty.
    pub fn spawn_with_faults(nodes: usize, swarm_size: usize, faults: &str) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_session-gateway"));
        command
            .args(["devnet", "--nodes", &nodes.to_string()])
            .args(["--swarm-size", &swarm_size.to_string()]);
        if !faults.is_empty() {
            command.args(["--faults", faults]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the devnet binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the devnet's ready line");
        let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
        let text = |v: &serde_json::Value| v.as_str().expect("a string").to_owned();
        let x25519: [u8; 32] = hex::decode(text(&ready["file_server"]["pubkey_x25519"]))
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let config = NetworkConfig::for_network(
            &text(&ready["seed"]),
            &text(&ready["file_server"]["url"]),
            &x25519,
        );
        Self { child, config }
    }

    /// The child's process id.
    #[allow(dead_code)] // not every bench pins the child
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's CPU seconds so far (user + system).
    #[allow(dead_code)] // not every bench reads it
    pub fn cpu_secs(&self) -> f64 {
        crate::process::cpu_secs_of(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for DevnetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
