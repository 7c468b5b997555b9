#!/usr/bin/env node
// A tiny service for the demo and the tests: GET /health answers {"status":"ok"}.
// Usage: node demo-service.js --port 18181 --pidfile /tmp/gameday-demo/demo-service.pid
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

const port = Number(option('port', '18181'));
const pidfile = option('pidfile');
const started = Date.now();

const server = http.createServer((request, response) => {
  if (request.url === '/health') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ status: 'ok', pid: process.pid, uptimeMs: Date.now() - started }));
    return;
  }
  response.writeHead(404);
  response.end();
});

server.listen(port, '127.0.0.1', () => {
  if (pidfile) {
    fs.mkdirSync(path.dirname(pidfile), { recursive: true });
    fs.writeFileSync(pidfile, `${process.pid}\n`);
  }
  console.log(`demo service pid ${process.pid} listening on 127.0.0.1:${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // keep-alive probes must not hold up a stop
  });
}
