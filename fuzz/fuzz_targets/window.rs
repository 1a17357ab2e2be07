//! The `window = "..."`, `slide = "..."` and duration parsers of
//! featurestore-core, on any text: they never panic, what they accept
//! prints back to what it parses to, and the slide check refuses exactly
//! the windows that are not whole slides (whole days without a slide).
#![no_main]

use featurestore_core::window::{self, WindowUnit};
use libfuzzer_sys::fuzz_target;

fn suffix(unit: WindowUnit) -> &'static str {
    match unit {
        WindowUnit::Minutes => "m",
        WindowUnit::Hours => "h",
        WindowUnit::Days => "d",
        WindowUnit::Weeks => "w",
    }
}

fn micros(w: &window::Window) -> i128 {
    i128::from(w.amount) * i128::from(w.unit.micros())
}

const DAY: i128 = 86_400_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let windows = window::parse(text);
    match &windows {
        Ok(windows) => {
            assert!(!windows.is_empty(), "{text:?} parsed to no window");
            let mut lengths = Vec::new();
            for w in windows {
                assert!(w.amount > 0, "{text:?}: zero-length window {w:?}");
                assert!(!lengths.contains(&micros(w)), "{text:?}: duplicate length");
                lengths.push(micros(w));
            }
            let printed: Vec<String> = windows
                .iter()
                .map(|w| format!("{}{}", w.amount, suffix(w.unit)))
                .collect();
            assert_eq!(
                window::parse(&printed.join(",")),
                Ok(windows.clone()),
                "{text:?} does not round-trip"
            );
            // Without a slide (daily), exactly the windows of whole days pass.
            let refused = window::check_slide(windows, None).len();
            let partial = windows.iter().filter(|w| micros(w) % DAY != 0).count();
            assert_eq!(refused, partial, "{text:?}: daily slide check");
        }
        Err(errors) => assert!(!errors.is_empty(), "{text:?}: error without message"),
    }
    if let Ok(w) = window::parse_duration(text, "ttl") {
        let printed = format!("{}{}", w.amount, suffix(w.unit));
        assert_eq!(window::parse_duration(&printed, "ttl"), Ok(w));
    }
    // A slide divides a day; with it, exactly the windows of whole slides pass.
    if let Ok(slide) = window::parse_slide(text) {
        let step = micros(&slide);
        assert!(step > 0 && DAY % step == 0, "{text:?}: slide {slide:?}");
        for list in ["1d,7d", "90m,3h", "15m,2h,30d"] {
            let Ok(windows) = window::parse(list) else {
                panic!("{list:?} parses");
            };
            let refused = window::check_slide(&windows, Some(slide)).len();
            let partial = windows.iter().filter(|w| micros(w) % step != 0).count();
            assert_eq!(refused, partial, "{text:?} over {list:?}");
        }
    }
});
