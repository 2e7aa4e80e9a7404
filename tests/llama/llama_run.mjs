#!/usr/bin/env node
// Loads a GGUF file in real llama.cpp (node-llama-cpp 3.21.1, its prebuilt CPU binaries) and
// writes llama.cpp's next-token distribution at every position of token rows. hone's tests
// drive it (tests/llama_runner.hpp) to check that llama.cpp reads hone's GGUF files as hone
// means them: docs/scale.md.
//
//   node llama_run.mjs --model M.gguf --tokens T.npy --vocab V --output P.npy [--rows N]
//                      [--threads T]
// T.npy: int64 (or int32) token ids [rows, seq]. P.npy: float32 [rows, seq, vocab], row r
// position t = softmax of llama.cpp's logits after tokens 0…t of row r, each row evaluated from an
// empty context. Sampling is greedy with no top-k/top-p/min-p cut, so the probabilities are
// the softmax of the raw logits over the whole vocabulary. Errors: exit 1, one line.
import {createRequire} from 'module';
import {getLlama, LlamaLogLevel} from 'node-llama-cpp';

const require = createRequire(import.meta.url);
const {readNpy, writeNpy} = require('../npy.js');

function usage(msg) {
  process.stderr.write(`llama_run: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {threads: 2, rows: 0};
  const value = (i) => (i + 1 < argv.length ? argv[i + 1] : usage(`${argv[i]} needs a value`));
  for (let i = 0; i < argv.length; ++i) {
    switch (argv[i]) {
      case '--model': o.model = value(i++); break;
      case '--tokens': o.tokens = value(i++); break;
      case '--output': o.output = value(i++); break;
      case '--rows': o.rows = Number(value(i++)); break;
      case '--vocab': o.vocab = Number(value(i++)); break;
      case '--threads': o.threads = Number(value(i++)); break;
      default: usage(`unknown argument '${argv[i]}'`);
    }
  }
  if (!o.model || !o.tokens || !o.output || !o.vocab)
    usage('--model, --tokens, --output and --vocab are required');
  if (!(Number.isInteger(o.vocab) && o.vocab > 0)) usage('--vocab must be a positive integer');
  if (!(Number.isInteger(o.threads) && o.threads > 0)) usage('--threads must be a positive integer');
  if (!(Number.isInteger(o.rows) && o.rows >= 0)) usage('--rows must be an integer >= 0');
  return o;
}

async function main(o) {
  const t = readNpy(o.tokens);
  if (t.dims.length !== 2 || (t.type !== 'int64' && t.type !== 'int32'))
    throw new Error(`${o.tokens}: expected int64 or int32 [rows, seq], got ${t.type} [${t.dims}]`);
  const [allRows, seq] = t.dims;
  const rows = o.rows > 0 ? Math.min(o.rows, allRows) : allRows;
  const llama = await getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath: o.model, gpuLayers: 0, useMmap: true});
  const vocab = o.vocab;
  const context = await model.createContext({contextSize: Math.max(seq, 64), batchSize: seq,
                                             sequences: 1, threads: o.threads});
  const out = new Float32Array(rows * seq * vocab);
  const sequence = context.getSequence();
  for (let r = 0; r < rows; ++r) {
    await sequence.clearHistory();
    const input = [];
    for (let p = 0; p < seq; ++p)
      input.push([Number(t.data[r * seq + p]),
                  {generateNext: {probabilities: true,
                                  options: {temperature: 0, topK: 0, topP: 1, minP: 0}}}]);
    const results = await sequence.controlledEvaluate(input);
    for (let p = 0; p < seq; ++p) {
      const probs = results[p]?.next?.probabilities;
      if (!probs) throw new Error(`no probabilities for row ${r} position ${p}`);
      for (const [token, prob] of probs) {
        if (token >= vocab) throw new Error(`token ${token} outside --vocab ${vocab}`);
        out[(r * seq + p) * vocab + token] = prob;
      }
    }
  }
  sequence.dispose();
  writeNpy(o.output, out, [rows, seq, vocab]);
  await context.dispose();
  await model.dispose();
}

main(parseArgs(process.argv.slice(2))).catch((e) => {
  process.stderr.write(`llama_run: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
