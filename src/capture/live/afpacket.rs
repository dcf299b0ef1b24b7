//! The Linux backend: a `PF_PACKET` socket with a `TPACKET_V3` ring, configured and read here
//! with `libc`.
//!
//! Why by hand and not through pnet's channel (pnet 0.35). Measured on this project's 2-core
//! machine (shared with other builds), 64-byte UDP datagrams on loopback, 5-second runs, release
//! build, CPU time of the capturing process per packet:
//!
//! | reader | CPU per packet | drops at the sender's top speed (~200k packets/s) |
//! | --- | --- | --- |
//! | this ring | about 0.2 µs | none (1.24M packets) |
//! | `recvmsg`, one call per packet (the fallback below) | 2 to 4 µs | none |
//! | pnet's channel (`poll` + `recvfrom` per packet) | about 3 µs | not reported |
//! | libpcap (`--backend libpcap`) | about 0.2 µs | none |
//!
//! The ring is what keeps a busy span port affordable; the rest is about correctness:
//! - Loopback: an AF_PACKET socket sees every loopback packet twice, once leaving and once
//!   arriving. pnet drops the direction, so it cannot tell them apart; here loopback sockets set
//!   `PACKET_IGNORE_OUTGOING` (Linux 4.20), and on older kernels the outgoing copy is dropped by
//!   its `sll_pkttype`, as libpcap does. Other interfaces keep both directions: the Connect
//!   server's own connections are outgoing packets.
//! - Size: pnet reads into a fixed buffer (4,096 bytes unless told) and does not say when a frame
//!   was cut. Loopback frames reach 65,549 bytes and GRO merges frames beyond that. Here ring
//!   blocks of 256 KiB hold any of them, and a longer one keeps its wire length.
//! - Time: the kernel's receive timestamp (nanoseconds) instead of the time the loop got to the
//!   packet.
//! - Drops: `PACKET_STATISTICS` gives what the kernel received and dropped; pnet does not expose it.
//! - Memory: a 32 MiB ring (128 blocks); the kernel hands a block over when it is full or 20 ms
//!   old, and at the end of a capture the last, partly filled block is waited for, so nothing
//!   captured before the stop is lost.
//! - Ctrl-C: every wait is a `poll` with a timeout, so the stop flag is seen within 100 ms.
//!
//! Where the ring cannot be had (a kernel before 3.2, or no memory for it), frames are read
//! with `recvmsg(MSG_TRUNC)`, one call each, into a 256 KiB buffer with a 32 MiB socket buffer
//! (`SO_RCVBUFFORCE`, which needs `CAP_NET_ADMIN`; else `SO_RCVBUF`, capped by
//! `net.core.rmem_max`, with a warning) and `SO_TIMESTAMPNS` timestamps.
//!
//! Link types: Ethernet and loopback interfaces give Ethernet frames (loopback with zero MAC
//! addresses); interfaces without a link header (tun, WireGuard, `ARPHRD_NONE`, raw IP) give raw
//! IP; every other kind (PPP, InfiniBand, CAN...) is read as a `SOCK_DGRAM` socket and given a
//! Linux cooked (SLL) header built from the socket address, as libpcap does.
//!
//! Not done here: VLAN tags that the network card strips (VLAN offload) are not put back; flows
//! are keyed by IP addresses and ports, so the audit does not need them.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, size_of_val, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{
    no_such_interface, LiveError, OpenOptions, PacketSource, SourceInfo, SourceStats, RECV_BUFFER,
    SNAPLEN,
};
use crate::capture::Frame;
use crate::model::LinkType;

/// Length of a Linux cooked (SLL) header.
const SLL_HEADER: usize = 16;

/// How frames of an interface are read and framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `SOCK_RAW`: the frame as the interface has it (Ethernet, or raw IP).
    Raw(LinkType),
    /// `SOCK_DGRAM` plus a cooked header made here.
    Cooked,
}

