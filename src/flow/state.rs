//! TCP endpoint states, Zeek's `conn_state` and `history`, and the plain-words outcome.
//!
//! The state machine follows Zeek's documented behaviour (each endpoint moves through inactive,
//! SYN sent, SYN-ACK sent, partial, established, closed and reset), so that users who know Zeek's
//! `conn.log` read our states the same way. It is our own code, written from that description.

use super::Flow;
use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};
use crate::model::IpProto;
use std::fmt;

/// A TCP endpoint's state (for UDP and other protocols: `Inactive` or `Established` = active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointState {
    /// Nothing seen from it.
    Inactive,
    /// It sent a SYN.
    SynSent,
    /// It sent a SYN-ACK without having seen a SYN.
    SynAckSent,
    /// It sent traffic without a handshake being seen (mid-stream).
    Partial,
    /// The handshake completed.
    Established,
    /// It sent a FIN.
    Closed,
    /// It sent a RST.
    Reset,
}

/// Zeek's `conn_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnState {
    /// Attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Attempt rejected.
    REJ,
    /// Established, originator sent FIN, no reply to it.
    S2,
    /// Established, responder sent FIN, no reply to it.
    S3,
    /// Established, originator aborted (RST).
    RSTO,
    /// Responder sent a RST.
    RSTR,
    /// Originator sent SYN then RST; no SYN-ACK.
    RSTOS0,
    /// Responder sent SYN-ACK then RST; no SYN from the originator.
    RSTRH,
    /// Originator sent SYN then FIN; no SYN-ACK.
    SH,
    /// Responder sent SYN-ACK then FIN; no SYN from the originator.
    SHR,
    /// No SYN seen: mid-stream traffic.
    OTH,
}

impl ConnState {
    /// Zeek's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a flow, in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The responder answered.
    Answered,
    /// The responder refused with a RST.
    Refused,
    /// No answer at all.
    Unanswered,
    /// An ICMP error (destination unreachable) came back instead of an answer.
    Unreachable,
    /// The flow was already open when the capture began; its start was not seen.
    Midstream,
}

impl Outcome {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Refused => "refused",
            Outcome::Unanswered => "unanswered",
            Outcome::Unreachable => "unreachable",
            Outcome::Midstream => "midstream",
        }
    }

    /// Whether the attempt failed (refused, unanswered or unreachable).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Refused | Outcome::Unanswered | Outcome::Unreachable
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// History letters, stored without case; the case comes from the side at rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Letter {
    Syn = 0,
    SynAck = 1,
    Ack = 2,
    Data = 3,
    Fin = 4,
    Rst = 5,
    FinRst = 6,
    Multi = 7,
}

impl Letter {
    /// S and H share one "seen" bit per side, as in Zeek.
    fn seen_bit(self) -> u8 {
        match self {
            Letter::SynAck => Letter::Syn as u8,
            l => l as u8,
        }
    }
}

/// Each (side, letter) event at most once, in the order first seen.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct History {
    events: [u8; 16],
    len: u8,
    seen: u16,
}

impl History {
    #[inline]
    fn record(&mut self, side: usize, l: Letter) {
        let bit = 1u16 << (l.seen_bit() + 8 * side as u8);
        if self.seen & bit != 0 {
            return;
        }
        self.seen |= bit;
        if usize::from(self.len) < self.events.len() {
            self.events[usize::from(self.len)] = (l as u8) | ((side as u8) << 7);
            self.len += 1;
        }
    }

    /// Renders with upper case for `orig`'s side.
    pub fn render(&self, orig: u8) -> String {
        self.events[..usize::from(self.len)]
            .iter()
            .map(|&e| {
                let c = b"SHADFRIQ"[usize::from(e & 0x7f)];
                if e >> 7 == orig {
                    c as char
                } else {
                    c.to_ascii_lowercase() as char
                }
            })
            .collect()
    }
}

