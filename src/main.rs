//! The `session-gateway` binary: a thin dispatcher over the library's subcommands.
//!
//! Every command prints JSON on stdout (`accounts list` a table unless `--json`). A failure
//! prints one line, `error: …`, on stderr and exits with status 1.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use session_gateway::cli::admin::{self, AdminCommand};
use session_gateway::cli::{offline, serve};

#[derive(Parser)]
#[command(
    name = "session-gateway",
    version,
    about = "Run Session accounts as infrastructure"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: REST API, event stream and webhooks (prints one JSON line when ready).
    Serve(serve::ServeArgs),
    /// Offline identity tools: make or restore an account's keys.
    #[command(subcommand)]
    Id(IdCommand),
    /// Offline message tools: build or open what a client stores on a swarm.
    #[command(subcommand)]
    Message(MessageCommand),
    /// Start a local Session network (seed, service nodes, file server) on 127.0.0.1 and run
    /// until SIGINT/SIGTERM.
    Devnet(session_gateway::devnet::cli::DevnetArgs),
    /// Accounts in the configured database: list, export (with the phrase), import.
    #[command(subcommand)]
    Accounts(admin::AccountsCommand),
    /// API keys in the configured database: create one.
    #[command(subcommand)]
    ApiKeys(admin::ApiKeysCommand),
    /// Webhooks in the configured database: replay deliveries.
    #[command(subcommand)]
    Webhooks(admin::WebhooksCommand),
    /// Re-seal every secret of the configured database under a new master key (gateways
    /// stopped; safe to interrupt and run again).
    RotateMasterKey(admin::RotateArgs),
}

#[derive(Subcommand)]
enum IdCommand {
    /// Make a new account: prints session_id, ed25519_pubkey and phrase.
    New,
    /// Restore an account from its 13-word recovery phrase.
    FromPhrase {
        /// The recovery phrase, quoted as one argument.
        phrase: String,
    },
}

#[derive(Subcommand)]
enum MessageCommand {
    /// Encrypt a text message as the namespace-0 payload stored on the recipient's swarm.
    Encrypt {
        /// The sender's recovery phrase.
        #[arg(long)]
        phrase: String,
        /// The recipient's Session ID (05…).
        #[arg(long)]
        to: String,
        /// The message text.
        #[arg(long)]
        text: String,
    },
    /// Decrypt a namespace-0 payload (base64) addressed to the account of --phrase.
    Decrypt {
        /// The recipient's recovery phrase.
        #[arg(long)]
        phrase: String,
        /// The payload as stored on the swarm, base64.
        #[arg(long)]
        data: String,
    },
}

fn main() -> ExitCode {
    // Before the runtimes and the store allocate (a gateway's start repeats it for embedders).
    session_gateway::memory::disable_transparent_huge_pages();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the chain of causes, each once; never a backtrace or a secret.
            eprintln!("error: {}", session_gateway::cli::error_line(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    let output = match command {
        Command::Serve(args) => return serve::main(args),
        Command::Devnet(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            return runtime.block_on(session_gateway::devnet::cli::run(args));
        }
        Command::Accounts(command) => return print(admin::main(AdminCommand::Accounts(command))),
        Command::ApiKeys(command) => return print(admin::main(AdminCommand::ApiKeys(command))),
        Command::Webhooks(command) => return print(admin::main(AdminCommand::Webhooks(command))),
        Command::RotateMasterKey(args) => {
            return print(admin::main(AdminCommand::RotateMasterKey(args)))
        }
        Command::Id(IdCommand::New) => offline::id_new()?,
        Command::Id(IdCommand::FromPhrase { phrase }) => offline::id_from_phrase(&phrase)?,
        Command::Message(MessageCommand::Encrypt { phrase, to, text }) => {
            offline::message_encrypt(&phrase, &to, &text)?
        }
        Command::Message(MessageCommand::Decrypt { phrase, data }) => {
            offline::message_decrypt(&phrase, &data)?
        }
    };
    println!("{output}");
    Ok(())
}

/// Prints an admin command's output on stdout.
fn print(output: Result<String, admin::AdminError>) -> anyhow::Result<()> {
    println!("{}", output?);
    Ok(())
}
