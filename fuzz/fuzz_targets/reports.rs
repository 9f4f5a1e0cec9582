//! libFuzzer target: every report of arbitrary console bytes, serialised,
//! must be produced without panicking and with sane offsets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in culprit_report::reports(data) {
        assert!(r.start <= r.end && r.end <= data.len());
        assert!(r.title.len() <= 120);
        let _ = culprit_report::score_json(Some(&r));
    }
});