/// The framing for an interface's hardware type (`ARPHRD_*`).
fn framing(hw_type: u16) -> Framing {
    match hw_type {
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Framing::Raw(LinkType::ETHERNET),
        // tun, WireGuard and raw-IP interfaces: the frame starts with the IP header.
        libc::ARPHRD_NONE | ARPHRD_RAWIP => Framing::Raw(LinkType::RAW),
        _ => Framing::Cooked,
    }
}

/// `ARPHRD_RAWIP` (raw IP, e.g. some cellular modems); not in every libc version.
const ARPHRD_RAWIP: u16 = 519;

/// What the kernel says about an interface before capture starts.
struct IfaceFacts {
    index: u32,
    hw_type: u16,
    up: bool,
    loopback: bool,
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn ifreq_for(name: &CString) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { zeroed() };
    for (d, s) in req
        .ifr_name
        .iter_mut()
        .zip(name.as_bytes().iter().take(libc::IFNAMSIZ - 1))
    {
        *d = *s as libc::c_char;
    }
    req
}

/// Index, hardware type and flags of `name`, asked through the socket `fd`.
fn interface_facts(fd: RawFd, iface: &str) -> Result<IfaceFacts, LiveError> {
    let cname = CString::new(iface).map_err(|_| no_such_interface(iface))?;
    if cname.as_bytes().len() >= libc::IFNAMSIZ {
        return Err(no_such_interface(iface));
    }
    // SAFETY: a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(no_such_interface(iface));
    }
    let mut req = ifreq_for(&cname);
    // SAFETY: SIOCGIFHWADDR fills the ifreq we own.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(LiveError::os(iface, "read the hardware type", last_err()));
    }
    // SAFETY: the union member the kernel just filled.
    let hw_type = unsafe { req.ifr_ifru.ifru_hwaddr.sa_family };
    let mut req = ifreq_for(&cname);
    // SAFETY: SIOCGIFFLAGS fills the ifreq we own.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(LiveError::os(iface, "read the interface flags", last_err()));
    }
    // SAFETY: the union member the kernel just filled.
    let flags = unsafe { req.ifr_ifru.ifru_flags } as libc::c_int;
    Ok(IfaceFacts {
        index,
        hw_type,
        up: flags & libc::IFF_UP != 0,
        loopback: flags & libc::IFF_LOOPBACK != 0 || hw_type == libc::ARPHRD_LOOPBACK,
    })
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(last_err())
    } else {
        Ok(())
    }
}

