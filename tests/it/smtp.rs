//! A real SMTP listener for tests: speaks enough of RFC 5321 for lettre and keeps every
//! message it accepts.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::Mutex,
};

#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    pub fn subject(&self) -> String {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_default()
    }

    /// The `Message-ID` (without angle brackets): the outbox row's id.
    pub fn message_id(&self) -> String {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .and_then(|m| m.message_id().map(str::to_string))
            .unwrap_or_default()
    }

    pub fn text(&self) -> String {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .and_then(|m| m.body_text(0).map(|t| t.to_string()))
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .and_then(|m| m.body_html(0).map(|t| t.to_string()))
            .unwrap_or_default()
    }

    /// The `token` query parameter of the first link in the text body.
    pub fn link_token(&self) -> String {
        let text = self.text();
        let start = text.find("token=").expect("mail has no token link") + "token=".len();
        text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
    }
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub received: Arc<Mutex<Vec<ReceivedMail>>>,
    /// Milliseconds to wait before accepting a message (a slow SMTP server).
    pub delay_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Messages whose data arrived (accepted or not yet).
    pub started: Arc<std::sync::atomic::AtomicU64>,
    /// Signalled when a message's data arrived.
    pub data_arrived: Arc<tokio::sync::Notify>,
}

impl SmtpSink {
    /// Starts listening on `port` (0 = any free port) and returns the port.
    pub async fn start_on(&self, port: u16) -> u16 {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind smtp sink");
        let port = listener.local_addr().expect("addr").port();
        let sink = self.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let _ = session(socket, sink).await;
                });
            }
        });
        port
    }

    /// Returns once a message's data has arrived (at once if one already has).
    pub async fn first_data(&self) {
        loop {
            let arrived = self.data_arrived.notified();
            if self.started.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                return;
            }
            arrived.await;
        }
    }

    pub async fn all(&self) -> Vec<ReceivedMail> {
        self.received.lock().await.clone()
    }

    pub async fn to(&self, address: &str) -> Vec<ReceivedMail> {
        self.all().await.into_iter().filter(|m| m.to.iter().any(|t| t == address)).collect()
    }
}

async fn session(socket: tokio::net::TcpStream, sink: SmtpSink) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") || command.starts_with("HELO") {
            write.write_all(b"250 sink.test\r\n").await?;
        } else if command.starts_with("MAIL FROM") {
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..].trim().trim_start_matches('<').trim_end_matches('>').to_lowercase();
            to.push(address);
            write.write_all(b"250 OK\r\n").await?;
        } else if command == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut raw = Vec::new();
            loop {
                let mut data_line = String::new();
                if lines.read_line(&mut data_line).await? == 0 {
                    return Ok(());
                }
                if data_line == ".\r\n" || data_line == ".\n" {
                    break;
                }
                let unstuffed = data_line.strip_prefix('.').unwrap_or(&data_line);
                raw.extend_from_slice(unstuffed.as_bytes());
            }
            sink.started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            sink.data_arrived.notify_waiters();
            let delay = sink.delay_ms.load(std::sync::atomic::Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                // A client that went away while we waited handed nothing off.
                let mut probe = String::new();
                if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(20), lines.read_line(&mut probe)).await {
                    return Ok(());
                }
            }
            if delay == 0 {
                // Kept before the reply: once the sender has its 250, the test can read it.
                sink.received.lock().await.push(ReceivedMail { to: to.clone(), raw });
                write.write_all(b"250 queued\r\n").await?;
                continue;
            }
            // A slow server accepts only once the reply is written: a client that died
            // meanwhile handed nothing off.
            write.write_all(b"250 queued\r\n").await?;
            write.flush().await?;
            sink.received.lock().await.push(ReceivedMail { to: to.clone(), raw });
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // RSET, NOOP and anything else lettre's pool may send.
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}
