//! Business rules: verifier mode with the French rules against verifier mode alone, and the
//! CertLogic evaluator against `certlogic-js` (the reference implementation, run in node) on
//! the same rules and data, in one run. Prints times and ratios.
//!
//! Certificates: 200 signed by a test French signer (fresh and old tests, first and second
//! doses), issued now. Rules: the French rule set of the EU gateway's test data. certlogic-js
//! is installed by `benches/scripts/install-certlogic-js` (npm, into `target/`); without it
//! the second comparison is skipped and says so. Each timing is the median of 21 passes (201
//! for the evaluator alone, each pass a millisecond or two) after
//! a warm-up pass.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use carnet_bench::{median_time, paired};
use carnet_certs::certlogic::Data;
use carnet_certs::country_rules::external_data;
use carnet_certs::issuer::TestIssuer;
use carnet_certs::rules::{BusinessRule, RuleScope, applicable, check_with_value_sets};
use carnet_certs::verifier::{self, CountryRules, Verdict, VerifierPolicy};
use carnet_certs::{ListHeader, RuleList, TrustList, ValueSets, hcert};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value as Json, json};

const DAY: i64 = 86_400;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn french_rule_documents() -> Vec<Json> {
    let dir = root().join("fixtures/dcc-rules/business-rules/FR");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("rule.json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn stamp(secs: i64) -> String {
    carnet_certs::instant::format(secs)
}

fn payloads(now: i64, count: usize) -> Vec<Json> {
    (0..count)
        .map(|i| {
            let name = json!({"fn": "Dupond", "fnt": "DUPOND", "gn": "Marie", "gnt": "MARIE"});
            let age = i64::try_from(i).unwrap() * 3600;
            if i % 2 == 0 {
                json!({"ver": "1.3.0", "nam": name, "dob": "1980-02-03", "t": [{
                    "tg": "840539006", "tt": "LP6464-4", "sc": stamp(now - age), "tr": "260415000",
                    "tc": "Labo", "co": "FR", "is": "CNAM", "ci": format!("URN:UVCI:01:FR:T{i}")}]})
            } else {
                json!({"ver": "1.3.0", "nam": name, "dob": "1980-02-03", "v": [{
                    "tg": "840539006", "vp": "J07BX03", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                    "dn": 1 + i % 3, "sd": 2, "dt": stamp(now - age * 7)[..10].to_owned(), "co": "FR",
                    "is": "CNAM", "ci": format!("URN:UVCI:01:FR:V{i}")}]})
            }
        })
        .collect()
}

fn main() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let issuer = TestIssuer::new("FR", now - 400 * DAY, now + 400 * DAY).unwrap();
    let payloads = payloads(now, 200);
    let texts: Vec<String> = payloads
        .iter()
        .map(|p| issuer.issue(p, now - 60, now + 300 * DAY).unwrap())
        .collect();
    let header = ListHeader {
        version: 1,
        issued_at: now,
    };
    let trust = TrustList::new(
        header.clone(),
        vec![("FR".into(), issuer.certificate_der().to_vec())],
    )
    .unwrap();
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let anchor =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let documents = french_rule_documents();
    let sealed = RuleList::seal(&header, &documents, &anchor, b"anchor01", &rng).unwrap();
    let rules = RuleList::open(
        &sealed,
        &carnet_codec::cose::VerifyingKey::EcdsaP256(anchor.public_key().as_ref().to_vec()),
    )
    .unwrap();
    let value_sets = ValueSets::shipped();
    let policy = VerifierPolicy {
        require_revocation_list: false,
        ..VerifierPolicy::default()
    };
    let country = CountryRules {
        arrival: "FR",
        rules: Some(&rules),
        value_sets: &value_sets,
    };
    let (mut valid, mut refused) = (0, 0);
    for text in &texts {
        match verifier::verify_in(text, &trust, None, Some(&country), now, &policy) {
            Verdict::Valid { .. } => valid += 1,
            Verdict::Invalid { .. } => refused += 1,
            Verdict::CannotConfirm { reason, .. } => panic!("cannot confirm: {reason}"),
        }
    }
    let alone = || {
        for text in &texts {
            black_box(verifier::verify(
                black_box(text),
                &trust,
                None,
                now,
                &policy,
            ));
        }
    };
    let with_rules = || {
        for text in &texts {
            black_box(verifier::verify_in(
                black_box(text),
                &trust,
                None,
                Some(&country),
                now,
                &policy,
            ));
        }
    };
    let rounds = 21;
    let (ruled, plain, ratio) = paired(rounds, with_rules, alone);
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / texts.len() as f64;
    println!(
        "Business rules benchmark: {} certificates ({valid} valid, {refused} refused by the {} French rules), median of {rounds} passes",
        texts.len(),
        rules.rules().len()
    );
    println!(
        "  verify alone                     {:>8.1} µs per certificate",
        per(plain)
    );
    println!(
        "  verify + French rules            {:>8.1} µs per certificate",
        per(ruled)
    );
    println!(
        "  (verify + rules) / verify alone  {:>8.2}  [<= 1.2]",
        1.0 / ratio
    );

    // CertLogic alone, Carnet against certlogic-js, on the same (rule, payload, external)
    // triples, the value sets shared by all as each engine's verifiers share them: read in
    // place (`Data::Gateway`) by Carnet, one object referenced by every data in JavaScript.
    let mut pairs: Vec<(Json, Json, Json)> = Vec::new();
    for text in &texts {
        let claims = hcert::decode(text).unwrap().claims;
        let scope = RuleScope::of_payload(&claims.payload).unwrap();
        let external = external_data("FR", &claims, now);
        for rule in applicable(rules.rules(), "FR", "FR", scope, now) {
            pairs.push((rule.logic.clone(), claims.payload.clone(), external.clone()));
        }
    }
    let evaluations = pairs.len();
    let repeat = 201;
    let mut held = 0usize;
    let carnet_ns = median_time(repeat, || {
        held = pairs
            .iter()
            .filter(|(logic, payload, external)| {
                let data = Data::Gateway {
                    payload: black_box(payload),
                    external,
                    value_sets: value_sets.codes(),
                };
                carnet_certs::certlogic::evaluate_in(black_box(logic), data)
                    .map(carnet_certs::certlogic::Value::into_json)
                    == Ok(Json::Bool(true))
            })
            .count();
    })
    .as_nanos() as f64
        / evaluations as f64;
    // The gateway verifiers' way: the value sets read in place, not copied into each data.
    let assess_us = median_time(repeat, || {
        for text in &texts {
            let claims = hcert::decode(text).unwrap().claims;
            let scope = RuleScope::of_payload(&claims.payload).unwrap();
            let chosen: Vec<&BusinessRule> = applicable(rules.rules(), "FR", "FR", scope, now);
            let external = external_data("FR", &claims, now);
            black_box(check_with_value_sets(
                &chosen,
                &claims.payload,
                &external,
                value_sets.codes(),
            ));
        }
    })
    .as_secs_f64()
        * 1e6
        / texts.len() as f64;
    println!(
        "CertLogic: {evaluations} evaluations ({held} true) of the French rules over these certificates"
    );
    println!("  Carnet evaluate                  {carnet_ns:>8.0} ns per evaluation");
    println!("  Carnet rules per certificate     {assess_us:>8.1} µs (decode, choose, evaluate)");
    let js = root().join("target/certlogic-js/node_modules/certlogic-js");
    if !js.exists() {
        println!(
            "  certlogic-js: not installed (benches/scripts/install-certlogic-js): comparison skipped"
        );
        return;
    }
    let input = std::env::temp_dir().join(format!("carnet-certlogic-{}.json", std::process::id()));
    std::fs::write(
        &input,
        serde_json::to_vec(&json!({
            "pairs": pairs.iter().map(|(l, p, e)| json!([l, p, e])).collect::<Vec<_>>(),
            "valueSets": value_sets.codes(),
            "repeat": repeat,
        }))
        .unwrap(),
    )
    .unwrap();
    let output = Command::new("node")
        .arg(root().join("benches/scripts/certlogic_js_bench.mjs"))
        .arg(&input)
        .env("NODE_PATH", root().join("target/certlogic-js/node_modules"))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&input);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    let js_ns = report["ns_per_evaluation"].as_f64().unwrap();
    assert_eq!(
        report["held"].as_u64(),
        Some(held as u64),
        "certlogic-js and Carnet must agree on every evaluation"
    );
    println!(
        "  certlogic-js {} evaluate       {js_ns:>8.0} ns per evaluation (node {})",
        report["version"].as_str().unwrap_or("?"),
        report["node"].as_str().unwrap_or("?")
    );
    println!(
        "  certlogic-js / Carnet            {:>8.2}  [>= 5]",
        js_ns / carnet_ns
    );
}
