// Preloaded into a peer MCP server (node --import): its fetch to Airtable's origin goes
// to the loopback emulator instead. Only that origin is rewritten, and only to loopback;
// every other request is left alone.
const ORIGIN = "https://api.airtable.com";
const target = new URL(process.env.PEER_AIRTABLE_URL || "");
if (!["127.0.0.1", "localhost", "[::1]"].includes(target.hostname)) {
  throw new Error("PEER_AIRTABLE_URL must be a loopback address");
}
const base = target.origin;
const realFetch = globalThis.fetch;

globalThis.fetch = (input, init) => {
  const url = typeof input === "string" || input instanceof URL ? String(input) : input.url;
  if (url === ORIGIN || url.startsWith(ORIGIN + "/")) {
    const moved = base + url.slice(ORIGIN.length);
    return realFetch(input instanceof Request ? new Request(moved, input) : moved, init);
  }
  return realFetch(input, init);
};
