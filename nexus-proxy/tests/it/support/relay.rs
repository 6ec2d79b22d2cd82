//! A TCP relay on loopback that records what clients send through it: to see which payload
//! mode a real client chose, on the wire.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Relays `127.0.0.1:PORT` to a target and keeps every byte clients sent.
pub struct Relay {
    pub addr: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sent: Arc<Mutex<Vec<u8>>> = Arc::default();
        let record = Arc::clone(&sent);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let upstream = async move {
                        let mut buf = vec![0_u8; 64 * 1024];
                        loop {
                            match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if let Ok(mut r) = record.lock() {
                                        r.extend_from_slice(&buf[..n]);
                                    }
                                    if sw.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let downstream = async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(upstream, downstream);
                });
            }
        });
        Self { addr, sent, accept }
    }

    /// Everything clients sent so far, as text (bodies lossily).
    pub fn sent(&self) -> String {
        self.sent
            .lock()
            .map(|s| String::from_utf8_lossy(&s).into_owned())
            .unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut s) = self.sent.lock() {
            s.clear();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
