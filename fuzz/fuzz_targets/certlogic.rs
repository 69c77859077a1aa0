//! CertLogic on arbitrary JSON: the bytes as `[rule, data]` (or a rule alone, over `null`),
//! validated and evaluated. Must never panic, hang or overflow the stack: every evaluation
//! ends, a value or a typed error, within the step budget.
#![no_main]

use carnet_certs::certlogic::{evaluate, validate};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (rule, context) = match &json {
        Value::Array(pair) if pair.len() == 2 => (&pair[0], &pair[1]),
        _ => (&json, &Value::Null),
    };
    let _ = validate(rule);
    let _ = evaluate(rule, context);
});
