//! A TCP proxy in front of a server (moto) that the test can take down and bring back: while
//! down, open connections are cut and new ones are closed as soon as they are accepted, which
//! is what a client sees of a stopped or unreachable service. The AWS SDK speaks to it as to
//! the real endpoint, with its own retries and timeouts.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpProxy {
    address: SocketAddr,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<TcpProxy> {
        Self::with_latency(target, Duration::ZERO).await
    }

    /// The same, holding each request back by `latency` on its way to `target`: an in-region
    /// round trip, which loopback does not have. Each piece read is held back, so a request
    /// whose head and body arrive apart pays it twice.
    pub async fn with_latency(target: SocketAddr, latency: Duration) -> std::io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (up, watch_up) = watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*watch_up.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, target, watch_up.clone(), latency));
            }
        });
        Ok(TcpProxy { address, up, task })
    }

    /// `http://127.0.0.1:PORT`, for an SDK's endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Cuts every open connection and refuses new ones until `up`.
    pub fn down(&self) {
        let _ = self.up.send(false);
    }

    pub fn up(&self) {
        let _ = self.up.send(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    mut client: TcpStream,
    target: SocketAddr,
    mut up: watch::Receiver<bool>,
    latency: Duration,
) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    if latency.is_zero() {
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            _ = up.wait_for(|up| !*up) => {}
        }
        return;
    }
    let (mut from_client, mut to_server) = client.into_split();
    let (mut from_server, mut to_client) = server.into_split();
    let requests = async {
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            tokio::time::sleep(latency).await;
            if to_server.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    let answers = tokio::io::copy(&mut from_server, &mut to_client);
    tokio::select! {
        _ = requests => {}
        _ = answers => {}
        _ = up.wait_for(|up| !*up) => {}
    }
}
