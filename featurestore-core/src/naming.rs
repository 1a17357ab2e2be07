//! Names the framework gives: a declaration's default name, and the name
//! of every output column of a feature set.

use crate::aggregation::Aggregation;
use crate::window::{Frame, Window};

/// Name of the time column of every feature set's output.
pub const TIMESTAMP_COLUMN: &str = "timestamp";

/// `cpf_orders__count_over_3_days_rolling_windows`, or `cpf_orders__count`
/// without windows.
pub fn output_name(feature: &str, aggregation: Aggregation, window: Option<Window>) -> String {
    match window {
        Some(w) => format!(
            "{feature}__{}_over_{}_rolling_windows",
            aggregation.label(),
            w.name()
        ),
        None => format!("{feature}__{}", aggregation.label()),
    }
}

/// The output of a window function: `amount__avg_over_2_minutes_fixed_windows`,
/// `amount__sum_over_2_events_row_windows`.
pub fn frame_output_name(feature: &str, aggregation: Aggregation, frame: Frame) -> String {
    match frame {
        Frame::Range(w) => format!(
            "{feature}__{}_over_{}_fixed_windows",
            aggregation.label(),
            w.name()
        ),
        Frame::Rows(n) => format!(
            "{feature}__{}_over_{n}_{}_row_windows",
            aggregation.label(),
            if n == 1 { "event" } else { "events" }
        ),
    }
}

/// A struct name in snake case, the default name of a declaration:
/// `OrderEvents` → `order_events`, `HTTPRequests` → `http_requests`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregation::Percentage;
    use crate::window::WindowUnit;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("OrderEvents"), "order_events");
        assert_eq!(snake_case("UserOrders"), "user_orders");
        assert_eq!(snake_case("HTTPRequests"), "http_requests");
        assert_eq!(snake_case("Users2Orders"), "users2_orders");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("A"), "a");
    }

    #[test]
    fn output_names() {
        let w = |amount, unit| Some(Window { amount, unit });
        assert_eq!(
            output_name("cpf_orders", Aggregation::Count, w(3, WindowUnit::Days)),
            "cpf_orders__count_over_3_days_rolling_windows"
        );
        assert_eq!(
            output_name("x", Aggregation::StddevPop, w(1, WindowUnit::Weeks)),
            "x__stddev_pop_over_1_week_rolling_windows"
        );
        assert_eq!(output_name("x", Aggregation::Avg, None), "x__avg");
        assert_eq!(
            output_name(
                "x",
                Aggregation::Percentile(Percentage {
                    millionths: 999_000
                }),
                None
            ),
            "x__percentile_99_9"
        );
    }

    #[test]
    fn frame_output_names() {
        let two_minutes = Window {
            amount: 2,
            unit: WindowUnit::Minutes,
        };
        assert_eq!(
            frame_output_name("amount", Aggregation::Avg, Frame::Range(two_minutes)),
            "amount__avg_over_2_minutes_fixed_windows"
        );
        assert_eq!(
            frame_output_name("amount", Aggregation::Sum, Frame::Rows(1)),
            "amount__sum_over_1_event_row_windows"
        );
        assert_eq!(
            frame_output_name("amount", Aggregation::Sum, Frame::Rows(2)),
            "amount__sum_over_2_events_row_windows"
        );
    }
}
