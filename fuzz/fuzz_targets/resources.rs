//! Resource YAML as an operator (or anyone with the CLI) hands it in: any text parses to
//! resources and diagnostics without panicking, and what parses re-renders to YAML that
//! parses again to the same resources.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nexus_core::resource::parse_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_str("fuzz.yaml", text);
    if parsed.diags.iter().any(|d| d.is_error()) {
        return;
    }
    for r in &parsed.resources {
        let again = parse_str("again.yaml", &r.to_yaml());
        assert!(
            !again.diags.iter().any(|d| d.is_error()),
            "re-rendered YAML does not parse: {:?}",
            again.diags
        );
        assert_eq!(again.resources.len(), 1);
        assert_eq!(again.resources[0].to_yaml(), r.to_yaml());
    }
});
