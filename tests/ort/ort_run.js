// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, its CPU engine) on an NPY input and
// writes the first output as NPY float32. hone's tests and benchmarks use it to check that the
// files hone exports run, and agree with hone, in another engine.
//
//   node ort_run.js MODEL INPUT.npy OUTPUT.npy [--batch N] [--threads N] [--ops OPS.json]
//
// The input (float32, uint8 or int64; NPY v1–v3, C order) runs in batches of --batch rows
// (default 256) along axis 0; outputs are concatenated. --threads sets ORT's intra-op threads
// (default 2). --ops writes {op type: kernel runs} of one profiled batch: which kernels ORT
// actually ran after its graph optimizations (QLinearConv, QGemm, MatMulIntegerToFloat, ...).
// Errors: one line on stderr naming the model or file, exit 1.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function fail(message) {
  process.stderr.write(`ort_run: ${message}\n`);
  process.exit(1);
}

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  fail(`onnxruntime-node is not installed (scripts/setup.sh runs npm ci in tests/ort): ${e.message}`);
}

const dtypes = {
  '<f4': ['float32', Float32Array, 4],
  '|u1': ['uint8', Uint8Array, 1],
  '<i8': ['int64', BigInt64Array, 8],
};

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file}: not an NPY file`);
  const major = b[6];
  const headerLength = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) fail(`${file}: unsupported NPY header ${header.trim()}`);
  const type = dtypes[descr[1]];
  if (!type) fail(`${file}: dtype ${descr[1]} (float32, uint8 or int64 expected)`);
  const dims = shape[1].split(',').map(s => s.trim()).filter(s => s.length).map(Number);
  const count = dims.reduce((a, c) => a * c, 1);
  const offset = start + headerLength;
  if (b.length - offset !== count * type[2]) fail(`${file}: ${b.length - offset} data bytes for shape [${dims}]`);
  const data = new type[1](b.buffer.slice(b.byteOffset + offset, b.byteOffset + offset + count * type[2]));
  return {type: type[0], dims, data};
}

function writeNpy(file, dims, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'),
                                        Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const v = args[i + 1];
    args.splice(i, 2);
    if (v === undefined) fail(`${name} needs a value`);
    return v;
  };
  const batch = Number(option('--batch', '256'));
  const threads = Number(option('--threads', '2'));
  const opsFile = option('--ops', '');
  if (args.length !== 3 || !(batch > 0) || !(threads > 0))
    fail('usage: node ort_run.js MODEL INPUT.npy OUTPUT.npy [--batch N] [--threads N] [--ops OPS.json]');
  const [model, inputFile, outputFile] = args;
  const input = readNpy(inputFile);
  const options = {intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
                   extra: {session: {intra_op: {allow_spinning: '0'}}}};
  let session;
  try {
    session = await ort.InferenceSession.create(model, options);
  } catch (e) {
    fail(`${model}: ONNX Runtime refused it: ${e.message}`);
  }
  const rows = input.dims[0];
  const rowSize = input.dims.slice(1).reduce((a, c) => a * c, 1);
  const pieces = [];
  let outDims = null;
  for (let b = 0; b < rows; b += batch) {
    const e = Math.min(rows, b + batch);
    const x = new ort.Tensor(input.type, input.data.subarray(b * rowSize, e * rowSize),
                             [e - b].concat(input.dims.slice(1)));
    let result;
    try {
      result = await session.run({[session.inputNames[0]]: x});
    } catch (err) {
      fail(`${model}: run of rows ${b}..${e} failed: ${err.message}`);
    }
    const y = result[session.outputNames[0]];
    if (y.type !== 'float32') fail(`${model}: output '${session.outputNames[0]}' is ${y.type}, float32 expected`);
    outDims = y.dims.slice(1);
    pieces.push(y.data);
  }
  const total = pieces.reduce((a, p) => a + p.length, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  writeNpy(outputFile, [rows].concat(outDims || []), out);
  if (opsFile) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-profile-'));
    const profiled = await ort.InferenceSession.create(model, Object.assign({}, options, {
      enableProfiling: true, profileFilePrefix: path.join(dir, 'profile')}));
    const e = Math.min(rows, batch);
    await profiled.run({[profiled.inputNames[0]]: new ort.Tensor(
        input.type, input.data.subarray(0, e * rowSize), [e].concat(input.dims.slice(1)))});
    await profiled.release();
    const file = fs.readdirSync(dir).map(n => path.join(dir, n))[0];
    const ops = {};
    for (const ev of JSON.parse(fs.readFileSync(file)))
      if (ev.cat === 'Node' && ev.name.endsWith('_kernel_time')) ops[ev.args.op_name] = (ops[ev.args.op_name] || 0) + 1;
    fs.rmSync(dir, {recursive: true, force: true});
    fs.writeFileSync(opsFile, JSON.stringify(ops));
  }
}

main().catch(e => fail(e.message));