fn getsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &mut T,
) -> io::Result<()> {
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` points to a live T of the size given.
    let r = unsafe { libc::getsockopt(fd, level, name, (value as *mut T).cast(), &mut len) };
    if r < 0 {
        Err(last_err())
    } else {
        Ok(())
    }
}

/// A packet socket of `kind` (`SOCK_RAW`, `SOCK_DGRAM`) that receives nothing until bound.
fn packet_socket(iface: &str, kind: libc::c_int) -> Result<OwnedFd, LiveError> {
    // Protocol 0: no packet is queued before `bind` names the interface and ETH_P_ALL, so frames
    // of other interfaces never slip in.
    // SAFETY: plain system call.
    let fd = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let e = last_err();
        return Err(if e.raw_os_error() == Some(libc::EPERM) {
            LiveError::os(
                iface,
                "open a packet socket",
                io::Error::new(io::ErrorKind::PermissionDenied, e),
            )
        } else {
            LiveError::os(iface, "open a packet socket", e)
        });
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Socket settings shared with the pnet backend: loopback direction, receive buffer, timestamps.
/// Returns whether outgoing frames must still be dropped in user space, the buffer granted, and
/// warnings for the user.
pub(super) struct Configured {
    pub drop_outgoing: bool,
    pub buffer: Option<usize>,
    pub warnings: Vec<String>,
}

pub(super) fn configure(fd: RawFd, iface: &str, loopback: bool) -> Configured {
    let mut warnings = Vec::new();
    let mut drop_outgoing = false;
    if loopback {
        // Linux 4.20 and later: the kernel does not queue the outgoing copy at all.
        if setsockopt(fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &1i32).is_err() {
            drop_outgoing = true;
        }
    }
    let want = RECV_BUFFER as libc::c_int;
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &want).is_err() {
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &want);
    }
    let mut got: libc::c_int = 0;
    let buffer = match getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &mut got) {
        // The kernel reports twice the size set (the other half is for its bookkeeping).
        Ok(()) => Some(got.max(0) as usize / 2),
        Err(_) => None,
    };
    if buffer.is_some_and(|b| b < RECV_BUFFER) {
        warnings.push(format!(
            "the kernel granted a {} KiB receive buffer on '{iface}' instead of {} MiB, so bursts may be dropped: \
             give the binary cap_net_admin too, or raise net.core.rmem_max",
            buffer.unwrap_or(0) / 1024,
            RECV_BUFFER >> 20
        ));
    }
    let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32);
    Configured {
        drop_outgoing,
        buffer,
        warnings,
    }
}

/// Binds a packet socket to one interface for every protocol, and asks for promiscuous mode.
pub(super) fn bind(fd: RawFd, iface: &str, index: u32, promisc: bool) -> Result<(), LiveError> {
    // SAFETY: sockaddr_ll is plain data.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = index as i32;
    // SAFETY: a sockaddr_ll of the size given.
    let r = unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(LiveError::os(iface, "bind to the interface", last_err()));
    }
    if promisc {
        // Membership ends when the socket closes, so the interface is left as it was found.
        // SAFETY: packet_mreq is plain data.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = index as i32;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
            .map_err(|e| LiveError::os(iface, "switch on promiscuous mode", e))?;
    }
    Ok(())
}

/// Opens `iface` for the pnet backend: a `SOCK_RAW` socket configured here but not bound (pnet
/// binds it). Returns the descriptor, the interface's facts and the configuration.
pub(super) fn socket_for_pnet(iface: &str) -> Result<(RawFd, bool, Configured), LiveError> {
    let fd = packet_socket(iface, libc::SOCK_RAW)?;
    let facts = interface_facts(fd.as_raw_fd(), iface)?;
    let conf = configure(fd.as_raw_fd(), iface, facts.loopback);
    Ok((fd.into_raw_fd(), facts.loopback, conf))
}

/// A packet socket reading one interface.
#[derive(Debug)]
pub(super) struct AfPacketSource {
    fd: OwnedFd,
    info: SourceInfo,
    /// The memory-mapped ring, or `None` where it could not be set up (then `recvmsg`).
    ring: Option<Ring>,
    /// `recvmsg`'s buffer, and where cooked frames get their header.
    buf: Vec<u8>,
    cooked: bool,
    drop_outgoing: bool,
    index: u32,
    received: u64,
    dropped: u64,
}

impl AfPacketSource {
    pub(super) fn open(iface: &str, opts: &OpenOptions) -> Result<AfPacketSource, LiveError> {
        AfPacketSource::open_with(iface, opts, true)
    }

    /// Opens `iface`, with the ring when `want_ring` and the kernel allows it.
    fn open_with(
        iface: &str,
        opts: &OpenOptions,
        want_ring: bool,
    ) -> Result<AfPacketSource, LiveError> {
        let probe = packet_socket(iface, libc::SOCK_RAW)?;
        let facts = interface_facts(probe.as_raw_fd(), iface)?;
        let (fd, link, cooked) = match framing(facts.hw_type) {
            Framing::Raw(link) => (probe, link, false),
            Framing::Cooked => {
                drop(probe);
                (
                    packet_socket(iface, libc::SOCK_DGRAM)?,
                    LinkType::LINUX_SLL,
                    true,
                )
            }
        };
        let conf = configure(fd.as_raw_fd(), iface, facts.loopback);
        // The ring is set up before `bind`, so that no frame is queued outside it.
        let ring = if want_ring {
            Ring::new(fd.as_raw_fd()).ok()
        } else {
            None
        };
        bind(
            fd.as_raw_fd(),
            iface,
            facts.index,
            opts.promisc && !facts.loopback,
        )?;
        // The socket buffer matters only without the ring.
        let mut warnings = if ring.is_some() {
            Vec::new()
        } else {
            conf.warnings
        };
        if !facts.up {
            warnings.push(format!(
                "interface '{iface}' is down: nothing arrives until it is up (ip link set {iface} up)"
            ));
        }
        Ok(AfPacketSource {
            fd,
            info: SourceInfo {
                interface: iface.to_string(),
                backend: super::Backend::AfPacket,
                link,
                loopback: facts.loopback,
                buffer: ring.as_ref().map_or(conf.buffer, |r| Some(r.len())),
                filter: None,
                warnings,
            },
            ring,
            buf: vec![0u8; SNAPLEN],
            cooked,
            drop_outgoing: conf.drop_outgoing,
            index: facts.index,
            received: 0,
            dropped: 0,
        })
    }

    /// Waits up to `timeout` for the socket to be readable (a ring block ready, or a frame
    /// queued). `false`: nothing came, a signal interrupted the wait, or the interface went down
    /// for now.
    fn wait(&self, timeout: Duration) -> Result<bool, LiveError> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one pollfd we own.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = last_err();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(LiveError::os(&self.info.interface, "wait for packets", e));
        }
        if pfd.revents & libc::POLLERR != 0 {
            // Reading the pending error clears it.
            let mut err: libc::c_int = 0;
            let _ = getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                &mut err,
            );
            if err != 0 {
                self.receive_error(io::Error::from_raw_os_error(err))?;
                return Ok(false);
            }
        }
        Ok(r > 0)
    }

    /// What a receive error means: `Ok` when the interface is only down (the socket resumes
    /// when it is up again), the error when it was removed or anything else failed.
    fn receive_error(&self, e: io::Error) -> Result<(), LiveError> {
        if e.raw_os_error() == Some(libc::ENETDOWN) {
            if self.still_there() {
                return Ok(());
            }
            return Err(LiveError::os(
                &self.info.interface,
                "receive; the interface was removed",
                e,
            ));
        }
        Err(LiveError::os(&self.info.interface, "receive", e))
    }

    /// Whether the interface still exists under its name with the same index (after ENETDOWN:
    /// down and up again keeps the socket working; a deleted interface never comes back).
    fn still_there(&self) -> bool {
        CString::new(self.info.interface.as_str())
            // SAFETY: a valid NUL-terminated string.
            .map(|c| unsafe { libc::if_nametoindex(c.as_ptr()) } == self.index)
            .unwrap_or(false)
    }
}

/// One received frame (at the start of the buffer): its lengths, time and direction.
struct Received {
    caplen: usize,
    wire_len: usize,
    ts_ns: Option<i64>,
    outgoing: bool,
}

impl AfPacketSource {
    /// Reads one frame without waiting. `Ok(None)`: the socket is empty.
    fn recv(&mut self) -> io::Result<Option<Received>> {
        let head = if self.cooked { SLL_HEADER } else { 0 };
        // SAFETY: plain data.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        let mut iov = libc::iovec {
            iov_base: self.buf[head..].as_mut_ptr().cast(),
            iov_len: self.buf.len() - head,
        };
        // Room for the timestamp message, aligned for cmsghdr.
        let mut control = [0u64; 16];
        // SAFETY: plain data.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut addr as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` points to live buffers of the lengths given.
        let n = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = last_err();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let payload_len = n as usize;
        let caplen = payload_len.min(self.buf.len() - head);
        let mut ts_ns = None;
        // SAFETY: walking the control messages the kernel wrote into `control`, with the libc
        // macros that check each header against `msg_controllen`.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    ts_ns = Some(super::epoch_ns(t.tv_sec, t.tv_nsec, 1));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if self.cooked {
            // Linux cooked header: packet type, hardware type, address length, address (8
            // bytes), protocol; all big-endian, the protocol already is.
            let h = &mut self.buf[..SLL_HEADER];
            h[0..2].copy_from_slice(&u16::from(addr.sll_pkttype).to_be_bytes());
            h[2..4].copy_from_slice(&addr.sll_hatype.to_be_bytes());
            h[4..6].copy_from_slice(&u16::from(addr.sll_halen).to_be_bytes());
            h[6..14].copy_from_slice(&addr.sll_addr);
            h[14..16].copy_from_slice(&addr.sll_protocol.to_ne_bytes());
        }
        Ok(Some(Received {
            caplen: caplen + head,
            wire_len: payload_len + head,
            ts_ns,
            outgoing: addr.sll_pkttype == libc::PACKET_OUTGOING,
        }))
    }
}

