//! A TCP proxy on loopback in front of the simulated cluster, to take the API server away
//! and bring it back the way networks do: `Refuse` closes every connection at once (the
//! server is down), `Blackhole` accepts and never answers (a VPN that drops packets, a wedged load
//! balancer), `Pass` forwards. Switching away from `Pass` cuts the open connections too.

use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Refuse,
    Blackhole,
}

pub struct TcpProxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(c) = self.conns.lock() {
            for t in c.iter() {
                t.abort();
            }
        }
    }
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `upstream` (host:port).
    pub async fn start(upstream: String, mode: Mode) -> TcpProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = watch::channel(mode);
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let kept = conns.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let mode = *rx.borrow();
                let mut changes = rx.clone();
                let upstream = upstream.clone();
                let t = tokio::spawn(async move {
                    match mode {
                        // Closed at once: the client's request fails as against a
                        // server that is down.
                        Mode::Refuse => drop(client),
                        Mode::Blackhole => {
                            let mut client = client;
                            let mut buf = [0u8; 4096];
                            // Read and drop whatever comes; never answer.
                            while let Ok(n) = client.read(&mut buf).await {
                                if n == 0 {
                                    break;
                                }
                            }
                        }
                        Mode::Pass => {
                            let Ok(server) = TcpStream::connect(&upstream).await else {
                                return;
                            };
                            let (mut cr, mut cw) = client.into_split();
                            let (mut sr, mut sw) = server.into_split();
                            let up = tokio::io::copy(&mut cr, &mut sw);
                            let down = tokio::io::copy(&mut sr, &mut cw);
                            tokio::select! {
                                _ = up => {}
                                _ = down => {}
                                _ = changes.wait_for(|m| *m != Mode::Pass) => {}
                            }
                        }
                    }
                });
                if let Ok(mut c) = kept.lock() {
                    c.retain(|t| !t.is_finished());
                    c.push(t);
                }
            }
        });
        TcpProxy {
            port,
            mode: tx,
            task,
            conns,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
        if mode != Mode::Pass {
            if let Ok(mut c) = self.conns.lock() {
                for t in c.drain(..) {
                    t.abort();
                }
            }
        }
    }

    /// A copy of `kubeconfig` (text) that points at this proxy instead of `server`.
    pub fn kubeconfig(&self, kubeconfig: &str, server: &str) -> String {
        let host = server
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        kubeconfig.replace(host, &format!("127.0.0.1:{}", self.port))
    }
}
