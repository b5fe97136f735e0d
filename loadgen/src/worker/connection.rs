//! The connection to the master: one ZeroMQ DEALER socket whose identity is the worker's
//! node id (the master's ROUTER routes its replies by it), one frame per message.
//!
//! The socket is split: a reader task forwards every frame to a channel, so the run loop
//! waits on the master's messages and its own timers in one `select!` and sends
//! without holding the reader. The socket does not reconnect by itself when the master
//! goes away; [`Connection::reconnect`] builds a new one with the same identity.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqError};

use super::messages::Envelope;

/// The master could not be reached or a frame could not be sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    /// No connection was made within the time allowed.
    #[error("cannot connect to the Locust master at {endpoint}: {message}")]
    Connect {
        /// `tcp://host:port`.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// Sending failed (no master connected, or the connection broke).
    #[error("cannot send {kind} to the master: {message}")]
    Send {
        /// The message type.
        kind: String,
        /// Why.
        message: String,
    },
}

/// The worker's socket to the master, and the frames read from it.
#[derive(Debug)]
pub(crate) struct Connection {
    endpoint: String,
    node_id: String,
    connect_timeout: Duration,
    send: Sender,
    frames: mpsc::Receiver<Bytes>,
    reader: JoinHandle<()>,
}

/// The send half (the crate's type has no `Debug`).
struct Sender(zeromq::DealerSendHalf);

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DealerSendHalf")
    }
}

impl Connection {
    /// Connects to `tcp://host:port` as `node_id`, waiting up to `connect_timeout` for
    /// the master to accept.
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        node_id: &str,
        connect_timeout: Duration,
    ) -> Result<Self, ConnectionError> {
        let endpoint = format!("tcp://{}:{port}", bracket_ipv6(host));
        let (send, frames, reader) = open(&endpoint, node_id, connect_timeout).await?;
        Ok(Self {
            endpoint,
            node_id: node_id.to_owned(),
            connect_timeout,
            send,
            frames,
            reader,
        })
    }

    /// The master's endpoint.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Closes this socket and opens a new one with the same identity.
    pub(crate) async fn reconnect(&mut self) -> Result<(), ConnectionError> {
        self.reader.abort();
        let (send, frames, reader) =
            open(&self.endpoint, &self.node_id, self.connect_timeout).await?;
        self.send = send;
        self.frames = frames;
        self.reader = reader;
        Ok(())
    }

    /// Sends one message as one frame.
    pub(crate) async fn send(&mut self, message: &Envelope) -> Result<(), ConnectionError> {
        let frame = zeromq::ZmqMessage::from(message.encode());
        self.send
            .0
            .send(frame)
            .await
            .map_err(|e| ConnectionError::Send {
                kind: message.kind.clone(),
                message: describe(&e),
            })
    }

    /// The next frame from the master; `None` once the reader has stopped (the socket
    /// failed), after which [`Self::reconnect`] is the way on.
    pub(crate) async fn recv(&mut self) -> Option<Bytes> {
        self.frames.recv().await
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn open(
    endpoint: &str,
    node_id: &str,
    connect_timeout: Duration,
) -> Result<(Sender, mpsc::Receiver<Bytes>, JoinHandle<()>), ConnectionError> {
    let err = |message: String| ConnectionError::Connect {
        endpoint: endpoint.to_owned(),
        message,
    };
    let identity = zeromq::util::PeerIdentity::try_from(node_id.as_bytes().to_vec())
        .map_err(|e| err(format!("node id {node_id:?} is not a valid identity: {e}")))?;
    let mut options = zeromq::SocketOptions::default();
    options.peer_identity(identity);
    options.connect_timeout(connect_timeout);
    let mut socket = zeromq::DealerSocket::with_options(options);
    socket
        .connect(endpoint)
        .await
        .map_err(|e| err(describe(&e)))?;
    let (send, mut recv) = socket.split();
    let (tx, frames) = mpsc::channel(256);
    let reader = tokio::spawn(async move {
        loop {
            match recv.recv().await {
                Ok(message) => {
                    // Locust's master sends one frame per message.
                    let frame = message.into_vec().into_iter().next().unwrap_or_default();
                    if tx.send(frame).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!("The connection to the master ended: {}", describe(&e));
                    return;
                }
            }
        }
    });
    Ok((Sender(send), frames, reader))
}

/// `[::1]` for an IPv6 literal, the host as given otherwise.
fn bracket_ipv6(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn describe(e: &ZmqError) -> String {
    match e {
        ZmqError::ReturnToSender { reason, .. } => (*reason).to_owned(),
        other => other.to_string(),
    }
}
