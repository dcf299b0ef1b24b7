//! A scripted [`PacketSource`]: frames given in advance, for tests of the capture loop and of
//! everything behind it, without an interface or privileges.

use std::time::Duration;

use super::{Backend, LiveError, LiveErrorKind, PacketSource, SourceInfo, SourceStats};
use crate::capture::Frame;
use crate::model::LinkType;

/// Hands out its frames in order, as fast as asked, then waits out every timeout with nothing,
/// as an idle interface would.
#[derive(Debug)]
pub struct ScriptedSource {
    info: SourceInfo,
    frames: Vec<(i64, Vec<u8>)>,
    next: usize,
    fail_after: Option<usize>,
    drops: u64,
}

impl ScriptedSource {
    /// A source of `frames` (timestamp in nanoseconds, bytes), all of link type `link`.
    pub fn new(link: LinkType, frames: Vec<(i64, Vec<u8>)>) -> ScriptedSource {
        ScriptedSource {
            info: SourceInfo {
                interface: "scripted".to_string(),
                backend: Backend::Pnet,
                link,
                loopback: false,
                buffer: None,
                filter: None,
                warnings: Vec::new(),
            },
            frames,
            next: 0,
            fail_after: None,
            drops: 0,
        }
    }

    /// Fails (as an interface that went away) once `n` frames were handed out.
    pub fn failing_after(mut self, n: usize) -> ScriptedSource {
        self.fail_after = Some(n);
        self
    }

    /// Reports `n` packets dropped by the kernel.
    pub fn with_drops(mut self, n: u64) -> ScriptedSource {
        self.drops = n;
        self
    }
}

impl PacketSource for ScriptedSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_batch(
        &mut self,
        timeout: Duration,
        max: usize,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        let mut n = 0;
        while n < max && self.next < self.frames.len() {
            if self.fail_after == Some(self.next) {
                return Err(LiveError::new(
                    &self.info.interface,
                    LiveErrorKind::Os {
                        what: "receive",
                        message: "scripted failure".to_string(),
                    },
                ));
            }
            let (ts, data) = &self.frames[self.next];
            sink(&Frame {
                ts_ns: *ts,
                data,
                orig_len: data.len() as u32,
                link: self.info.link,
                iface: 0,
            });
            self.next += 1;
            n += 1;
        }
        if n == 0 {
            std::thread::sleep(timeout);
        }
        Ok(n)
    }

    fn stats(&mut self) -> SourceStats {
        SourceStats {
            received: Some(self.next as u64 + self.drops),
            dropped: Some(self.drops),
            if_dropped: None,
        }
    }
}
