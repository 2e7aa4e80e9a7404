#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (CPU) on an NPY input, in batches along axis 0, and writes
// one output as NPY float32. hone's tests drive it (tests/ort_runner.hpp); see docs/onnxruntime.md.
//
//   node ort_run.js --model M.onnx --input X.npy [--output Y.npy] [options]
//     --input-name N      the model input fed (default: the first)
//     --output-name N     the output written (default: the first)
//     --threads T         intra-op threads (default 2)
//     --batch B           rows of X per run (default 256; 0 = all at once)
//     --opt-level L       disabled | basic | extended | all (default all)
//     --optimized-model P write the graph ORT optimized and ran to P
//     --ops               print a JSON array of the op types of the nodes ORT executed (from its
//                         profiler: events of category "Node" name their op in args.op_name)
// Inputs: NPY float32, float64, int64, int32, uint8 or int8, C order. Errors: exit 1, one line.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function usage(msg) {
  process.stderr.write(`ort_run: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {threads: 2, batch: 256, optLevel: 'all', ops: false};
  const value = (i) => (i + 1 < argv.length ? argv[i + 1] : usage(`${argv[i]} needs a value`));
  for (let i = 0; i < argv.length; ++i) {
    switch (argv[i]) {
      case '--model': o.model = value(i++); break;
      case '--input': o.input = value(i++); break;
      case '--output': o.output = value(i++); break;
      case '--input-name': o.inputName = value(i++); break;
      case '--output-name': o.outputName = value(i++); break;
      case '--threads': o.threads = Number(value(i++)); break;
      case '--batch': o.batch = Number(value(i++)); break;
      case '--opt-level': o.optLevel = value(i++); break;
      case '--optimized-model': o.optimizedModel = value(i++); break;
      case '--ops': o.ops = true; break;
      default: usage(`unknown argument '${argv[i]}'`);
    }
  }
  if (!o.model || !o.input) usage('--model and --input are required');
  if (!(Number.isInteger(o.threads) && o.threads > 0)) usage('--threads must be a positive integer');
  if (!(Number.isInteger(o.batch) && o.batch >= 0)) usage('--batch must be an integer >= 0');
  if (!['disabled', 'basic', 'extended', 'all'].includes(o.optLevel)) usage(`bad --opt-level '${o.optLevel}'`);
  return o;
}

const {readNpy, writeNpy} = require('../npy.js');

async function main(o) {
  const ort = require('onnxruntime-node');
  const x = readNpy(o.input);
  const profDir = o.ops ? fs.mkdtempSync(path.join(os.tmpdir(), 'ort_run_')) : null;
  const session = await ort.InferenceSession.create(o.model, {
    intraOpNumThreads: o.threads, interOpNumThreads: 1, graphOptimizationLevel: o.optLevel, logSeverityLevel: 3,
    ...(o.optimizedModel ? {optimizedModelFilePath: o.optimizedModel} : {}),
    ...(profDir ? {enableProfiling: true, profileFilePrefix: path.join(profDir, 'prof')} : {}),
  });
  const inputName = o.inputName || session.inputNames[0];
  const outputName = o.outputName || session.outputNames[0];
  if (!session.inputNames.includes(inputName)) throw new Error(`no input '${inputName}' (has ${session.inputNames})`);
  if (!session.outputNames.includes(outputName)) throw new Error(`no output '${outputName}' (has ${session.outputNames})`);
  const rows = x.dims.length ? x.dims[0] : 1;
  const rowSize = x.dims.slice(1).reduce((a, b) => a * b, 1);
  const step = o.batch === 0 ? Math.max(rows, 1) : o.batch;
  const parts = [];
  let outDims = null;
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    const dims = x.dims.length ? [n, ...x.dims.slice(1)] : [];
    const t = new ort.Tensor(x.type, x.data.subarray(r * rowSize, (r + n) * rowSize), dims);
    const y = (await session.run({[inputName]: t}, [outputName]))[outputName];
    parts.push(y.data);
    outDims = outDims ? [outDims[0] + y.dims[0], ...y.dims.slice(1)] : [...y.dims];
  }
  await session.release();
  if (o.output) {
    if (!parts.length) throw new Error('the input has no rows');
    const total = parts.reduce((a, p) => a + p.length, 0);
    const all = new Float32Array(total);
    let at = 0;
    for (const p of parts) { all.set(Float32Array.from(p, Number), at); at += p.length; }
    writeNpy(o.output, all, outDims);
  }
  if (profDir) {
    const ops = new Set();
    for (const f of fs.readdirSync(profDir)) {
      for (const e of JSON.parse(fs.readFileSync(path.join(profDir, f), 'utf8')))
        if (e.cat === 'Node' && e.args && e.args.op_name) ops.add(e.args.op_name);
    }
    fs.rmSync(profDir, {recursive: true, force: true});
    process.stdout.write(JSON.stringify([...ops].sort()) + '\n');
  }
}

const opts = parseArgs(process.argv.slice(2));
main(opts).catch((e) => {
  const msg = String(e && e.message ? e.message : e).replace(/\s+/g, ' ').trim();
  process.stderr.write(`ort_run: model ${opts.model}, input ${opts.input}: ${msg}\n`);
  process.exit(1);
});