impl PacketSource for AfPacketSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_batch(
        &mut self,
        timeout: Duration,
        max: usize,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        if self.ring.is_some() {
            return self.next_from_ring(timeout, max, sink);
        }
        let mut n = 0;
        let mut waited = false;
        while n < max {
            let r = match self.recv() {
                Ok(Some(r)) => r,
                Ok(None) => {
                    if n > 0 || waited {
                        break;
                    }
                    waited = true;
                    if !self.wait(timeout)? {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    self.receive_error(e)?;
                    break;
                }
            };
            if r.outgoing && self.drop_outgoing {
                continue;
            }
            let ts_ns = r.ts_ns.unwrap_or_else(super::now_ns);
            sink(&Frame {
                ts_ns,
                data: &self.buf[..r.caplen],
                orig_len: u32::try_from(r.wire_len).unwrap_or(u32::MAX),
                link: self.info.link,
                iface: 0,
            });
            n += 1;
        }
        Ok(n)
    }

    /// A ring block that is not full reaches user space within [`RETIRE_MS`].
    fn drain_time(&self) -> Duration {
        if self.ring.is_some() {
            Duration::from_millis(u64::from(RETIRE_MS) + 30)
        } else {
            Duration::ZERO
        }
    }

    fn stats(&mut self) -> SourceStats {
        // SAFETY: plain data.
        let mut st: libc::tpacket_stats = unsafe { zeroed() };
        // The kernel resets its counters on every read, so they are summed here; its packet count
        // includes the drops.
        if getsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            &mut st,
        )
        .is_ok()
        {
            self.received += u64::from(st.tp_packets);
            self.dropped += u64::from(st.tp_drops);
        }
        SourceStats {
            received: Some(self.received),
            dropped: Some(self.dropped),
            if_dropped: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The TPACKET_V3 ring.

/// `TPACKET_V3` of `enum tpacket_versions` (Linux 3.2).
const TPACKET_V3: libc::c_int = 2;

/// Size of one ring block: a block must hold the largest frame (longer ones are cut by the
/// kernel, keeping their wire length), and many small ones.
const BLOCK_SIZE: usize = 256 << 10;

/// How long the kernel keeps a block that is not full before handing it over (milliseconds):
/// the latency of a quiet interface, and how long the end of a capture waits for its last block.
const RETIRE_MS: u32 = 20;

/// Field offsets in the kernel's ring structures (`linux/if_packet.h`), named here so that every
/// read below is a checked slice of a block, never pointer arithmetic on numbers from the ring.
mod field {
    use std::ops::Range;
    // struct tpacket_block_desc: version, offset_to_priv, then struct tpacket_hdr_v1.
    pub const BLOCK_STATUS: usize = 8;
    pub const NUM_PKTS: Range<usize> = 12..16;
    pub const FIRST_PKT: Range<usize> = 16..20;
    // struct tpacket3_hdr.
    pub const NEXT_OFFSET: Range<usize> = 0..4;
    pub const SEC: Range<usize> = 4..8;
    pub const NSEC: Range<usize> = 8..12;
    pub const SNAPLEN: Range<usize> = 12..16;
    pub const LEN: Range<usize> = 16..20;
    pub const MAC: Range<usize> = 24..26;
    /// `sizeof(struct tpacket3_hdr)` aligned to 16: where the `sockaddr_ll` starts.
    pub const SLL: usize = 48;
    // struct sockaddr_ll, from SLL.
    pub const SLL_PROTOCOL: Range<usize> = 2..4;
    pub const SLL_HATYPE: Range<usize> = 8..10;
    pub const SLL_PKTTYPE: usize = 10;
    pub const SLL_HALEN: usize = 11;
    pub const SLL_ADDR: Range<usize> = 12..20;
    pub const SLL_LEN: usize = 20;
}

fn u32_at(b: &[u8], r: std::ops::Range<usize>) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(r)?.try_into().ok()?))
}

