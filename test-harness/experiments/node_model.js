// node_model.js: a node `http` model server for the experiments: a two-layer perceptron
// (16 inputs, 3000 hidden units, 4 outputs) whose weights are read from a file at start
// (fs.readFileSync: read(2)), so that damaged weights change the answers silently.
//
// usage: node node_model.js WEIGHTS PORT READY-FILE   (PORT 0: any; the port goes to READY)
//   node node_model.js --make WEIGHTS                  write the weights the tests use
//   POST /predict {"inputs": [[16 numbers], ...]} -> {"outputs": [[4 numbers], ...]}
//   GET /health   {"status": "ok"}
// Weights file: raw little-endian float32, W1 (16 x 3000), b1 (3000), W2 (3000 x 4), b2 (4).
// The hidden activations of a request (rows x 3000 float64) are one allocation (of a size no
// V8 zone or libuv buffer has: a malloc rule can aim at it alone); when it fails
// (RangeError), or the body is not what is expected, the answer is 500 or 400; the server
// goes on. Outputs are rounded to 6 decimals; a non-finite one is null. SIGTERM stops it.
'use strict';
const http = require('http');
const fs = require('fs');

const IN = 16, HIDDEN = 3000, OUT = 4;
const N = IN * HIDDEN + HIDDEN + HIDDEN * OUT + OUT;

function make(path) {
  let s = 12345; // a fixed linear congruential sequence: the same file everywhere
  const w = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    w[i] = (s / 2147483648 - 0.5) / 4;
  }
  fs.writeFileSync(path, Buffer.from(w.buffer));
}

function load(path) {
  const raw = fs.readFileSync(path);
  if (raw.length !== N * 4) throw new Error(`${path}: ${raw.length} bytes, want ${N * 4}`);
  const w = new Float32Array(N);
  for (let i = 0; i < N; i++) w[i] = raw.readFloatLE(i * 4);
  let o = 0;
  const take = (n) => { const v = w.subarray(o, o + n); o += n; return v; };
  return { w1: take(IN * HIDDEN), b1: take(HIDDEN), w2: take(HIDDEN * OUT), b2: take(OUT) };
}

function predict(m, inputs) {
  const rows = inputs.length;
  const h = new Float64Array(rows * HIDDEN); // the allocation a malloc fault fails
  const out = [];
  for (let r = 0; r < rows; r++) {
    const x = inputs[r];
    if (!Array.isArray(x) || x.length !== IN) throw new TypeError(`row ${r}: want ${IN} numbers`);
    for (let j = 0; j < HIDDEN; j++) {
      let s = m.b1[j];
      for (let i = 0; i < IN; i++) s += Number(x[i]) * m.w1[i * HIDDEN + j];
      h[r * HIDDEN + j] = s > 0 ? s : 0;
    }
    const y = [];
    for (let k = 0; k < OUT; k++) {
      let s = m.b2[k];
      for (let j = 0; j < HIDDEN; j++) s += h[r * HIDDEN + j] * m.w2[j * OUT + k];
      y.push(Number.isFinite(s) ? Math.round(s * 1e6) / 1e6 : null);
    }
    out.push(y);
  }
  return out;
}

function reply(res, code, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function main() {
  if (process.argv[2] === '--make') return make(process.argv[3]);
  const [weights, port, ready] = process.argv.slice(2);
  const model = load(weights);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/health') return reply(res, 200, { status: 'ok' });
      if (req.method !== 'POST' || req.url !== '/predict') return reply(res, 404, { error: 'not found' });
      let inputs;
      try {
        inputs = JSON.parse(Buffer.concat(chunks).toString()).inputs;
        if (!Array.isArray(inputs)) throw new TypeError('no "inputs" array');
      } catch (e) {
        return reply(res, 400, { error: `${e.name}: ${e.message}` });
      }
      try {
        reply(res, 200, { outputs: predict(model, inputs) });
      } catch (e) {
        reply(res, e instanceof TypeError ? 400 : 500, { error: `${e.name}: ${e.message}` });
      }
    });
  });
  server.on('clientError', (err, socket) => socket.destroy());
  server.listen(Number(port), '127.0.0.1', () => {
    fs.writeFileSync(ready + '.tmp', String(server.address().port));
    fs.renameSync(ready + '.tmp', ready);
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

main();
