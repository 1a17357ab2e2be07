//! The date arguments of the command line (`--start-date`, `--end-date`).
//! Only `chrono` here: the fuzz target includes this file as it is.

use chrono::NaiveDate;

/// Parses a `YYYY-MM-DD` date argument.
pub fn parse_date(s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date in the form YYYY-MM-DD ({e})"))
}
