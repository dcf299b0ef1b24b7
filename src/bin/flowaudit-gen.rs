//! `flowaudit-gen`: writes flowaudit's deterministic synthetic captures.
//!
//! Why a separate binary: the sample captures in `samples/` are build
//! artefacts of [`flowaudit::synth`], not hand-made files; anyone can
//! regenerate them bit for bit with `flowaudit-gen samples`. Subcommands map
//! one-to-one onto library entry points: `samples`/`sample` onto
//! `flowaudit::synth::samples`, `bench` (multi-gigabyte benchmark captures
//! streamed to disk in bounded memory) onto
//! `flowaudit::synth::stream::generate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use flowaudit::synth::frame::LINKTYPE_ETHERNET;
use flowaudit::synth::samples::{sample_names, write_sample};
use flowaudit::synth::stream::{generate, parse_size, StreamConfig, StreamKind, StreamStats};
use flowaudit::synth::writer::{
    CaptureWriter, Endian, InterfaceSpec, Output, PcapOptions, PcapWriter, PcapngWriter,
    TsResolution,
};

#[derive(Debug, Parser)]
#[command(
    name = "flowaudit-gen",
    version,
    about = "Generate deterministic synthetic pcap/pcapng captures for flowaudit"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write every sample capture (and the audit samples' inventories).
    Samples {
        /// Output directory (created if missing).
        #[arg(long, default_value = "samples")]
        out: PathBuf,
    },
    /// Write one sample capture.
    Sample {
        /// Sample name: basic, healthy-phs-sso, blocked-paths, servicebus-5671,
        /// unexpected-traffic or federation-missing-wap-adfs.
        name: String,
        /// Output directory (created if missing).
        #[arg(long, default_value = "samples")]
        out: PathBuf,
    },
    /// Write a benchmark capture of a given size (streamed; memory stays flat).
    Bench {
        /// mix: ~200 hosts, TCP sessions with bulk data, refused and unanswered
        /// attempts, DNS/Kerberos/CLDAP, some IPv6 and VLAN; small: nearly every
        /// frame 60-66 bytes, many short flows.
        #[arg(long, value_enum, default_value_t = BenchKind::Mix)]
        kind: BenchKind,
        /// Target size: 1GiB, 512MiB, 10GiB, 2GB or plain bytes.
        #[arg(long, default_value = "1GiB", value_parser = size_arg)]
        size: u64,
        /// Seed of every random choice (same seed, same bytes).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// File format: pcap (microseconds) or pcapng (nanoseconds).
        #[arg(long, value_enum, default_value_t = BenchFormat::Pcap)]
        format: BenchFormat,
        /// Output file (gzip-compressed when it ends in .gz).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BenchKind {
    Mix,
    Small,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BenchFormat {
    Pcap,
    Pcapng,
}

fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowaudit-gen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Samples { out } => {
            for name in sample_names() {
                write_one(name, &out)?;
            }
            Ok(())
        }
        Command::Sample { name, out } => {
            if !sample_names().contains(&name.as_str()) {
                bail!(
                    "unknown sample {name:?} (available: {})",
                    sample_names().join(", ")
                );
            }
            write_one(&name, &out)
        }
        Command::Bench {
            kind,
            size,
            seed,
            format,
            out,
        } => bench(kind, size, seed, format, &out),
    }
}

fn bench(
    kind: BenchKind,
    size: u64,
    seed: u64,
    format: BenchFormat,
    out: &Path,
) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating directory {}", dir.display()))?;
    }
    let kind = match kind {
        BenchKind::Mix => StreamKind::Mix,
        BenchKind::Small => StreamKind::Small,
    };
    let cfg = StreamConfig::bench(kind, seed, size);
    let started = Instant::now();
    let file = Output::create(out).with_context(|| format!("creating {}", out.display()))?;
    let ctx = || format!("writing {}", out.display());
    // Bytes of the whole file (headers included, before any compression).
    let (stats, bytes): (StreamStats, u64) = match format {
        BenchFormat::Pcap => {
            let mut w = PcapWriter::new(file, PcapOptions::default()).with_context(ctx)?;
            let stats = generate(&mut w, &cfg).with_context(ctx)?;
            let bytes = w.bytes_written();
            w.into_inner()
                .with_context(ctx)?
                .finish()
                .with_context(ctx)?;
            (stats, bytes)
        }
        BenchFormat::Pcapng => {
            let iface = InterfaceSpec::new(LINKTYPE_ETHERNET, TsResolution::Nano).named("eth0");
            let mut w = PcapngWriter::new(file, Endian::Little, &[iface]).with_context(ctx)?;
            let stats = generate(&mut w, &cfg).with_context(ctx)?;
            let bytes = w.bytes_written();
            w.into_inner()
                .with_context(ctx)?
                .finish()
                .with_context(ctx)?;
            (stats, bytes)
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}\t{bytes} bytes\t{} packets\t{} flows\t{secs:.2} s",
        out.display(),
        stats.packets,
        stats.conversations,
    );
    Ok(())
}

fn write_one(name: &str, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating directory {}", out.display()))?;
    for path in write_sample(name, out).with_context(|| format!("writing sample {name}"))? {
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!("{}\t{len} bytes", path.display());
    }
    Ok(())
}
