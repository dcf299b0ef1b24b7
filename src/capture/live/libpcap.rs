//! The libpcap backend (cargo feature `libpcap`): libpcap on Linux and macOS, Npcap on Windows,
//! through the `pcap` crate. The only backend that applies a BPF filter (`--filter`), compiled
//! by libpcap when the capture opens, so a bad expression stops the run before anything is
//! captured.
//!
//! libpcap handles loopback direction, buffers and drop counters itself; its counters are 32-bit
//! and wrap, so they are summed here as differences.
//!
//! Waiting: on Linux, libpcap's read timeout does not expire while no packet arrives (its
//! TPACKET_V3 ring wakes the reader only for a filled or retired block), so a blocking read on a
//! quiet interface, or behind a filter that matches nothing, would never see Ctrl-C or the end of
//! `--duration`. On Unix the capture is therefore non-blocking and waits with `poll` on libpcap's
//! descriptor, with the caller's timeout; on Windows, Npcap's read timeout works and is used.

use std::time::Duration;

use pcap::{Active, Capture};

use super::{
    no_such_interface, Backend, LiveError, LiveErrorKind, OpenOptions, PacketSource, SourceInfo,
    SourceStats, POLL_INTERVAL, RECV_BUFFER, SNAPLEN,
};
use crate::capture::Frame;
use crate::model::LinkType;

pub(super) struct LibpcapSource {
    cap: Capture<Active>,
    info: SourceInfo,
    last: (u32, u32, u32),
    totals: (u64, u64, u64),
}

impl std::fmt::Debug for LibpcapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibpcapSource")
            .field("info", &self.info)
            .finish()
    }
}

/// A libpcap `DLT_` value as the `LINKTYPE_` value files use. They differ only for raw IP and
/// OpenBSD's loopback.
fn linktype_of_dlt(dlt: i32) -> LinkType {
    match dlt {
        #[cfg(target_os = "openbsd")]
        12 => LinkType::LOOP,
        12 | 14 => LinkType::RAW,
        d => LinkType(d.max(0) as u32),
    }
}

fn open_error(iface: &str, what: &'static str, e: pcap::Error) -> LiveError {
    let message = e.to_string();
    let lower = message.to_ascii_lowercase();
    if lower.contains("no such device") || lower.contains("doesn't exist") {
        no_such_interface(iface)
    } else if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::new(iface, LiveErrorKind::Permission { os: message })
    } else {
        LiveError::new(iface, LiveErrorKind::Os { what, message })
    }
}

impl LibpcapSource {
    pub(super) fn open(iface: &str, opts: &OpenOptions) -> Result<LibpcapSource, LiveError> {
        let cap = Capture::from_device(iface)
            .map_err(|e| open_error(iface, "open the device", e))?
            .promisc(opts.promisc)
            .snaplen(SNAPLEN as i32)
            .buffer_size(RECV_BUFFER as i32)
            // Not immediate mode: on Linux it retires a ring block per millisecond, so a 32 MiB
            // ring of 64 mostly empty blocks filled in 64 ms and dropped a third of a 130k
            // packets/s loopback stream here. Blocks retire when full or after this timeout
            // (and on Windows it is the read timeout).
            .timeout(POLL_INTERVAL.as_millis() as i32)
            .open()
            .map_err(|e| open_error(iface, "start the capture", e))?;
        #[cfg(unix)]
        let cap = cap
            .setnonblock()
            .map_err(|e| open_error(iface, "make the capture non-blocking", e))?;
        let mut cap = cap;
        if let Some(f) = &opts.filter {
            cap.filter(f, true).map_err(|e| {
                LiveError::new(
                    iface,
                    LiveErrorKind::BadFilter {
                        filter: f.clone(),
                        message: e.to_string(),
                    },
                )
            })?;
        }
        let link = linktype_of_dlt(cap.get_datalink().0);
        let loopback = super::interfaces()
            .iter()
            .any(|i| i.name == iface && i.loopback);
        Ok(LibpcapSource {
            cap,
            info: SourceInfo {
                interface: iface.to_string(),
                backend: Backend::Libpcap,
                link,
                loopback,
                buffer: Some(RECV_BUFFER),
                filter: opts.filter.clone(),
                warnings: Vec::new(),
            },
            last: (0, 0, 0),
            totals: (0, 0, 0),
        })
    }
}

impl LibpcapSource {
    /// Waits up to `timeout` for libpcap's descriptor to be readable; `false` if nothing came.
    #[cfg(unix)]
    fn wait(&self, timeout: Duration) -> Result<bool, LiveError> {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.cap.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one pollfd we own.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(LiveError::os(&self.info.interface, "wait for packets", e));
        }
        Ok(r > 0)
    }

    /// Npcap's reads already waited for their timeout.
    #[cfg(not(unix))]
    fn wait(&self, _timeout: Duration) -> Result<bool, LiveError> {
        Ok(false)
    }
}

impl PacketSource for LibpcapSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Reads what is ready, up to `max` frames, after waiting up to `timeout` when nothing is.
    fn next_batch(
        &mut self,
        timeout: Duration,
        max: usize,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        let mut n = 0;
        let mut waited = false;
        while n < max {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts_ns = super::epoch_ns(p.header.ts.tv_sec, p.header.ts.tv_usec, 1_000);
                    sink(&Frame {
                        ts_ns,
                        data: p.data,
                        orig_len: p.header.len.max(p.header.caplen),
                        link: self.info.link,
                        iface: 0,
                    });
                    n += 1;
                }
                // Non-blocking: nothing ready. (Windows: the read timeout passed.)
                Err(pcap::Error::TimeoutExpired) => {
                    if n > 0 || waited || !self.wait(timeout)? {
                        break;
                    }
                    waited = true;
                }
                Err(e) => {
                    return Err(LiveError::new(
                        &self.info.interface,
                        LiveErrorKind::Os {
                            what: "receive",
                            message: e.to_string(),
                        },
                    ))
                }
            }
        }
        Ok(n)
    }

    fn stats(&mut self) -> SourceStats {
        if let Ok(s) = self.cap.stats() {
            self.totals.0 += u64::from(s.received.wrapping_sub(self.last.0));
            self.totals.1 += u64::from(s.dropped.wrapping_sub(self.last.1));
            self.totals.2 += u64::from(s.if_dropped.wrapping_sub(self.last.2));
            self.last = (s.received, s.dropped, s.if_dropped);
        }
        SourceStats {
            received: Some(self.totals.0),
            dropped: Some(self.totals.1),
            if_dropped: Some(self.totals.2),
        }
    }
}
