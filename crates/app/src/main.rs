//! The `rosgate` binary.

use clap::Parser;
use kernel::{OsEntropy, SystemClock};
use rosgate::cli::{Cli, Command, TokenCommand, UserCommand, parse_ttl};
use rosgate::{Config, demo, server, wiring};
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rosgate: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if !matches!(cli.command, Command::Openapi) {
        init_tracing(&config);
    }
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rosgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[allow(clippy::print_stdout)] // printing is what these commands are for
async fn run(command: Command, config: Config) -> Result<(), Box<dyn std::error::Error>> {
    if let Command::Openapi = command {
        // The document depends on the code only: build it over a throw-away database.
        let key = || Some(seal::AesGcmSealer::generate_key(&OsEntropy));
        let scratch = Config {
            database_url: "sqlite::memory:".into(),
            encryption_key: key(),
            audit: rosgate::config::AuditConfig {
                link_key: key(),
                checkpoint_key: key(),
                ..config.audit.clone()
            },
            ..config
        };
        let state = wiring::build(&scratch, Arc::new(SystemClock), Arc::new(OsEntropy)).await?;
        println!("{}", rosgate::rest::spec_json(&state));
        return Ok(());
    }
    let mut config = config;
    if let Command::Serve { demo: true } = command {
        // The demo's simulated devices listen on 127.0.0.1.
        config.devices.allow_private_hosts = true;
    }
    let state = wiring::build(&config, Arc::new(SystemClock), Arc::new(OsEntropy)).await?;
    match command {
        Command::Openapi => {}
        Command::Migrate => println!("database is up to date"),
        Command::User {
            command:
                UserCommand::LinkIdentity {
                    email,
                    subject,
                    issuer,
                },
        } => {
            let issuer = issuer
                .or_else(|| config.oidc.as_ref().map(|o| o.issuer.clone()))
                .ok_or("--issuer is required when no [oidc] issuer is configured")?;
            let user = rosgate::cli::link_identity(&state, &email, &subject, &issuer).await?;
            println!("{} now logs in as {subject} at {issuer}", user.email);
        }
        Command::Token {
            command: TokenCommand::Create { email, ttl, name },
        } => {
            let ttl = ttl.as_deref().map(parse_ttl).transpose()?;
            let user = state
                .tenancy
                .repo()
                .user_by_email(&email)
                .await?
                .ok_or_else(|| format!("no user with email {email}"))?;
            let (token, secret) = state.tenancy.create_api_token(&user, &name, ttl).await?;
            eprintln!(
                "created token {} for {}; it is shown once:",
                token.id, user.email
            );
            println!("{}", secret.token);
        }
        Command::Serve { demo } => {
            // The simulated devices live as long as the server.
            let _simulator = if demo {
                let schema =
                    routeros_sim::Schema::find().and_then(|p| routeros_sim::Schema::load(p).ok());
                let sim = routeros_sim::Simulator::start(schema);
                demo::seed(
                    &state.tenancy,
                    &state.rbac,
                    state.clock.as_ref(),
                    state.entropy.as_ref(),
                )
                .await?;
                let n = demo::attach_simulator(&state.tenancy, &sim).await?;
                say(format_args!(
                    "{n} simulated RouterOS devices are running for the demo devices"
                ));
                Some(sim)
            } else {
                None
            };
            if demo {
                say(format_args!(
                    "demo data ready; API tokens valid for one day:"
                ));
                for (email, token) in demo::tokens(&state.tenancy).await? {
                    say(format_args!("  {email:<22} {token}"));
                }
            }
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .map_err(|e| {
                    format!(
                        "cannot listen on {}: {e} (set ROSGATE_LISTEN to another address)",
                        config.listen
                    )
                })?;
            let addr = listener.local_addr()?;
            let public_url = &state.web.public_url;
            say(format_args!(
                "public_url (what clients and the identity provider are told): {public_url}"
            ));
            // Last: supervisors and scripts read up to this line.
            say(format_args!(
                "rosgate listening on http://{addr}  (API docs: http://{addr}/docs)"
            ));
            if config.public_url.is_none() {
                tracing::warn!(
                    %public_url,
                    "public_url is not set: derived from the listen address; set it to the URL \
                     clients reach rosgate at (behind a proxy or on another host)"
                );
            }
            let _health = rosgate::jobs::health::spawn(state.health.clone());
            let refusals = wiring::refusal_writer(&state);
            let _refusals = refusals.clone().spawn();
            let _checkpoints = rosgate::jobs::checkpoints::spawn(
                state.audit_trust.clone(),
                state.db.clone(),
                state.clock.clone(),
            );
            let grace = time::Duration::seconds(
                i64::try_from(config.audit.intent_grace_seconds).unwrap_or(3600),
            );
            let _intents = wiring::intent_settler(&state).spawn(grace);
            let app = server::app(state.clone(), config.max_body_bytes);
            server::serve(app, listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            // Every request has been answered; commit what they queued, then
            // sign where each chain ends.
            refusals.flush(true).await;
            state.audit.shutdown().await;
            if let Err(e) = state
                .audit_trust
                .write_checkpoints(&state.db, state.clock.now())
                .await
            {
                tracing::error!(error = %e, "cannot write the last audit checkpoints");
            }
        }
    }
    Ok(())
}

/// Prints a line of the server's start-up banner. A stdout nobody reads any
/// more (a supervisor that stopped after the banner) must never stop a
/// running server, so write errors are ignored.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}
