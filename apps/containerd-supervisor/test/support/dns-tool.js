// A tiny DNS client and upstream server for test/dns-helper.int.spec.ts, run
// as its own node process inside a network namespace (nsenter), since a node
// process cannot switch namespaces. Plain JS: it runs without a build step.
//
//   node dns-tool.js query <server> <type> <name> [udp|tcp] [id|-] [edns]  -> one JSON line
//   node dns-tool.js serve <logfile> <addr>...                 -> "ready" line
//
// The server answers A for names under upstream.test (192.0.2.7), NXDOMAIN for
// everything else, over UDP and TCP on port 53 of each address, and appends
// one JSON line per query ({name, type, transport, local}) to <logfile>.
'use strict';
const dgram = require('node:dgram');
const net = require('node:net');
const fs = require('node:fs');

const TYPES = { A: 1, NS: 2, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };

function encodeName(name) {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  const bufs = parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)]));
  return Buffer.concat([...bufs, Buffer.from([0])]);
}

function readName(msg, off) {
  const labels = [];
  let jumped = false;
  let end = off;
  for (let guard = 0; guard < 128; guard++) {
    const len = msg[off];
    if (len === 0) {
      if (!jumped) end = off + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (!jumped) end = off + 2;
      off = ((len & 0x3f) << 8) | msg[off + 1];
      jumped = true;
      continue;
    }
    labels.push(msg.subarray(off + 1, off + 1 + len).toString());
    off += 1 + len;
  }
  return { name: labels.join('.'), end };
}

function parse(msg) {
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qd = msg.readUInt16BE(4), an = msg.readUInt16BE(6);
  let off = 12;
  let question;
  for (let i = 0; i < qd; i++) {
    const n = readName(msg, off);
    question = { name: n.name, type: msg.readUInt16BE(n.end) };
    off = n.end + 4;
  }
  const answers = [];
  for (let i = 0; i < an; i++) {
    const n = readName(msg, off);
    const type = msg.readUInt16BE(n.end);
    const ttl = msg.readUInt32BE(n.end + 4);
    const rdlen = msg.readUInt16BE(n.end + 8);
    const rd = n.end + 10;
    let data;
    if (type === 1) data = [...msg.subarray(rd, rd + 4)].join('.');
    else if (type === 12) data = readName(msg, rd).name;
    else data = msg.subarray(rd, rd + rdlen).toString('hex');
    answers.push({ name: n.name, type, ttl, data });
    off = rd + rdlen;
  }
  const ns = msg.readUInt16BE(8), ar = msg.readUInt16BE(10);
  let opt;
  for (let i = 0; i < ns + ar && off < msg.length; i++) {
    const n = readName(msg, off);
    const type = msg.readUInt16BE(n.end);
    if (type === 41) opt = { udpSize: msg.readUInt16BE(n.end + 2) };
    off = n.end + 10 + msg.readUInt16BE(n.end + 8);
  }
  return {
    id,
    opt,
    qr: !!(flags & 0x8000),
    aa: !!(flags & 0x0400),
    tc: !!(flags & 0x0200),
    rd: !!(flags & 0x0100),
    rcode: flags & 0xf,
    question,
    answers,
    size: msg.length,
  };
}

function query(id, type, name, edns) {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2); // RD
  h.writeUInt16BE(1, 4);
  if (edns) h.writeUInt16BE(1, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(TYPES[type] ?? Number(type), 0);
  q.writeUInt16BE(1, 2);
  // OPT: root, type 41, UDP payload 4096, no extended rcode/flags, no options.
  const opt = edns ? Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([h, encodeName(name), q, opt]);
}

function answer(msg) {
  const q = parse(msg);
  const qend = 12 + encodeName(q.question.name).length + 4;
  const ours = /(^|\.)upstream\.test$/i.test(q.question.name);
  const h = Buffer.from(msg.subarray(0, 12));
  h.writeUInt16BE(0x8180 | (ours ? 0 : 3), 2);
  h.writeUInt16BE(ours && q.question.type === 1 ? 1 : 0, 6);
  h.writeUInt16BE(0, 8);
  h.writeUInt16BE(0, 10);
  const parts = [h, msg.subarray(12, qend)];
  if (ours && q.question.type === 1) parts.push(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]));
  return { q, out: Buffer.concat(parts) };
}

function serve(logfile, addrs) {
  let pending = addrs.length * 2;
  const ready = () => {
    if (--pending === 0) process.stdout.write('ready\n');
  };
  const log = (q, transport, local) =>
    fs.appendFileSync(logfile, JSON.stringify({ name: q.question.name, type: q.question.type, transport, local }) + '\n');
  for (const addr of addrs) {
    const u = dgram.createSocket('udp4');
    u.on('message', (msg, rinfo) => {
      const { q, out } = answer(msg);
      log(q, 'udp', addr);
      u.send(out, rinfo.port, rinfo.address);
    });
    u.bind(53, addr, ready);
    const t = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const { q, out } = answer(msg);
          log(q, 'tcp', addr);
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          sock.write(Buffer.concat([len, out]));
        }
      });
      sock.on('error', () => {});
    });
    t.listen(53, addr, ready);
  }
}

function ask(server, type, name, tcp, id, edns) {
  const msg = query(id, type, name, edns);
  const done = (res) => {
    process.stdout.write(JSON.stringify(res) + '\n');
    process.exit(0);
  };
  setTimeout(() => done({ timeout: true }), 8000).unref();
  if (tcp) {
    const sock = net.connect(53, server);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    sock.write(Buffer.concat([len, msg]));
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(parse(buf.subarray(2, 2 + buf.readUInt16BE(0))));
    });
    sock.on('error', (e) => done({ error: e.code }));
  } else {
    const u = dgram.createSocket('udp4');
    u.on('message', (m) => done(parse(m)));
    u.on('error', (e) => done({ error: e.code }));
    u.send(msg, 53, server);
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve') serve(args[0], args.slice(1));
else if (mode === 'query') {
  const id = args[4] && args[4] !== '-' ? Number(args[4]) : Math.floor(Math.random() * 65535);
  ask(args[0], args[1], args[2], args[3] === 'tcp', id, args[5] === 'edns');
}
else {
  process.stderr.write('usage: dns-tool.js query|serve ...\n');
  process.exit(2);
}
