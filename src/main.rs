use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = kpid::cli::Cli::parse();
    match cli.execute().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
