use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = kpid::cli::Cli::parse();
    match kpid::cli::execute(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