fn u16_at(b: &[u8], r: std::ops::Range<usize>) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(r)?.try_into().ok()?))
}

/// A `PACKET_RX_RING` of `TPACKET_V3` blocks shared with the kernel. The kernel fills a block
/// with many frames and hands it over (status `TP_STATUS_USER`) when it is full or
/// [`RETIRE_MS`] old; user space reads every frame of it in place and gives it back. One `poll`
/// per block instead of one `recvmsg` per frame: on loopback at about 200k packets/s this used
/// a tenth or less of the CPU time of `recvmsg` (figures in the module docs).
#[derive(Debug)]
struct Ring {
    base: *mut u8,
    blocks: usize,
    /// The block being read.
    cur: usize,
    /// In the current block (once the kernel handed it over): frames left and the next one's
    /// offset.
    pos: Option<(u32, usize)>,
}

/// A frame found in a block.
struct RingFrame {
    data: std::ops::Range<usize>,
    wire_len: u32,
    ts_ns: i64,
    outgoing: bool,
    /// The `sockaddr_ll` fields a cooked header needs: protocol, hardware type, address length,
    /// address.
    sll: [u8; field::SLL_LEN],
}

impl Ring {
    /// Sets up the ring on an unbound socket. Fails on kernels before 3.2 or when the memory
    /// cannot be had; the caller then reads with `recvmsg`.
    fn new(fd: RawFd) -> io::Result<Ring> {
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V3)?;
        let blocks = RECV_BUFFER / BLOCK_SIZE;
        let frame_size = 2048usize;
        // SAFETY: plain data.
        let mut req: libc::tpacket_req3 = unsafe { zeroed() };
        req.tp_block_size = BLOCK_SIZE as u32;
        req.tp_block_nr = blocks as u32;
        req.tp_frame_size = frame_size as u32;
        req.tp_frame_nr = (BLOCK_SIZE / frame_size * blocks) as u32;
        req.tp_retire_blk_tov = RETIRE_MS;
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        // SAFETY: maps the ring the kernel just made for this socket; unmapped in Drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                BLOCK_SIZE * blocks,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(last_err());
        }
        Ok(Ring {
            base: base.cast(),
            blocks,
            cur: 0,
            pos: None,
        })
    }

    /// Bytes of memory the ring holds.
    fn len(&self) -> usize {
        BLOCK_SIZE * self.blocks
    }

    /// The status word of block `i`, shared with the kernel.
    fn status(&self, i: usize) -> &std::sync::atomic::AtomicU32 {
        // SAFETY: `i < blocks`, the word is inside the mapping, 4-byte aligned (blocks are
        // page-aligned), and only ever accessed atomically here.
        unsafe {
            &*self
                .base
                .add(i * BLOCK_SIZE + field::BLOCK_STATUS)
                .cast::<std::sync::atomic::AtomicU32>()
        }
    }

    /// The current block's bytes, if the kernel handed it over.
    fn block(&self) -> Option<&[u8]> {
        let st = self
            .status(self.cur)
            .load(std::sync::atomic::Ordering::Acquire);
        if st & libc::TP_STATUS_USER == 0 {
            return None;
        }
        // SAFETY: a block the kernel handed over: it does not write to it until it is given
        // back in `release`, and it lies inside the mapping.
        Some(unsafe {
            std::slice::from_raw_parts(self.base.add(self.cur * BLOCK_SIZE), BLOCK_SIZE)
        })
    }

    /// Gives the current block back to the kernel and moves to the next.
    fn release(&mut self) {
        self.status(self.cur)
            .store(libc::TP_STATUS_KERNEL, std::sync::atomic::Ordering::Release);
        self.cur = (self.cur + 1) % self.blocks;
        self.pos = None;
    }

    /// The next frame of the current block, moving past it. `None` when the kernel has not
    /// handed the block over yet. A block whose offsets do not add up is given back whole
    /// (never seen; the kernel writes them).
    fn next_frame(&mut self) -> Option<Option<RingFrame>> {
        loop {
            let block = self.block()?;
            let (left, off) = match self.pos {
                Some(p) => p,
                None => {
                    let n = u32_at(block, field::NUM_PKTS).unwrap_or(0);
                    let first = u32_at(block, field::FIRST_PKT).unwrap_or(0) as usize;
                    (n, first)
                }
            };
            if left == 0 {
                self.release();
                continue;
            }
            let Some(f) = Ring::parse(block, off) else {
                self.release();
                return Some(None);
            };
            let next = u32_at(
                block,
                off + field::NEXT_OFFSET.start..off + field::NEXT_OFFSET.end,
            )
            .unwrap_or(0) as usize;
            self.pos = Some((left - 1, off + next));
            return Some(Some(f));
        }
    }

    /// Reads the frame header at `off` of a block; `None` if it does not fit the block.
    fn parse(block: &[u8], off: usize) -> Option<RingFrame> {
        let h = block.get(off..off.checked_add(field::SLL + field::SLL_LEN)?)?;
        let caplen = u32_at(h, field::SNAPLEN)? as usize;
        let mac = off + usize::from(u16_at(h, field::MAC)?);
        let data = mac..mac.checked_add(caplen)?;
        block.get(data.clone())?;
        let sll = &h[field::SLL..field::SLL + field::SLL_LEN];
        let mut sll_copy = [0u8; field::SLL_LEN];
        sll_copy.copy_from_slice(sll);
        Some(RingFrame {
            data,
            wire_len: u32_at(h, field::LEN)?,
            ts_ns: super::epoch_ns(u32_at(h, field::SEC)?, u32_at(h, field::NSEC)?, 1),
            outgoing: sll[field::SLL_PKTTYPE] == libc::PACKET_OUTGOING,
            sll: sll_copy,
        })
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.cast(), self.len()) };
    }
}

