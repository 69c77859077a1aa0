//! Business rules and value sets as they arrive from the network, on arbitrary bytes: read
//! as a rule list (the gateway's JSON) and as value-set documents, and every rule that reads
//! judged against a fixed certificate. Must never panic or hang: a list is refused whole or
//! read, each judgement ends within the evaluator's budget.
#![no_main]

use carnet_certs::country_rules::assess;
use carnet_certs::rules::parse_rules;
use carnet_certs::{CwtClaims, ValueSets};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    if let Ok(Value::Array(documents)) = serde_json::from_slice::<Value>(data) {
        let _ = ValueSets::from_documents(None, &documents);
    }
    let Ok(rules) = parse_rules(data) else {
        return;
    };
    let claims = CwtClaims {
        issuer: Some("FR".into()),
        issued_at: Some(1_640_000_000),
        expires_at: Some(1_700_000_000),
        payload: json!({"ver": "1.3.0", "nam": {"fnt": "X"}, "dob": "1980",
            "v": [{"tg": "840539006", "vp": "J07BX03", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                   "dn": 2, "sd": 2, "dt": "2021-12-01", "co": "FR", "is": "X", "ci": "U"}]}),
    };
    let sets = ValueSets::shipped();
    for country in rules.iter().map(|r| r.country.clone()).take(4) {
        let _ = assess(&rules, &sets, &country, &claims, 1_650_000_000);
    }
});
