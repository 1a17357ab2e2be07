//! Days and microseconds: the time arithmetic the transform and the stores
//! share (a row's day decides both its window and its partition).

use chrono::NaiveDate;

/// Microseconds in a day.
pub const DAY_US: i64 = 86_400_000_000;

/// Days since 1970-01-01.
pub fn epoch_day(d: NaiveDate) -> i64 {
    d.signed_duration_since(NaiveDate::default()).num_days()
}

/// The date `day` days after 1970-01-01.
pub fn day_to_date(day: i64) -> NaiveDate {
    NaiveDate::default() + chrono::Duration::days(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        let d = NaiveDate::from_ymd_opt(2020, 7, 17).unwrap();
        assert_eq!(epoch_day(d), 18_460);
        assert_eq!(day_to_date(18_460), d);
        assert_eq!(
            day_to_date(-1),
            NaiveDate::from_ymd_opt(1969, 12, 31).unwrap()
        );
    }
}
