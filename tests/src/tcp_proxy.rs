//! A TCP proxy in front of a server (moto) that the test can take down and bring back: while
//! down, open connections are cut and new ones are closed as soon as they are accepted, which
//! is what a client sees of a stopped or unreachable service. The AWS SDK speaks to it as to
//! the real endpoint, with its own retries and timeouts.

use std::net::SocketAddr;

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
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (up, watch_up) = watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*watch_up.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, target, watch_up.clone()));
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

async fn forward(mut client: TcpStream, target: SocketAddr, mut up: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = up.wait_for(|up| !*up) => {}
    }
}
