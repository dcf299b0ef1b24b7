//! Error types of the library.
//!
//! Errors carry their context (the file and the byte offset where a capture went wrong) so that the
//! binary can print a message a user can act on. Following ripgrep, an error is a struct with a
//! `#[non_exhaustive]` kind; only `main.rs` turns errors into exit codes.

use std::fmt;
use std::path::PathBuf;

/// What went wrong while reading a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// The operating system refused to open or read the file.
    Io(String),
    /// The path does not exist.
    NotFound,
    /// The first bytes are not the magic number of any capture format we read.
    NotACapture {
        /// The first four bytes, for the message.
        magic: [u8; 4],
    },
    /// The file ends inside the file header or section header.
    TruncatedHeader,
    /// The file ends inside a record or block.
    TruncatedRecord {
        /// Bytes the record needs.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// A record or block declares a length that cannot be right.
    ImpossibleLength {
        /// The declared length.
        length: u64,
        /// Why it cannot be right.
        why: &'static str,
    },
    /// The file header has a version or field that cannot be read.
    BadHeader(&'static str),
    /// A pcapng packet block names an interface that was never described.
    UnknownInterface {
        /// The interface id in the block.
        id: u32,
    },
    /// The gzip stream is damaged.
    Gzip(String),
}

/// An error while reading one capture, with the file and byte offset where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// The file (or `-` for standard input).
    pub path: PathBuf,
    /// Byte offset in the (decompressed) capture where the problem starts.
    pub offset: u64,
    /// What went wrong.
    pub kind: CaptureErrorKind,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.kind {
            CaptureErrorKind::Io(e) => write!(f, "{p}: {e}"),
            CaptureErrorKind::NotFound => write!(f, "{p}: no such file or directory"),
            CaptureErrorKind::NotACapture { magic } => write!(
                f,
                "{p}: not a pcap or pcapng capture (first bytes {:02x} {:02x} {:02x} {:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ),
            CaptureErrorKind::TruncatedHeader => {
                write!(f, "{p}: file ends inside its header at byte {}", self.offset)
            }
            CaptureErrorKind::TruncatedRecord { needed, available } => write!(
                f,
                "{p}: cut off at byte {}: the record there needs {needed} bytes, {available} remain",
                self.offset
            ),
            CaptureErrorKind::ImpossibleLength { length, why } => write!(
                f,
                "{p}: damaged at byte {}: length {length} is impossible ({why})",
                self.offset
            ),
            CaptureErrorKind::BadHeader(why) => {
                write!(f, "{p}: bad header at byte {}: {why}", self.offset)
            }
            CaptureErrorKind::UnknownInterface { id } => write!(
                f,
                "{p}: packet at byte {} names interface {id}, which was never described",
                self.offset
            ),
            CaptureErrorKind::Gzip(e) => {
                write!(f, "{p}: gzip stream damaged near byte {}: {e}", self.offset)
            }
        }
    }
}

impl std::error::Error for CaptureError {}

/// A problem in a configuration file (rules, inventory), with its position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// Every problem found in a set of configuration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in file and position order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
