//! `gatehouse`: runs the server (`serve`) and is a thin client of its admin API for
//! everything else (`keys`, `clients`, `users`, `signing-keys`, `audit`, `ca`), plus
//! offline config tools (`config`).
//!
//! Admin commands read `GATEHOUSE_URL` and `GATEHOUSE_ADMIN_KEY`, print a table (or
//! JSON with `--json`), and on failure exit non-zero with a one-line reason.

mod audit;
mod ca;
mod client;
mod clients;
mod commands;
mod keys;
mod serve;
mod signing_keys;
mod table;
mod users;

use clap::Parser;
use commands::{Cli, Command, ConfigCommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: allocation was a fifth of the CPU time of a
/// verification under load, and small objects (a million index entries) cost less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Config { command } => match command {
            ConfigCommand::Example => {
                print!("{}", gatehouse_server::config::EXAMPLE);
                Ok(ExitCode::SUCCESS)
            }
            ConfigCommand::Check { file } => {
                let settings = gatehouse_server::Settings::check_file(&file)?;
                if let Some(tls) = &settings.tls {
                    gatehouse_server::tls::check(tls)?;
                }
                println!("{}: ok", file.display());
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Keys { command } => keys::run(&cli.global, command).await,
        Command::Audit { command } => audit::run(&cli.global, command).await,
        Command::Clients { command } => clients::run(&cli.global, command).await,
        Command::Users { command } => users::run(&cli.global, command).await,
        Command::SigningKeys { command } => signing_keys::run(&cli.global, command).await,
        Command::Ca { command } => ca::run(&cli.global, command).await,
    }
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| flatten(&cause.to_string()))
        .collect::<Vec<_>>()
        .join(": ")
}

/// A message on one line. Some causes span several (TOML errors add context lines
/// and draw the offending source line with a caret); the drawing is left out.
fn flatten(message: &str) -> String {
    let drawing = |line: &str| {
        line.starts_with('|')
            || line
                .split_once(" |")
                .is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
    };
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !drawing(line))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::flatten;

    #[test]
    fn multi_line_messages_become_one_line() {
        assert_eq!(flatten("plain"), "plain");
        assert_eq!(
            flatten("server.x: unknown field `x`, expected `listen`\nin `server`\n"),
            "server.x: unknown field `x`, expected `listen`; in `server`"
        );
        let toml = "f.toml: TOML parse error at line 1, column 8\n  |\n1 | [server\n  |        ^\nunclosed table, expected `]`\n";
        assert_eq!(
            flatten(toml),
            "f.toml: TOML parse error at line 1, column 8; unclosed table, expected `]`"
        );
    }
}
