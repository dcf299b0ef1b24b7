//! The `flowaudit` command: parses arguments, calls the library, maps results to exit codes.
//!
//! Exit codes: 0 fine; 1 findings (audit); 2 usage error, invalid rules or inventory, or an input
//! that could not be read as a capture at all. A broken pipe on standard output is not an error.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowaudit::engine::{self, Options};
use flowaudit::report::{self, Format};

#[derive(Parser)]
#[command(
    name = "flowaudit",
    version,
    about = "Audit network traffic against a port-and-protocol policy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the flows in captures: one record per bidirectional 5-tuple connection.
    Flows {
        /// Output format: table (or text), csv, json, jsonl.
        #[arg(long, short = 'f', default_value = "table")]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Capture files, folders (read recursively) or `-` for standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn open_output(path: &Option<PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| anyhow::anyhow!("cannot create output file {}: {e}", p.display()),
        )?)),
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Flows {
            format,
            output,
            threads,
            paths,
        } => {
            let mut out = open_output(&output)?;
            let analysis = engine::analyze(&paths, &Options { threads });
            if matches!(format, Format::Table | Format::Csv) {
                report::write_capture_summaries(&analysis, &mut io::stderr().lock())?;
            } else {
                for e in &analysis.input_errors {
                    eprintln!("error: {e}");
                }
            }
            report::flows::write(&analysis, format, &mut out)?;
            out.flush()?;
            Ok(if analysis.input_errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}
