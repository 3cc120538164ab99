// An OTLP/HTTP receiver for the tests, on 127.0.0.1 only. Every body is
// checked against the official OTLP .proto files (as the OpenTelemetry JS
// gRPC exporter ships them on npm, read with protobufjs): each key must be
// a field of the message in lowerCamelCase, int64s decimal strings, enums
// integers, trace and span ids hex, as the OTLP/HTTP JSON encoding says.
// The checked body is then encoded to protobuf and decoded again, and what
// came through is written, one JSON line per request, to the log file.
//
//   node receiver.js MODULES_DIR LOG_FILE PORT_FILE [--tls CERT KEY] [--answer STATUS[:RETRY_AFTER]]...
// Each --answer is used once, for the requests in the order they come; the
// rest get 200. With --tls it speaks HTTPS. Ends on SIGTERM, or after 10 minutes at most.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [modulesDir, logFile, portFile, ...rest] = process.argv.slice(2);
const protobuf = require(path.join(modulesDir, 'protobufjs'));
const protoDir = path.join(modulesDir, '@opentelemetry/otlp-grpc-exporter-base/build/protos');

const answers = [];
let tls = null;
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === '--tls') {
    tls = { cert: fs.readFileSync(rest[i + 1]), key: fs.readFileSync(rest[i + 2]) };
    i++;
    continue;
  }
  if (rest[i] !== '--answer') throw new Error('unknown argument ' + rest[i]);
  const [status, retryAfter] = rest[i + 1].split(':');
  answers.push({ status: Number(status), retryAfter });
}

const root = new protobuf.Root();
root.resolvePath = (origin, target) => path.join(protoDir, target);
root.loadSync([
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
]);
root.resolveAll();
const requestTypes = {
  '/v1/metrics': root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
  '/v1/traces': root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
  '/v1/logs': root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
};

const INT64 = new Set(['int64', 'uint64', 'fixed64', 'sfixed64', 'sint64']);
const INT32 = new Set(['int32', 'uint32', 'fixed32', 'sfixed32', 'sint32']);
const ID_BYTES = { traceId: 16, spanId: 8, parentSpanId: 8 };

