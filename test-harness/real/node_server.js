// node_server.js: a node `http` server on 127.0.0.1 for the real-process tests. libuv writes
// responses with write(2)/writev(2) on the socket, never send(2): what the library's send
// family must reach. usage: node node_server.js READY-FILE (the port is written there).
'use strict';
const http = require('http');
const fs = require('fs');

const ready = process.argv[2];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({
      ok: true,
      pid: process.pid,
      key: req.headers['x-request-id'] || null,
      path: req.url,
      received: Buffer.concat(chunks).length,
    });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});
// A failed write (the injected ECONNRESET) destroys that socket: the server goes on.
server.on('clientError', (err, socket) => socket.destroy());
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(ready + '.tmp', String(server.address().port));
  fs.renameSync(ready + '.tmp', ready);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
