// Runs the original Jetstream server (npm jetstream@0.13.4, aliased `jetstream-original`) with
// the shapes demo's Canvas scope on a free port, and prints the port. Used by interop.test.ts
// in a child process: the original keeps timers alive and cannot be stopped in-process.
'use strict';
const http = require('node:http');
const jetstream = require('jetstream-original');

const quiet = () => {};
jetstream.logger.replaceLogger({
  debug: quiet,
  trace: quiet,
  info: quiet,
  warn: quiet,
  error: quiet,
  log: quiet,
});

const Shape = jetstream.model('Shape', function () {
  this.has('x', Number);
  this.has('y', Number);
  this.has('color', Number);
});
const Canvas = jetstream.model('Canvas', function () {
  this.has('name', String);
  this.has('shapes', [Shape]);
});

const scope = jetstream.scope({ name: 'Canvas' });
const root = new Canvas();
root.name = 'original';
scope.setRoot(root);

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const transport = jetstream.transport.WebsocketTransport.configure({ server });
  const app = jetstream({ transports: [transport] });
  app.on('session', (session, _connection, _params, callback) => {
    callback();
    session.on('fetch', (_name, _fetchParams, cb) => cb(null, scope));
  });
  process.stdout.write(`${server.address().port}\n`);
});