/// Applies a TCP packet from `side` to the flow's endpoint states and history.
#[inline]
pub(super) fn tcp_packet(f: &mut Flow, side: usize, flags: u8, payload_len: u32) {
    let syn = flags & SYN != 0;
    let fin = flags & FIN != 0;
    let rst = flags & RST != 0;
    let ack = flags & ACK != 0;
    // History letter.
    let n = u8::from(syn) + u8::from(fin) + u8::from(rst);
    let letter = match n {
        0 if payload_len > 0 => Some(Letter::Data),
        0 if ack => Some(Letter::Ack),
        0 => None,
        1 if syn => Some(if ack { Letter::SynAck } else { Letter::Syn }),
        1 if fin => Some(Letter::Fin),
        1 => Some(Letter::Rst),
        _ if fin && rst => Some(Letter::FinRst),
        _ => Some(Letter::Multi),
    };
    if let Some(l) = letter {
        f.history.record(side, l);
    }

    let peer = 1 - side;
    let is_orig = side == f.orig_side();
    let e = f.ep[side];
    let p = f.ep[peer];
    use EndpointState::*;
    match e {
        Inactive => {
            let mut e2 = Inactive;
            let mut p2 = p;
            if syn {
                if !ack {
                    if is_orig {
                        e2 = SynSent;
                    } else {
                        if p == SynAckSent || p == SynSent {
                            p2 = Established;
                        }
                        e2 = Established;
                    }
                } else if is_orig {
                    e2 = SynAckSent;
                } else {
                    if p == SynSent {
                        p2 = Established;
                    }
                    e2 = Established;
                }
            }
            if fin {
                e2 = Closed;
            }
            if rst {
                e2 = Reset;
            }
            if !syn && !fin && !rst {
                e2 = if !is_orig && payload_len == 0 && p == SynSent {
                    Inactive
                } else if ack && p == Established {
                    Established
                } else {
                    Partial
                };
            }
            f.ep[side] = e2;
            f.ep[peer] = p2;
        }
        SynSent | SynAckSent => {
            if fin {
                f.ep[side] = Closed;
            }
            if rst {
                f.ep[side] = Reset;
            }
        }
        Established | Partial => {
            if syn && !ack && e == Partial && p == Inactive {
                f.ep[side] = SynSent;
            }
            if fin && !rst {
                f.ep[side] = Closed;
            }
            if rst {
                f.ep[side] = Reset;
            }
        }
        Closed => {
            if rst && p != Closed {
                f.ep[side] = Reset;
            }
        }
        Reset => {}
    }
}

/// Marks a non-TCP packet's sender active.
#[inline]
pub(super) fn other_packet(f: &mut Flow, side: usize) {
    f.ep[side] = EndpointState::Established;
    f.history.record(side, Letter::Data);
}

/// Zeek's `conn_state` decision.
pub(super) fn conn_state(f: &Flow) -> ConnState {
    use EndpointState::*;
    let os = f.ep[f.orig_side()];
    let rs = f.ep[f.resp_side()];
    if f.key.proto != IpProto::TCP {
        // Zeek gives states to TCP and UDP only.
        if f.key.proto != IpProto::UDP {
            return ConnState::OTH;
        }
        let oa = os != Inactive;
        let ra = rs != Inactive;
        return match (oa, ra) {
            (true, true) => ConnState::SF,
            (true, false) => ConnState::S0,
            (false, true) => ConnState::SHR,
            (false, false) => ConnState::OTH,
        };
    }
    let o_inact = matches!(os, Inactive | Partial);
    let r_inact = matches!(rs, Inactive | Partial);
    if rs == Reset {
        if matches!(os, SynSent | SynAckSent)
            || (os == Reset && f.payload[f.orig_side()] == 0 && f.payload[f.resp_side()] == 0)
        {
            ConnState::REJ
        } else if o_inact {
            ConnState::RSTRH
        } else {
            ConnState::RSTR
        }
    } else if os == Reset {
        if r_inact {
            if history_is_rstos0(&f.history()) {
                ConnState::RSTOS0
            } else {
                ConnState::OTH
            }
        } else {
            ConnState::RSTO
        }
    } else if os == Closed && rs == Closed {
        ConnState::SF
    } else if os == Closed {
        if r_inact {
            ConnState::SH
        } else {
            ConnState::S2
        }
    } else if rs == Closed {
        if o_inact {
            ConnState::SHR
        } else {
            ConnState::S3
        }
    } else if os == SynSent && rs == Inactive {
        ConnState::S0
    } else if os == Established && rs == Established {
        ConnState::S1
    } else {
        ConnState::OTH
    }
}

/// Zeek's RSTOS0 test: the history is an originator SYN, then anything but originator
/// H/A/F/I/Q, then an originator RST.
fn history_is_rstos0(h: &str) -> bool {
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

/// The plain-words outcome.
pub(super) fn outcome(f: &Flow) -> Outcome {
    let resp = f.resp_side();
    let orig = f.orig_side();
    let resp_answered = f.ep[resp] != EndpointState::Inactive;
    let unreachable = f.icmp.is_some_and(|e| e.is_unreachable());
    if f.key.proto == IpProto::TCP {
        let st = conn_state(f);
        let syn_seen = f.flags[orig] & SYN != 0 || f.flags[resp] & SYN != 0;
        match st {
            ConnState::REJ => Outcome::Refused,
            _ if !resp_answered && unreachable => Outcome::Unreachable,
            ConnState::S0 | ConnState::RSTOS0 | ConnState::SH => Outcome::Unanswered,
            ConnState::OTH if !syn_seen => Outcome::Midstream,
            ConnState::OTH if !resp_answered => Outcome::Unanswered,
            _ => Outcome::Answered,
        }
    } else if resp_answered {
        Outcome::Answered
    } else if unreachable {
        Outcome::Unreachable
    } else {
        Outcome::Unanswered
    }
}
