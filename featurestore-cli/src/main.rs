//! `featurestore new NAME`: a new feature crate, ready to build and run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use featurestore_cli::{create, default_checkout, NewCrate, Source};

/// Starts feature crates for the featurestore framework.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new feature crate in directory NAME (its last component names the crate)
    New {
        /// The directory to create, e.g. `payments` or `../crates/payments`
        name: PathBuf,
        /// The featurestore checkout to depend on [default: the one this program was installed from]
        #[arg(long, value_name = "DIR", conflicts_with = "git")]
        path: Option<PathBuf>,
        /// Depend on featurestore by git URL instead of a checkout
        #[arg(long, value_name = "URL")]
        git: Option<String>,
        /// With --git: the branch
        #[arg(long, requires = "git", conflicts_with_all = ["tag", "rev"])]
        branch: Option<String>,
        /// With --git: the tag
        #[arg(long, requires = "git", conflicts_with = "rev")]
        tag: Option<String>,
        /// With --git: the commit
        #[arg(long, requires = "git")]
        rev: Option<String>,
        /// Runtime features to enable, comma-separated: s3, gcs, azure, redis, h3, spark
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
    },
}

fn main() -> ExitCode {
    let Command::New {
        name,
        path,
        git,
        branch,
        tag,
        rev,
        features,
    } = Cli::parse().command;
    let source = match (git, path.or_else(default_checkout)) {
        (Some(url), _) => Source::Git {
            url,
            reference: branch
                .map(|b| ("branch", b))
                .or(tag.map(|t| ("tag", t)))
                .or(rev.map(|r| ("rev", r))),
        },
        (None, Some(dir)) => Source::Path(std::path::absolute(&dir).unwrap_or(dir)),
        (None, None) => {
            eprintln!(
                "error: this program was moved from the checkout it was built in: say where \
                 featurestore is with `--path DIR` (a checkout) or `--git URL`"
            );
            return ExitCode::FAILURE;
        }
    };
    let new = NewCrate {
        dir: name.clone(),
        source,
        features,
    };
    match create(&new) {
        Ok(files) => {
            println!("Created {}:", name.display());
            for f in files {
                println!("  {}", f.display());
            }
            println!(
                "\nNext:\n  cd {}\n  cargo run -- execute feature_store.user_payments --end-date 2024-01-08\n  \
                 cargo run -- get feature_store.user_payments u1\n  cargo doc --no-deps --open",
                name.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
