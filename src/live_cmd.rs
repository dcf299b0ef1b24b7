//! `flowaudit live`: capture from an interface, then print the same audit report as `audit`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::PolicyArgs;
use flowaudit::report::audit::AuditFormat;

/// Arguments of `flowaudit live`.
#[derive(Args)]
pub struct LiveArgs {
    /// The interface to capture on.
    #[arg(long, short = 'I', required_unless_present = "list")]
    pub interface: Option<String>,
    /// List interfaces with their addresses and exit.
    #[arg(long)]
    pub list: bool,
    /// Stop after this long (e.g. 90s, 10m, 2h).
    #[arg(long)]
    pub duration: Option<String>,
    /// Stop after this many packets.
    #[arg(long)]
    pub packets: Option<u64>,
    /// A BPF capture filter (needs the `libpcap` build feature).
    #[arg(long)]
    pub filter: Option<String>,
    /// Keep every captured packet in this pcapng file.
    #[arg(long)]
    pub write: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Output format: text, json, csv.
    #[arg(long, short = 'f', default_value = "text")]
    pub format: AuditFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Deprecated paths are findings too (exit 1).
    #[arg(long)]
    pub strict: bool,
}

/// Runs a live capture and its audit.
pub fn run(_args: LiveArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("live capture is not built yet")
}
