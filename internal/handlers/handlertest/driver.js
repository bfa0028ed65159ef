// The Node side of package handlertest: reads one request per line on stdin, runs a
// handler's exported function against an in-memory AWS (the request's world), and
// writes one response per line: the world afterwards and every call the handler made.
'use strict';
const fs = require('fs'), os = require('os'), path = require('path'), readline = require('readline');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handlertest-'));
const loaded = new Map();
const load = (source) => {
  if (!loaded.has(source)) {
    const file = path.join(dir, `h${loaded.size}.js`);
    fs.writeFileSync(file, source);
    loaded.set(source, require(file));
  }
  return loaded.get(source);
};
const awsError = (name, message) => Object.assign(new Error(message), { name });
const api = (world, calls) => {
  const repo = (r) => {
    const x = world.images && world.images[r];
    if (!x) throw awsError('RepositoryNotFoundException', `The repository with name '${r}' does not exist`);
    x.tags = x.tags || {};
    return x;
  };
  return {
    tags: async (r) => ({ ...repo(r).tags }),
    putTag: async (r, tag, digest) => {
      const x = repo(r);
      if (!(x.digests || []).includes(digest)) throw awsError('ImageNotFoundException', `no image ${digest} in ${r}`);
      calls.push({ op: 'putTag', repository: r, tag, digest });
      x.tags[tag] = digest;
    },
    deleteTag: async (r, tag) => {
      calls.push({ op: 'deleteTag', repository: r, tag });
      delete repo(r).tags[tag];
    },
    getParam: async (name) => {
      const h = (world.params || {})[name];
      return h && h.length ? h[h.length - 1] : null;
    },
    putParam: async (name, value) => {
      calls.push({ op: 'putParam', name, value });
      world.params = world.params || {};
      (world.params[name] = world.params[name] || []).push(value);
    },
    redeploy: async (target) => { calls.push({ op: 'redeploy', target }); },
    succeed: async (job, vars, summary) => { calls.push({ op: 'succeed', job, vars: vars || {}, summary }); },
    fail: async (job, message) => { calls.push({ op: 'fail', job, message }); },
  };
};
const rl = readline.createInterface({ input: process.stdin });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    const req = JSON.parse(line);
    const calls = [], log = [];
    const keep = { log: console.log, error: console.error };
    console.log = console.error = (...a) => log.push(a.join(' '));
    let error = '';
    try {
      const h = load(req.source);
      if (typeof h[req.entry] !== 'function') throw new Error(`the handler exports no function ${req.entry}`);
      await h[req.entry](api(req.world, calls), req.event, req.config);
    } catch (e) {
      error = String((e && e.stack) || e);
    } finally {
      Object.assign(console, keep);
    }
    out({ world: req.world, calls, log: log.join('\n'), error });
  });
});