/// Writes a Linux cooked (SLL) header for a frame from its `sockaddr_ll`: packet type, hardware
/// type, address length, address (8 bytes), protocol; big-endian, as the protocol already is.
fn cooked_header(h: &mut [u8], sll: &[u8; field::SLL_LEN]) {
    let hatype = u16::from_ne_bytes([
        sll[field::SLL_HATYPE.start],
        sll[field::SLL_HATYPE.start + 1],
    ]);
    h[0..2].copy_from_slice(&u16::from(sll[field::SLL_PKTTYPE]).to_be_bytes());
    h[2..4].copy_from_slice(&hatype.to_be_bytes());
    h[4..6].copy_from_slice(&u16::from(sll[field::SLL_HALEN]).to_be_bytes());
    h[6..14].copy_from_slice(&sll[field::SLL_ADDR]);
    h[14..16].copy_from_slice(&sll[field::SLL_PROTOCOL]);
}

impl AfPacketSource {
    /// `next_batch` over the ring.
    fn next_from_ring(
        &mut self,
        timeout: Duration,
        max: usize,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        let mut n = 0;
        let mut waited = false;
        while n < max {
            let Some(ring) = self.ring.as_mut() else {
                break;
            };
            let f = match ring.next_frame() {
                Some(Some(f)) => f,
                Some(None) => continue,
                None => {
                    if n > 0 || waited {
                        break;
                    }
                    waited = true;
                    if !self.wait(timeout)? {
                        break;
                    }
                    continue;
                }
            };
            if f.outgoing && self.drop_outgoing {
                continue;
            }
            let Some(block) = ring.block() else { break };
            let bytes = &block[f.data.clone()];
            let (data, orig_len): (&[u8], u32) = if self.cooked {
                let len = bytes.len().min(self.buf.len() - SLL_HEADER);
                cooked_header(&mut self.buf[..SLL_HEADER], &f.sll);
                self.buf[SLL_HEADER..SLL_HEADER + len].copy_from_slice(&bytes[..len]);
                (
                    &self.buf[..SLL_HEADER + len],
                    f.wire_len.saturating_add(SLL_HEADER as u32),
                )
            } else {
                (bytes, f.wire_len)
            };
            sink(&Frame {
                ts_ns: f.ts_ns,
                data,
                orig_len: orig_len.max(data.len() as u32),
                link: self.info.link,
                iface: 0,
            });
            n += 1;
            // Give a finished block back at once, so the kernel can fill it again.
            if ring.pos.is_some_and(|(left, _)| left == 0) {
                ring.release();
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        // SAFETY: no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// Captures on loopback while 20 datagrams go from one socket to another, and returns how
    /// many frames carried them (the UDP source port identifies them).
    fn capture_loopback(ring: bool) -> (usize, bool, SourceStats) {
        let opts = OpenOptions {
            backend: super::super::Backend::AfPacket,
            promisc: false,
            filter: None,
        };
        let mut src = AfPacketSource::open_with("lo", &opts, ring).unwrap();
        let used_ring = src.ring.is_some();
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sport = tx.local_addr().unwrap().port().to_be_bytes();
        let dport = rx.local_addr().unwrap().port().to_be_bytes();
        for _ in 0..20 {
            tx.send_to(b"live capture test", rx.local_addr().unwrap())
                .unwrap();
        }
        let mut seen = 0;
        let until = std::time::Instant::now() + Duration::from_millis(500);
        while std::time::Instant::now() < until {
            src.next_batch(Duration::from_millis(50), 512, &mut |f| {
                // Ethernet (14) + IPv4 without options (20), then the UDP ports.
                if f.data.len() > 38 && f.data[34..36] == sport && f.data[36..38] == dport {
                    assert!(f.ts_ns > 1_600_000_000_000_000_000, "a kernel timestamp");
                    assert_eq!(f.orig_len as usize, f.data.len());
                    seen += 1;
                }
            })
            .unwrap();
        }
        (seen, used_ring, src.stats())
    }

    #[test]
    fn ring_sees_each_loopback_packet_once_with_its_timestamp() {
        if !is_root() {
            eprintln!("skipping: capturing on loopback needs root");
            return;
        }
        let (seen, ring, stats) = capture_loopback(true);
        assert!(ring, "the TPACKET_V3 ring is set up");
        assert_eq!(seen, 20);
        assert_eq!(stats.dropped, Some(0));
        assert!(stats.received.unwrap() >= 20);
    }

    #[test]
    fn recvmsg_fallback_sees_each_loopback_packet_once_with_its_timestamp() {
        if !is_root() {
            eprintln!("skipping: capturing on loopback needs root");
            return;
        }
        let (seen, ring, stats) = capture_loopback(false);
        assert!(!ring);
        assert_eq!(seen, 20);
        assert_eq!(stats.dropped, Some(0));
    }

    #[test]
    fn cooked_header_carries_the_socket_address() {
        let mut sll = [0u8; field::SLL_LEN];
        sll[field::SLL_PROTOCOL].copy_from_slice(&0x0800u16.to_be_bytes());
        sll[field::SLL_HATYPE].copy_from_slice(&512u16.to_ne_bytes());
        sll[field::SLL_PKTTYPE] = 4;
        sll[field::SLL_HALEN] = 0;
        let mut h = [0xffu8; SLL_HEADER];
        cooked_header(&mut h, &sll);
        assert_eq!(h, [0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0]);
    }

    #[test]
    fn framing_follows_the_hardware_type() {
        assert_eq!(
            framing(libc::ARPHRD_ETHER),
            Framing::Raw(LinkType::ETHERNET)
        );
        assert_eq!(
            framing(libc::ARPHRD_LOOPBACK),
            Framing::Raw(LinkType::ETHERNET)
        );
        assert_eq!(framing(libc::ARPHRD_NONE), Framing::Raw(LinkType::RAW));
        assert_eq!(framing(libc::ARPHRD_PPP), Framing::Cooked);
        assert_eq!(framing(libc::ARPHRD_INFINIBAND), Framing::Cooked);
    }
}
