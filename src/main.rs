//! The `flowaudit` command: parses arguments, calls the library, maps results to exit codes.
//!
//! Exit codes: 0 fine; 1 findings (audit); 2 usage error, invalid rules or inventory, or an input
//! that could not be read as a capture at all. A broken pipe on standard output is not an error.

mod live_cmd;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use flowaudit::classify::Inventory;
use flowaudit::engine::{self, Options};
use flowaudit::error::ConfigError;
use flowaudit::model::Feature;
use flowaudit::report::audit::AuditFormat;
use flowaudit::report::{self, Format};
use flowaudit::rules::{RuleSet, BASELINE};

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
    /// Audit captures against the rule set: missing, blocked, unexpected and deprecated paths.
    Audit {
        #[command(flatten)]
        policy: PolicyArgs,
        /// Output format: text, json, csv.
        #[arg(long, short = 'f', default_value = "text")]
        format: AuditFormat,
        /// Write the report to this file instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Deprecated paths are findings too (exit 1).
        #[arg(long)]
        strict: bool,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Capture files, folders (read recursively) or `-` for standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show every host of the captures with its role and the evidence for it.
    Roles {
        #[command(flatten)]
        policy: PolicyArgs,
        /// Output format: text or json.
        #[arg(long, short = 'f', default_value = "text")]
        format: AuditFormat,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Capture files, folders or `-`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Capture live from an interface, then print the same audit report as `audit`.
    Live(live_cmd::LiveArgs),
    /// Check rule files, or list the rules in effect.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate rule files (or the shipped set): every error with file, line and column.
    Check {
        /// Rule files or folders; none checks the shipped set.
        paths: Vec<PathBuf>,
    },
    /// List the rules in effect as a table.
    List {
        #[command(flatten)]
        policy: PolicyArgs,
        /// Output format: text, csv or json.
        #[arg(long, short = 'f', default_value = "text")]
        format: AuditFormat,
    },
}

/// What the audit judges against: rules, inventory, features.
#[derive(Args, Clone)]
pub(crate) struct PolicyArgs {
    /// Inventory file: deployed features and hosts with their roles.
    #[arg(long, short = 'i')]
    inventory: Option<PathBuf>,
    /// Rule files or folders that replace the shipped rule set.
    #[arg(long)]
    rules: Vec<PathBuf>,
    /// Rule files or folders added to the rule set.
    #[arg(long = "add-rules")]
    add_rules: Vec<PathBuf>,
    /// Deployed features, comma-separated (replaces the inventory's list).
    #[arg(long, value_delimiter = ',')]
    features: Option<Vec<String>>,
    /// Switch off the domain-member baseline rule set.
    #[arg(long)]
    no_baseline: bool,
    /// Switch off a rule set by name.
    #[arg(long)]
    disable: Vec<String>,
    /// Switch on a rule set that is off by default.
    #[arg(long)]
    enable: Vec<String>,
}

/// The checked policy: built before any packet is read.
pub(crate) struct Policy {
    pub(crate) rules: RuleSet,
    pub(crate) inventory: Option<Inventory>,
    pub(crate) features: Vec<Feature>,
    pub(crate) features_from: String,
}

fn config_error(e: ConfigError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl PolicyArgs {
    pub(crate) fn load(&self) -> anyhow::Result<Policy> {
        let mut rules = if !self.rules.is_empty() {
            let mut paths = self.rules.clone();
            paths.extend(self.add_rules.iter().cloned());
            RuleSet::load(&paths).map_err(config_error)?
        } else {
            RuleSet::builtin_plus(&self.add_rules).map_err(config_error)?
        };
        let mut disable = self.disable.clone();
        if self.no_baseline && rules.sets.iter().any(|s| s.name == BASELINE) {
            disable.push(BASELINE.to_string());
        }
        rules
            .select(&disable, &self.enable)
            .map_err(|e| anyhow::anyhow!(e))?;
        let inventory = match &self.inventory {
            Some(p) => Some(Inventory::load(p).map_err(config_error)?),
            None => None,
        };
        let (features, features_from) = match &self.features {
            Some(list) => {
                let mut out = Vec::new();
                for f in list.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
                    out.push(Feature::parse(f).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--features: unknown feature '{f}' (expected one of: {})",
                            Feature::names()
                        )
                    })?);
                }
                (out, "from --features".to_string())
            }
            None => match &inventory {
                Some(inv) => (
                    inv.features.clone(),
                    format!("from inventory {}", inv.path.display()),
                ),
                None => (
                    Vec::new(),
                    "none given: only rules without features apply; use --inventory or --features"
                        .to_string(),
                ),
            },
        };
        Ok(Policy {
            rules,
            inventory,
            features,
            features_from,
        })
    }
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

