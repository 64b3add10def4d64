#!/bin/bash
# node's http.get of a 4 MiB body (two requests on a keep-alive agent) and an
# http.request POST, without and with the shim: same checksums. libuv closes
# descriptors with syscall(SYS_close), which the shim must follow.
. "$(dirname "$0")/lib.sh"
start_server PORT "$SUPPORT/bw_httpd" -6 -r "$T/record" --max-seconds 200
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT"
cat >"$T/client.js" <<'JS'
// GET /bytes/N twice over a keep-alive agent, then POST a 100 KB body.
const http = require('http'), crypto = require('crypto');
const [host, port] = [process.argv[2], +process.argv[3]];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(path) {
  return new Promise((ok, ko) => {
    http.get({ host, port, path, agent }, (res) => {
      const h = crypto.createHash('sha256'); let n = 0;
      res.on('data', (d) => { h.update(d); n += d.length; });
      res.on('end', () => ok(`GET ${path} ${res.statusCode} ${n} ${h.digest('hex')}`));
    }).on('error', ko);
  });
}
function post(body) {
  return new Promise((ok, ko) => {
    const req = http.request({ host, port, path: '/post', method: 'POST', agent,
      headers: { 'Content-Length': body.length } }, (res) => {
      let s = ''; res.on('data', (d) => s += d);
      res.on('end', () => ok(`POST ${res.statusCode} ${s.trim()}`));
    });
    req.on('error', ko); req.end(body);
  });
}
(async () => {
  console.log(await get('/bytes/4194304'));
  console.log(await get('/bytes/4194304'));
  console.log(await post(Buffer.alloc(100000, 'x')));
  agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
JS
run_modes node4 node "$T/client.js" 127.0.0.1 "$PORT"
run_modes node6 node "$T/client.js" ::1 "$PORT"
want=$("$SUPPORT/bw_httpd" --gen 4194304 | sha256sum | cut -d' ' -f1)
assert_eq "node GET" "GET /bytes/4194304 200 4194304 $want" "$(head -n 1 "$T/node4.plain.out")"
xsha=$(head -c 100000 /dev/zero | tr '\0' x | sha256sum | cut -d' ' -f1)
grep -q "\"length\":100000,\"sha256\":\"$xsha\"" "$T/node4.plain.out" || fail "node POST body not intact"
note "node: 4 MiB GETs and a 100 KB POST intact"
