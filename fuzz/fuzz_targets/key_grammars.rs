//! Object keys as brokers (or anyone) send them: every grammar classifies any key without
//! panicking, with and without a configured prefix; a key a grammar does not know is generic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nexus_core::keys::{KeyGrammar, System};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // First line: the key; second: a prefix or managed ledger name.
    let (key, extra) = text.split_once('\n').unwrap_or((&text, ""));
    for system in [
        System::Kafka,
        System::Pulsar,
        System::Pravega,
        System::Redpanda,
        System::Generic,
    ] {
        let plain = KeyGrammar::new(system).classify(key, Some(extra));
        let prefixed = KeyGrammar::new(system)
            .with_prefix(extra)
            .classify(key, None);
        for class in [plain, prefixed] {
            assert!(class.system == system || class.system == System::Generic);
        }
    }
});