/// Reads the captures (folding ended flows) and judges them; says whether an input could not be
/// read at all (the errors are printed on standard error).
fn audit_captures(
    p: Policy,
    paths: &[PathBuf],
    threads: Option<usize>,
) -> (engine::AuditReport, bool) {
    let analysis = with_progress(paths, |progress| {
        engine::analyze(
            paths,
            &Options {
                threads,
                fold: true,
                chunk_bytes: None,
                progress,
                force_parallel: false,
            },
        )
    });
    for e in &analysis.input_errors {
        eprintln!("error: {e}");
    }
    let input_failed = !analysis.input_errors.is_empty();
    let r = engine::audit(
        analysis,
        &p.rules,
        p.inventory.as_ref(),
        &p.features,
        p.features_from,
    );
    (r, input_failed)
}

/// Runs `work` with a progress bar on standard error: only when standard error is a terminal and
/// the work lasts more than a second. Shows bytes read of bytes total, rate and time left.
fn with_progress<T>(paths: &[PathBuf], work: impl FnOnce(Option<Arc<AtomicU64>>) -> T) -> T {
    if !io::stderr().is_terminal() {
        return work(None);
    }
    let counter = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let total = engine::total_input_bytes(paths);
    let (c, d) = (counter.clone(), done.clone());
    let painter = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(1) {
            if d.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let bar = indicatif::ProgressBar::new(total.max(1));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        while !d.load(Ordering::Relaxed) {
            bar.set_position(c.load(Ordering::Relaxed).min(total));
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    });
    let out = work(Some(counter));
    done.store(true, Ordering::Relaxed);
    let _ = painter.join();
    out
}

pub(crate) fn open_output(path: &Option<PathBuf>) -> anyhow::Result<Box<dyn Write>> {
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
            let analysis = with_progress(&paths, |progress| {
                engine::analyze(
                    &paths,
                    &Options {
                        threads,
                        fold: false,
                        chunk_bytes: None,
                        progress,
                        force_parallel: false,
                    },
                )
            });
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
        Command::Audit {
            policy,
            format,
            output,
            strict,
            threads,
            paths,
        } => {
            // Every configuration file is checked before a single packet is read.
            let p = policy.load()?;
            let mut out = open_output(&output)?;
            let (r, input_failed) = audit_captures(p, &paths, threads);
            report::audit::write(&r, format, strict, &mut out)?;
            out.flush()?;
            Ok(if input_failed {
                ExitCode::from(2)
            } else if r.result.fails(strict) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Roles {
            policy,
            format,
            threads,
            paths,
        } => {
            if format == AuditFormat::Csv {
                anyhow::bail!("roles: --format takes text or json");
            }
            let p = policy.load()?;
            let (r, input_failed) = audit_captures(p, &paths, threads);
            let mut out = io::BufWriter::new(io::stdout().lock());
            report::roles::write(&r.hosts, format, &mut out)?;
            out.flush()?;
            Ok(if input_failed {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Live(args) => live_cmd::run(args),
        Command::Rules { command } => match command {
            RulesCommand::Check { paths } => {
                let res = if paths.is_empty() {
                    Ok(RuleSet::builtin())
                } else {
                    RuleSet::load(&paths)
                };
                match res {
                    Ok(rs) => {
                        println!(
                            "ok: {} rules, {} endpoint patterns, {} address ranges, {} background entries in {} rule set(s)",
                            rs.rules.len(),
                            rs.endpoints.names.len(),
                            rs.endpoints.ranges.len(),
                            rs.background.len(),
                            rs.sets.len()
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        eprintln!("{} error(s)", e.diagnostics.len());
                        Ok(ExitCode::from(2))
                    }
                }
            }
            RulesCommand::List { policy, format } => {
                let p = policy.load()?;
                let mut out = io::BufWriter::new(io::stdout().lock());
                report::rules::write(&p.rules, &p.features, format, &mut out)?;
                out.flush()?;
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}
