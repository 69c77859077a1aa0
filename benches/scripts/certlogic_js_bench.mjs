// Times certlogic-js (the reference CertLogic implementation) on the (logic, payload, external)
// triples and the value sets the rules benchmark writes, as many rounds as it asks (the median
// round); prints one JSON line.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.NODE_PATH + "/");
const { evaluate } = require("certlogic-js");
const { version } = require("certlogic-js/package.json");

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { repeat, valueSets } = input;
// Each data as the gateway's verifiers build it: the one value-set object referenced by all.
const pairs = input.pairs.map(([logic, payload, external]) =>
  [logic, { payload, external: Object.assign({}, external, { valueSets }) }]);
let held = 0;
// One warm-up round for the JIT, then the median of `repeat` rounds, as the Rust side times.
for (const [logic, data] of pairs) evaluate(logic, data);
const times = [];
for (let round = 0; round < repeat; round++) {
  const start = process.hrtime.bigint();
  held = 0;
  for (const [logic, data] of pairs) {
    if (evaluate(logic, data) === true) held++;
  }
  times.push(Number(process.hrtime.bigint() - start));
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  ns_per_evaluation: times[Math.floor(repeat / 2)] / pairs.length,
  held,
  version,
  node: process.version,
}));
