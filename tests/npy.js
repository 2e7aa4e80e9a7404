// NPY (NumPy's array file) reading and float32 writing for the test harnesses that run hone's
// exports in other engines (ort/ort_run.js, llama/llama_run.mjs).
'use strict';
const fs = require('fs');

// NPY descr → [element type name (ONNX Runtime's), typed array constructor].
const npyTypes = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY')
    throw new Error('not an NPY file');
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`bad NPY header ${header.trim()}`);
  if (fortran[1] === 'True') throw new Error('Fortran-order NPY is not supported');
  const type = npyTypes[descr[1].replace('=', '<')];
  if (!type) throw new Error(`NPY dtype '${descr[1]}' is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const bytes = count * type[1].BYTES_PER_ELEMENT;
  if (buf.length - start < bytes) throw new Error(`NPY data holds ${buf.length - start} bytes, shape needs ${bytes}`);
  const data = new type[1](count);
  new Uint8Array(data.buffer).set(buf.subarray(start, start + bytes));  // unaligned-safe copy
  return {type: type[0], data, dims};
}

function writeNpy(file, data, dims) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';  // data aligned to 64 bytes
  const pre = Buffer.alloc(10);
  pre.writeUInt8(0x93, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre.writeUInt8(1, 6);
  pre.writeUInt8(0, 7);
  pre.writeUInt16LE(header.length, 8);
  const f32 = Float32Array.from(data, Number);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(f32.buffer)]));
}

module.exports = {readNpy, writeNpy};
