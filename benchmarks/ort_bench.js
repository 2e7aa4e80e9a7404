#!/usr/bin/env node
// Times ONNX Runtime (CPU, tests/ort's onnxruntime-node) on a float model and its exports:
// Fashion-MNIST test images, each batch size, runs alternating between the models (so machine
// load hits all alike; the starting model rotates), p50 per model; ratio = export p50 / f32 p50. Before timing, each
// export's top-1 on the first 1000 test images is compared with the f32 model's.
//
//   node benchmarks/ort_bench.js --sample 784|1x28x28 [--threads 2] [--iters 300]
//        [--batches 1,64] [--label NAME] F32.onnx [EXPORT.onnx ...]
// Prints one table row per export and batch. benchmarks/ort_exports.sh drives it.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const ort = require(path.join(__dirname, '..', 'tests', 'ort', 'node_modules', 'onnxruntime-node'));

const args = process.argv.slice(2);
const opt = {threads: 2, iters: 300, batches: [1, 64], sample: null, label: '', models: []};
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--threads') opt.threads = Number(args[++i]);
  else if (args[i] === '--iters') opt.iters = Number(args[++i]);
  else if (args[i] === '--batches') opt.batches = args[++i].split(',').map(Number);
  else if (args[i] === '--sample') opt.sample = args[++i].split('x').map(Number);
  else if (args[i] === '--label') opt.label = args[++i];
  else opt.models.push(args[i]);
}
if (!opt.sample || opt.models.length < 1) {
  process.stderr.write('usage: ort_bench.js --sample 784|1x28x28 [--threads T] [--iters N] [--batches 1,64] F32.onnx [EXPORT.onnx ...]\n');
  process.exit(2);
}

const per = opt.sample.reduce((a, c) => a * c, 1);

// Test images, pixels / 255 (hone's dataset::fashion_mnist), f32 [n, 784]; for another sample
// shape (the wide CNN) fixed pseudo-random N(0,1)-like values (a sum of uniforms).
function testImages(n) {
  const x = new Float32Array(n * per);
  if (per === 784) {
    const raw = zlib.gunzipSync(fs.readFileSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'));
    for (let i = 0; i < n * 784; ++i) x[i] = raw[16 + i] / 255;
    return x;
  }
  let state = 2026;
  const uniform = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < x.length; ++i) x[i] = uniform() + uniform() + uniform() - 1.5;
  return x;
}

const feed = (s, x, n) => ({[s.inputNames[0]]: new ort.Tensor('float32', x.subarray(0, n * per), [n, ...opt.sample])});

function top1(t) {
  const classes = t.dims[1], out = [];
  for (let i = 0; i < t.dims[0]; ++i) {
    let best = 0;
    for (let c = 1; c < classes; ++c) if (t.data[i * classes + c] > t.data[i * classes + best]) best = c;
    out.push(best);
  }
  return out;
}

(async () => {
  const sessions = [];
  for (const m of opt.models) {
    sessions.push(await ort.InferenceSession.create(m, {
      intraOpNumThreads: opt.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      // No spinning: the idle pools of the other sessions would steal the cores.
      extra: {session: {intra_op: {allow_spinning: '0'}}}}));
  }
  const images = testImages(Math.max(1000, ...opt.batches));
  const tops = [];
  for (const s of sessions) tops.push(top1((await s.run(feed(s, images, 1000)))[s.outputNames[0]]));
  const agree = tops.map((t) => t.filter((c, i) => c === tops[0][i]).length / t.length);
  const name = (m) => path.basename(m, '.onnx');
  for (const b of opt.batches) {
    const times = sessions.map(() => []);
    for (let k = 0; k < sessions.length; ++k) for (let w = 0; w < 10; ++w) await sessions[k].run(feed(sessions[k], images, b));
    for (let it = 0; it < opt.iters; ++it) {
      // The first model of a round runs after the others evicted its weights: rotate who starts.
      for (let j = 0; j < sessions.length; ++j) {
        const k = (it + j) % sessions.length;
        const f = feed(sessions[k], images, b);
        const t0 = process.hrtime.bigint();
        await sessions[k].run(f);
        times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    const p50 = times.map((t) => t.sort((x, y) => x - y)[t.length >> 1]);
    for (let k = 0; k < sessions.length; ++k) {
      const bytes = fs.statSync(opt.models[k]).size;
      console.log([opt.label || name(opt.models[0]), String(b), name(opt.models[k]), String(bytes),
        p50[k].toFixed(4), (p50[k] / p50[0]).toFixed(2), agree[k].toFixed(3)].join('\t'));
    }
  }
  for (const s of sessions) await s.release();
})().catch((e) => {
  process.stderr.write(`ort_bench: ${String(e && e.message ? e.message : e).replace(/\s+/g, ' ')}\n`);
  process.exit(1);
});
