// onnx_server.js: an onnxruntime-node server on 127.0.0.1 for the real-onnx test. It loads an
// ONNX model by path (InferenceSession.create(path): onnxruntime reads the file) or from a
// buffer node read (create(fs.readFileSync(path))), then answers POST /predict {"x": [...]}
// with {"y": [...]} (non-finite values as strings: JSON has no NaN). Once the model is loaded
// the port is written to READY-FILE; a model that does not load is reported on stderr and the
// process exits 3. usage: node onnx_server.js path|buffer MODEL READY-FILE
'use strict';
const http = require('http');
const fs = require('fs');
const ort = require('onnxruntime-node');

const [mode, modelPath, ready] = process.argv.slice(2);

function publish(port) {
  fs.writeFileSync(ready + '.tmp', String(port));
  fs.renameSync(ready + '.tmp', ready);
}

function asJson(v) {
  return Number.isFinite(v) ? v : String(v);
}

async function predict(session, x) {
  const input = new ort.Tensor('float32', Float32Array.from(x), [1, x.length]);
  const out = await session.run({ X: input });
  return Array.from(out.Y.data, asJson);
}

function serve(session) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let status = 200;
      let body;
      try {
        body = { y: await predict(session, JSON.parse(Buffer.concat(chunks)).x) };
      } catch (e) {
        status = 500;
        body = { error: String(e) };
      }
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.listen(0, '127.0.0.1', () => publish(server.address().port));
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

async function main() {
  let session;
  try {
    const source = mode === 'buffer' ? fs.readFileSync(modelPath) : modelPath;
    session = await ort.InferenceSession.create(source, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (e) {
    process.stderr.write(`onnx_server: the model did not load: ${String(e).slice(0, 300)}\n`);
    process.exit(3);
  }
  serve(session);
}

main();
