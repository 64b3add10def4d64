// loops_node.js MODE PORTFILE - one node connection, for t_retry_loops.sh
// (issue 12). Writes PORTFILE.ready, waits (at most 30 s) for PORTFILE to hold
// the port, then:
//   net    net.connect to 127.0.0.1:PORT, "ping" to an echo server
//   fetch  fetch("http://127.0.0.1:PORT/status/200")
// Prints "ok ms=N REPLY" or "fail ms=N CODE" (the error's code, or its
// cause's, e.g. ECONNREFUSED); exit status 0 or 1.
"use strict";
const fs = require("fs");
const net = require("net");
const [mode, portFile] = process.argv.slice(2);
fs.writeFileSync(portFile + ".ready", "");

function waitPort(left) {
    if (fs.existsSync(portFile)) return Promise.resolve(+fs.readFileSync(portFile, "ascii"));
    if (left <= 0) return Promise.reject(new Error("no port"));
    return new Promise(r => setTimeout(r, 10)).then(() => waitPort(left - 1));
}

function netCall(port) {
    return new Promise((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1");
        s.setTimeout(10000, () => s.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
        s.on("connect", () => s.write("ping"));
        s.on("data", d => { s.end(); resolve(d.toString()); });
        s.on("error", reject);
    });
}

async function fetchCall(port) {
    const r = await fetch(`http://127.0.0.1:${port}/status/200`);
    await r.text();
    return "status=" + r.status;
}

(async () => {
    const port = await waitPort(3000);
    const t0 = Date.now();
    try {
        const reply = await (mode === "fetch" ? fetchCall(port) : netCall(port));
        console.log(`ok ms=${Date.now() - t0} ${reply}`);
    } catch (e) {
        const code = e.code || (e.cause && e.cause.code) || e.name;
        console.log(`fail ms=${Date.now() - t0} ${code}`);
        process.exitCode = 1;
    }
})();
