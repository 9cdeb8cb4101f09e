#!/usr/bin/env node
// Times Hugging Face's tokenizers (Rust, node bindings) on the text that
// data/hftok's BenchmarkEncodeQwen3* use, for the speed comparison:
//
//   cd data/hftok/testdata && npm install && node bench_npm.js
//   cd data/hftok && go test -run '^$' -bench Qwen3 -benchtime 3s
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');

const read = (name) => zlib.gunzipSync(fs.readFileSync(path.join(__dirname, name))).toString('utf8');

async function timeIt(label, bytes, fn) {
  await fn(); // warm the word cache, as the Go benchmark does
  let iters = 0;
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let elapsed = 0;
  while (elapsed < 3) {
    await fn();
    iters++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6; // all threads of the process
  const mbs = (bytes * iters) / elapsed / 1e6;
  const cpuMbs = (bytes * iters) / cpuSec / 1e6;
  console.log(`${label}: ${mbs.toFixed(2)} MB/s, ${cpuMbs.toFixed(2)} cpu-MB/s (${iters} iterations, ${(elapsed / iters * 1e3).toFixed(1)} ms each)`);
}

async function main() {
  const tok = Tokenizer.fromString(read('qwen3_tokenizer.json.gz'));
  const ref = JSON.parse(read('qwen3_reference.json.gz'));
  const texts = ref.cases.map((c) => c.text);
  const base = texts.join('\n');
  const baseBytes = Buffer.byteLength(base, 'utf8');
  const reps = Math.ceil((1 << 20) / baseBytes);
  const text = (base + '\n').repeat(reps);
  const bytes = Buffer.byteLength(text, 'utf8');
  const opts = { addSpecialTokens: false };
  console.log(`tokenizers ${require('tokenizers/package.json').version}, text of ${bytes} bytes`);
  await timeIt('encode, whole text in one call', bytes, () => tok.encode(text, null, opts));
  // Documents of at least 2 KiB cut at line ends, as in benchDocs.
  const docs = [];
  let cur = [];
  let n = 0;
  for (const line of text.split('\n')) {
    cur.push(line);
    n += Buffer.byteLength(line, 'utf8') + 1;
    if (n >= 2048) {
      docs.push(cur.join('\n'));
      cur = [];
      n = 0;
    }
  }
  if (cur.length > 0) docs.push(cur.join('\n'));
  const docBytes = docs.reduce((k, s) => k + Buffer.byteLength(s, 'utf8'), 0);
  await timeIt(`encode, ${docs.length} documents one by one`, docBytes, async () => {
    for (const d of docs) await tok.encode(d, null, opts);
  });
  await timeIt(`encodeBatch, ${docs.length} documents (parallel, all cores)`, docBytes, () => tok.encodeBatch(docs, opts));
  // Plain English-like documents, as englishDocs in bench_test.go.
  const words = ('the of and to in is was that for on with as by at from his her ' +
    'model training reward policy sample token diffusion masked language learning gradient ' +
    "quickly brown fox jumps over lazy dog 2024 3.14 it's don't they're (see below), " +
    'however; moreover: results! questions? e.g. 42% $100').split(/\s+/);
  let x = 1n;
  const english = [];
  for (let d = 0; d < 512; d++) {
    let doc = '';
    while (Buffer.byteLength(doc, 'utf8') < 2048) {
      x = (x * 1103515245n + 12345n) % (1n << 31n);
      doc += words[Number(x % BigInt(words.length))];
      doc += x % 7n === 0n ? '.\n' : ' ';
    }
    english.push(doc);
  }
  const engBytes = english.reduce((k, s) => k + Buffer.byteLength(s, 'utf8'), 0);
  await timeIt('encode, 512 English documents one by one', engBytes, async () => {
    for (const d of english) await tok.encode(d, null, opts);
  });
  await timeIt('encodeBatch, 512 English documents (parallel, all cores)', engBytes, () => tok.encodeBatch(english, opts));
  const ids = (await tok.encode(text, null, opts)).getIds();
  await timeIt('decode, whole text', bytes, () => tok.decode(ids, false));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
