//! `flowaudit-gen`: writes flowaudit's deterministic synthetic captures.
//!
//! Why a separate binary: the sample captures in `samples/` are build
//! artefacts of [`flowaudit::synth`], not hand-made files; anyone can
//! regenerate them bit for bit with `flowaudit-gen samples`. Subcommands map
//! one-to-one onto library entry points so new generators (e.g. a `bench`
//! command streaming multi-gigabyte captures through
//! `flowaudit::synth::stream::generate`) slot in as one more variant.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use flowaudit::synth::samples::{sample_names, write_sample};

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
    }
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