// Checks obj against type and returns it with bytes as Buffers, ready for
// protobufjs's fromObject; throws naming the path of the first problem.
function check(type, obj, where) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${where}: not an object`);
  const out = {};
  for (const [key, value] of Object.entries(obj)) {
    const field = type.fields[key];
    if (!field) throw new Error(`${where}.${key}: no such field in ${type.fullName} (lowerCamelCase expected)`);
    if (field.repeated) {
      if (!Array.isArray(value)) throw new Error(`${where}.${key}: a repeated field must be an array`);
      out[key] = value.map((v, i) => checkValue(field, v, `${where}.${key}[${i}]`));
    } else {
      out[key] = checkValue(field, value, `${where}.${key}`);
    }
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((name) => obj[name] !== undefined);
    if (set.length > 1) throw new Error(`${where}: more than one of ${oneof.name}: ${set}`);
  }
  return out;
}

function checkValue(field, v, where) {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return check(t, v, where);
  if (t instanceof protobuf.Enum) {
    if (!Number.isInteger(v) || !Object.values(t.values).includes(v)) throw new Error(`${where}: an enum must be one of its integers, not ${JSON.stringify(v)}`);
    return v;
  }
  if (INT64.has(field.type)) {
    if (typeof v !== 'string' || !/^-?[0-9]+$/.test(v)) throw new Error(`${where}: a 64-bit integer must be a decimal string, not ${JSON.stringify(v)}`);
    const n = BigInt(v);
    const unsigned = field.type.startsWith('u') || field.type === 'fixed64';
    if (unsigned ? n < 0n || n >= 1n << 64n : n < -(1n << 63n) || n >= 1n << 63n) throw new Error(`${where}: out of range`);
    return v;
  }
  if (INT32.has(field.type)) {
    if (!Number.isInteger(v)) throw new Error(`${where}: not an integer`);
    return v;
  }
  switch (field.type) {
    case 'double': case 'float':
      if (typeof v !== 'number' && !['NaN', 'Infinity', '-Infinity'].includes(v)) throw new Error(`${where}: not a number`);
      return typeof v === 'number' ? v : Number(v);
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${where}: not a boolean`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new Error(`${where}: not a string`);
      return v;
    case 'bytes': {
      const name = field.name;
      if (!(name in ID_BYTES)) throw new Error(`${where}: unexpected bytes field`);
      if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${2 * ID_BYTES[name]}}$`).test(v)) throw new Error(`${where}: ${name} must be ${2 * ID_BYTES[name]} hex digits`);
      return Buffer.from(v, 'hex');
    }
    default:
      throw new Error(`${where}: unhandled type ${field.type}`);
  }
}

// what came through, in a form the test reads easily
function anyValue(v) {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return v;
}
function attrs(list) {
  const o = {};
  for (const kv of list || []) o[kv.key] = anyValue(kv.value);
  return o;
}

function summarize(urlPath, msg) {
  const o = msg.toJSON ? msg : msg;
  const s = { resources: [], metrics: [], spans: [], logs: [] };
  const res = o.resourceMetrics || o.resourceSpans || o.resourceLogs || [];
  for (const r of res) {
    s.resources.push(attrs(r.resource && r.resource.attributes));
    for (const sm of r.scopeMetrics || []) {
      for (const m of sm.metrics || []) {
        const kind = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : 'other';
        const d = m[kind] || {};
        s.metrics.push({
          name: m.name, unit: m.unit, description: m.description, kind, scope: sm.scope && sm.scope.name,
          temporality: d.aggregationTemporality, monotonic: d.isMonotonic,
          points: (d.dataPoints || []).map((p) => ({
            attributes: attrs(p.attributes), start: p.startTimeUnixNano, time: p.timeUnixNano,
            value: p.asInt !== undefined ? Number(p.asInt) : p.asDouble,
            count: p.count !== undefined ? Number(p.count) : undefined, sum: p.sum,
            bucketCounts: p.bucketCounts && p.bucketCounts.map(Number), bounds: p.explicitBounds,
          })),
        });
      }
    }
    for (const ss of r.scopeSpans || []) {
      for (const sp of ss.spans || []) {
        s.spans.push({
          name: sp.name, kind: sp.kind, traceId: Buffer.from(sp.traceId || [], 'base64').toString('hex'),
          spanId: Buffer.from(sp.spanId || [], 'base64').toString('hex'),
          start: sp.startTimeUnixNano, end: sp.endTimeUnixNano, status: sp.status ? sp.status.code : 0,
          attributes: attrs(sp.attributes),
        });
      }
    }
    for (const sl of r.scopeLogs || []) {
      for (const lr of sl.logRecords || []) {
        s.logs.push({ time: lr.timeUnixNano, severity: lr.severityNumber, body: anyValue(lr.body), attributes: attrs(lr.attributes) });
      }
    }
  }
  return s;
}

const log = fs.openSync(logFile, 'a');
let n = 0;
const handler = (req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= 64 << 20) chunks.push(c);
  });
  req.on('end', () => {
    const entry = { n: ++n, t: Date.now() / 1000, method: req.method, path: req.url, contentType: req.headers['content-type'] };
    const answer = answers.shift() || { status: 200 };
    try {
      const type = requestTypes[req.url];
      if (req.method !== 'POST' || !type) throw new Error(`unexpected ${req.method} ${req.url}`);
      if (req.headers['content-type'] !== 'application/json') throw new Error(`content-type ${req.headers['content-type']}`);
      if (size > 64 << 20) throw new Error('body over 64 MiB');
      let raw = Buffer.concat(chunks);
      entry.encoding = req.headers['content-encoding'] || 'identity';
      if (entry.encoding === 'gzip') raw = zlib.gunzipSync(raw, { maxOutputLength: 64 << 20 });
      else if (entry.encoding !== 'identity') throw new Error(`content-encoding ${entry.encoding}`);
      entry.wireBytes = size;
      const body = JSON.parse(raw.toString('utf8'));
      const checked = check(type, body, type.name);
      const bin = type.encode(type.fromObject(checked)).finish();
      const decoded = type.toObject(type.decode(bin), { longs: String, enums: Number, bytes: String, defaults: false });
      entry.ok = true;
      entry.bytes = bin.length;
      Object.assign(entry, summarize(req.url, decoded));
    } catch (e) {
      entry.ok = false;
      entry.error = e.message;
      answer.status = 400;
    }
    entry.status = answer.status;
    fs.writeSync(log, JSON.stringify(entry) + '\n');
    const headers = { 'Content-Type': 'application/json' };
    if (answer.retryAfter && answer.status !== 400) headers['Retry-After'] = answer.retryAfter;
    res.writeHead(answer.status, headers);
    res.end(answer.status === 400 ? JSON.stringify({ code: 3, message: entry.error || 'rejected' }) : '{}');
  });
};
const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
setTimeout(() => process.exit(3), 600e3).unref();
