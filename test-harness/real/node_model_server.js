// node_model_server.js: a node server as `mlchaos trace` meets them (run_trace.py): it loads
// model files and every file of a directory with fs.readFileSync, then answers HTTP
// requests on 127.0.0.1 (a port the kernel picks) and exits after COUNT of them.
// usage: node node_model_server.js MODEL... SOURCES_DIR COUNT
// Prints "port PORT pid PID" on stdout once listening.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const args = process.argv.slice(2);
const [sources, count] = args.slice(-2);
const models = args.slice(0, -2).map((p) => fs.readFileSync(p).length);
let read = 0;
for (const name of fs.readdirSync(sources).sort()) {
  read += fs.readFileSync(path.join(sources, name)).length;
}
let left = Number(count);
const server = http.createServer((req, res) => {
  const body = `${models.join(' ')} ${read}\n`;
  res.writeHead(200, { 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
  if (--left === 0) {
    server.close();
  }
});
server.listen(0, '127.0.0.1', () => {
  console.log(`port ${server.address().port} pid ${process.pid}`);
});
