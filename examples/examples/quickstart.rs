//! Declares a source and a feature set, runs them on a small CSV, and looks
//! up a typed online row.
//!
//! ```sh
//! cargo run -p examples --example quickstart
//! ```

use chrono::{NaiveDate, NaiveDateTime};
use featurestore_runtime::cli::{print_frame, Format};
use featurestore_runtime::config::Config;
use featurestore_runtime::pipeline::{self, Stores};
use featurestore_runtime::store::online::Value;
use featurestore_runtime::{feature_set, get_row, source, DateRange};

/// Card payments.
#[derive(Debug)]
#[source(path = "payments.csv")]
pub struct Payments {
    /// Paying user.
    pub user_id: i64,
    /// When the payment was captured.
    pub paid_at: NaiveDateTime,
    /// Amount in the account's currency.
    pub amount: Option<f64>,
}

/// How much each user spends.
#[derive(Debug)]
#[feature_set(entity = "user_id", window = "1d,7d", source = Payments, timestamp = paid_at)]
pub struct UserSpend {
    /// Amount paid.
    #[feature(sum(amount), avg(amount), max(amount))]
    pub spend: f64,
    /// Payments made, with or without an amount.
    #[feature(count(paid_at))]
    pub payments: i64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile_dir()?;
    std::fs::write(
        dir.join("payments.csv"),
        "user_id,paid_at,amount\n\
         1,2024-03-01 09:30:00,12.5\n\
         1,2024-03-01 18:00:00,7.5\n\
         1,2024-03-04 12:00:00,\n\
         2,2024-03-02 08:00:00,100\n",
    )?;

    let mut config = Config::defaults(&dir);
    config.online_url = "memory://".to_string();
    let stores = Stores::open(&config)?;
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 3, 10),
    };
    let report = pipeline::execute(&UserSpend::SPEC, &config, &stores, range, &|_| {})?;

    // A run's rows come by day (the order its day files are written from):
    // sorted, they are each user's history.
    println!("every change point of `user_spend`, by user and time:");
    let rows = report
        .rows
        .sort(["user_id", "timestamp"], Default::default())?;
    print_frame(&rows, Format::Table, &mut std::io::stdout())?;

    let row = get_row::<UserSpend>(&*stores.online, &[Value::Int(1)])?;
    println!("\nonline row of user 1: {row:#?}");
    println!(
        "column constant: {}",
        UserSpend::SPEND__SUM_OVER_7_DAYS_ROLLING_WINDOWS
    );
    Ok(())
}

use featurestore_runtime::FeatureSet as _;

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("featurestore-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
