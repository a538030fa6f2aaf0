// Reference receiver for benches/listen-load.sh: node:http, verifying each Standard Webhooks
// delivery by hand with node:crypto (HMAC-SHA256 over id.timestamp.body, constant-time compare of
// every v1 signature, 5-minute tolerance), then JSON.parse, answering 200 or 401. No framework, no
// logging. The secret comes from $SFHOOKS_LOAD_SECRET, the port from $PORT.
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";

const key = Buffer.from(process.env.SFHOOKS_LOAD_SECRET.replace(/^whsec_/, ""), "base64");
const TOLERANCE = 300;

function verify(headers, body) {
  const id = headers["webhook-id"], ts = headers["webhook-timestamp"], sigs = headers["webhook-signature"];
  if (!id || !ts || !sigs) return false;
  const now = Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > TOLERANCE) return false;
  const expected = Buffer.from(
    createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest("base64"));
  let ok = false;
  for (const entry of sigs.split(" ")) {
    const [version, sig] = entry.split(",");
    if (version !== "v1" || !sig) continue;
    const given = Buffer.from(sig);
    if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
  }
  if (ok) JSON.parse(body);
  return ok;
}

createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const ok = verify(req.headers, Buffer.concat(chunks));
    res.writeHead(ok ? 200 : 401, { "content-type": "text/plain" });
    res.end(ok ? "ok\n" : "invalid\n");
  });
}).listen(Number(process.env.PORT), "127.0.0.1", () => console.error(`listening on http://127.0.0.1:${process.env.PORT}`));
