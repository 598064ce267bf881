//! A process the test talks to while it runs: its output is collected by a reader thread, the
//! test waits for text to appear (a prompt with a push number, a pairing link) and acts.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running process whose stdout and stderr are collected as they come.
pub struct Live {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().expect("buffer").extend_from_slice(&buf[..n]);
        }
    })
}

impl Live {
    /// Spawns `cmd` with piped stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Live {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), out.clone()),
            collect(child.stderr.take().expect("stderr"), err.clone()),
        ];
        Live { stdin: child.stdin.take(), child, out, err, readers }
    }

    /// Everything written so far to stdout and stderr (lossy UTF-8).
    pub fn text(&self) -> String {
        let o = self.out.lock().expect("buffer").clone();
        let e = self.err.lock().expect("buffer").clone();
        format!("{}{}", String::from_utf8_lossy(&o), String::from_utf8_lossy(&e))
    }

    /// Waits until `find` returns something for the output so far (checked every 50 ms);
    /// panics with the output after `timeout`.
    pub fn wait_for<T>(&self, timeout: Duration, find: impl Fn(&str) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            let text = self.text();
            if let Some(t) = find(&text) {
                return t;
            }
            assert!(start.elapsed() < timeout, "waited {timeout:?}; output so far:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes a line to the process's stdin.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(format!("{line}\n").as_bytes()).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes stdin and waits for the process; returns everything it wrote.
    pub fn finish(mut self) -> Output {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait");
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stdout = std::mem::take(&mut *self.out.lock().expect("buffer"));
        let stderr = std::mem::take(&mut *self.err.lock().expect("buffer"));
        Output { status, stdout, stderr }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if self.readers.is_empty() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number in a push prompt ("... type 42 on it to approve ..." or "... choose 42 ..."), if
/// one was shown (the last one).
pub fn push_number(text: &str) -> Option<u8> {
    let at = ["type ", "choose "]
        .iter()
        .flat_map(|w| text.match_indices(w).map(|(i, _)| i + w.len()))
        .filter(|i| text[*i..].starts_with(|c: char| c.is_ascii_digit()))
        .max()?;
    let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
