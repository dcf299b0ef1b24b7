//! The pnet backend: pnet's datalink channel (BPF devices on macOS and the BSDs, `PF_PACKET` on
//! Linux).
//!
//! The default where neither `af-packet` nor `libpcap` is available. It reads one frame per call
//! (one `poll` and one `recvfrom`), gives no kernel timestamp (frames are stamped when read), no
//! direction and no drop counters. On Linux the socket is made and configured by
//! `afpacket::socket_for_pnet` first (outgoing loopback copies ignored, 32 MiB buffer) and then
//! handed to pnet, so that loopback packets are not seen twice; the backend is kept there for
//! comparison with `af-packet` (`--backend pnet`).

use std::io;
use std::time::Duration;

use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender};

use super::{
    no_such_interface, Backend, LiveError, OpenOptions, PacketSource, SourceInfo, SourceStats,
    POLL_INTERVAL, SNAPLEN,
};
use crate::capture::Frame;
use crate::model::LinkType;

pub(super) struct PnetSource {
    rx: Box<dyn DataLinkReceiver>,
    // Kept open with the receiver; never used to send.
    _tx: Box<dyn DataLinkSender>,
    info: SourceInfo,
}

impl std::fmt::Debug for PnetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PnetSource")
            .field("info", &self.info)
            .finish()
    }
}

impl PnetSource {
    pub(super) fn open(iface: &str, opts: &OpenOptions) -> Result<PnetSource, LiveError> {
        let ni = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == iface)
            .ok_or_else(|| no_such_interface(iface))?;
        #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
        let mut config = pnet_datalink::Config {
            read_buffer_size: SNAPLEN,
            read_timeout: Some(POLL_INTERVAL),
            promiscuous: opts.promisc && !ni.is_loopback(),
            ..pnet_datalink::Config::default()
        };
        #[cfg(target_os = "linux")]
        let (buffer, mut warnings) = {
            let (fd, _loopback, conf) = super::afpacket::socket_for_pnet(iface)?;
            config.socket_fd = Some(fd);
            let mut warnings = conf.warnings;
            if conf.drop_outgoing {
                warnings.push(format!(
                    "this kernel cannot ignore outgoing loopback copies, and pnet cannot tell them: \
                     packets on '{iface}' are counted twice; use --backend af-packet"
                ));
            }
            (conf.buffer, warnings)
        };
        #[cfg(not(target_os = "linux"))]
        let (buffer, mut warnings): (Option<usize>, Vec<String>) = (None, Vec::new());
        if !ni.is_up() {
            warnings.push(format!(
                "interface '{iface}' is down: nothing arrives until it is up"
            ));
        }
        let (tx, rx) = match pnet_datalink::channel(&ni, config) {
            Ok(Channel::Ethernet(tx, rx)) => (tx, rx),
            Ok(_) => {
                return Err(LiveError::new(
                    iface,
                    super::LiveErrorKind::BackendUnavailable {
                        backend: Backend::Pnet,
                        why: "pnet offers no Ethernet channel for it",
                    },
                ))
            }
            Err(e) => return Err(LiveError::os(iface, "open a pnet channel", e)),
        };
        Ok(PnetSource {
            rx,
            _tx: tx,
            info: SourceInfo {
                interface: iface.to_string(),
                backend: Backend::Pnet,
                link: LinkType::ETHERNET,
                loopback: ni.is_loopback(),
                buffer,
                filter: None,
                warnings,
            },
        })
    }
}

impl PacketSource for PnetSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// One frame per call: pnet waits (up to its read timeout, [`POLL_INTERVAL`]) before every
    /// read, so reading on would block even when the caller wants to look at its clock.
    fn next_batch(
        &mut self,
        _timeout: Duration,
        max: usize,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        if max == 0 {
            return Ok(0);
        }
        match self.rx.next() {
            Ok(data) => {
                let ts_ns = super::now_ns();
                sink(&Frame {
                    ts_ns,
                    data,
                    orig_len: data.len() as u32,
                    link: self.info.link,
                    iface: 0,
                });
                Ok(1)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(LiveError::os(&self.info.interface, "receive", e)),
        }
    }

    fn stats(&mut self) -> SourceStats {
        SourceStats::default()
    }
}
