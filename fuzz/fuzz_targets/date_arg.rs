//! The CLI's `--start-date`/`--end-date` parser on any text: it never panics,
//! accepts only what prints back as the same `YYYY-MM-DD` date, and its
//! error quotes the argument.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The parser `featurestore_runtime::cli::parse_date` is, without the rest of
// the runtime (and polars) to build.
#[path = "../../featurestore-runtime/src/date_arg.rs"]
mod date_arg;
use date_arg::parse_date;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_date(text) {
        Ok(date) => {
            let printed = date.format("%Y-%m-%d").to_string();
            assert_eq!(parse_date(&printed), Ok(date), "{text:?}");
            assert!(
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                "{text:?} accepted"
            );
        }
        Err(message) => {
            assert!(message.contains("YYYY-MM-DD"), "{message}");
            assert!(message.contains(text), "{message}");
        }
    }
});
