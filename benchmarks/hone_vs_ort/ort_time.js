#!/usr/bin/env node
// Times ONNX Runtime (CPU, tests/ort's onnxruntime-node, all graph optimizations) on one model,
// for benchmarks/hone_vs_ort/hone_vs_ort.sh (a benchmark, not a test): prints the wall time of
// each run in ms, one per line, after three warm-up runs. Inputs: as hone_time.cpp makes them.
//   node ort_time.js MODEL.onnx --sample 3x64x64 [--batch 64] [--iters 20] [--threads 2]
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, '..', '..', 'tests', 'ort', 'node_modules', 'onnxruntime-node'));

const args = process.argv.slice(2);
const opt = {threads: 2, iters: 20, batch: 1, sample: null, model: null};
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--threads') opt.threads = Number(args[++i]);
  else if (args[i] === '--iters') opt.iters = Number(args[++i]);
  else if (args[i] === '--batch') opt.batch = Number(args[++i]);
  else if (args[i] === '--sample') opt.sample = args[++i].split('x').map(Number);
  else opt.model = args[i];
}
if (!opt.sample || !opt.model) {
  process.stderr.write('usage: ort_time.js MODEL.onnx --sample CxHxW [--batch B] [--iters N] [--threads T]\n');
  process.exit(2);
}

(async () => {
  const s = await ort.InferenceSession.create(opt.model, {
    intraOpNumThreads: opt.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    logSeverityLevel: 3});
  const per = opt.sample.reduce((a, c) => a * c, 1);
  const x = new Float32Array(opt.batch * per);
  let state = 2026;
  const uniform = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < x.length; ++i) x[i] = uniform() + uniform() + uniform() - 1.5;
  const feed = {[s.inputNames[0]]: new ort.Tensor('float32', x, [opt.batch, ...opt.sample])};
  for (let w = 0; w < 3; ++w) await s.run(feed);
  const out = [];
  for (let it = 0; it < opt.iters; ++it) {
    const t0 = process.hrtime.bigint();
    await s.run(feed);
    out.push((Number(process.hrtime.bigint() - t0) / 1e6).toFixed(6));
  }
  process.stdout.write(out.join('\n') + '\n');
})().catch((e) => { process.stderr.write(`ort_time: ${e.message}\n`); process.exit(1); });
