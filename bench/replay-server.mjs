#!/usr/bin/env node
// A server that does no work: it answers each EC2 Query request with an answer recorded from
// Nimbus, chosen by the request's Action and NextToken, without checking its signature or reading
// any other parameter. bench.py times boto3 against it: what boto3 itself takes for a call, the
// floor that no server can take a client below.
// Usage: node bench/replay-server.mjs PORT DIR, where DIR/answers.json maps "Action NextToken"
// (the token empty for a first page) to the name of a file in DIR holding the answer's body.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [port, dir] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(dir, 'answers.json'), 'utf8'));
const answers = new Map(Object.entries(manifest).map(([key, file]) => [key, readFileSync(join(dir, file))]));
const unknown = (key) =>
  Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidAction</Code>` +
    `<Message>No recorded answer for ${key.replace(/[<&>]/g, '')}</Message></Error></Errors><RequestID>replay</RequestID></Response>`);

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const params = new URLSearchParams(Buffer.concat(chunks).toString());
    const key = `${params.get('Action')} ${params.get('NextToken') ?? ''}`;
    const recorded = answers.get(key);
    const body = recorded ?? unknown(key);
    res.writeHead(recorded ? 200 : 400, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': body.length });
    res.end(body);
  });
}).listen(Number(port), '127.0.0.1');
