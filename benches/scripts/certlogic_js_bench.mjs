// Times certlogic-js (the reference CertLogic implementation) on the (logic, data) pairs the
// rules benchmark writes, as many rounds as it asks; prints one JSON line.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.NODE_PATH + "/");
const { evaluate } = require("certlogic-js");
const { version } = require("certlogic-js/package.json");

const { pairs, repeat } = JSON.parse(readFileSync(process.argv[2], "utf8"));
let held = 0;
// One warm-up round for the JIT, as the Rust side warms its caches.
for (const [logic, data] of pairs) evaluate(logic, data);
const start = process.hrtime.bigint();
for (let round = 0; round < repeat; round++) {
  held = 0;
  for (const [logic, data] of pairs) {
    if (evaluate(logic, data) === true) held++;
  }
}
const elapsed = Number(process.hrtime.bigint() - start);
console.log(JSON.stringify({
  ns_per_evaluation: elapsed / (repeat * pairs.length),
  held,
  version,
  node: process.version,
}));
