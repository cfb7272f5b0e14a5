// For docs/make-screenshot.sh: signs several users in to an OAuth-mode broker
// (through the fake Forgejo's /_fake/login switch) with the MCP SDK client,
// opens their sessions, calls a tool in each, prints "ready", then keeps
// calling tools (for the console's charts) until SIGTERM or SIGINT.
//
//   node docs/screenshot-clients.mjs MCP_URL FORGEJO_URL
//
// It borrows the headless browser of the end-to-end tests, so it needs
// tests/e2e/node_modules (bash .ci/deps.sh --test).
import { closeClient, connectWithOAuth, HeadlessOAuthProvider } from '../tests/e2e/lib/oauth.mjs';

const [mcpUrl, forgejoUrl] = process.argv.slice(2);
if (!mcpUrl || !forgejoUrl) {
  console.error('usage: node docs/screenshot-clients.mjs MCP_URL FORGEJO_URL');
  process.exit(2);
}

// Who signs in, with which clients (names as the real clients register).
const people = [
  { login: 'alice', id: 1, clients: ['Claude Code', 'Visual Studio Code'] },
  { login: 'bob', id: 2, clients: ['Cursor'] },
  { login: 'carol', id: 3, clients: ['Claude Code', 'MCP Inspector', 'ChatGPT'] },
];

const sessions = [];
for (const person of people) {
  const switched = await fetch(`${forgejoUrl}/_fake/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ login: person.login, id: person.id }),
  });
  if (switched.status !== 200) {
    throw new Error(`fake Forgejo refused /_fake/login for ${person.login}: ${switched.status}`);
  }
  for (const clientName of person.clients) {
    const slug = clientName.toLowerCase().replaceAll(' ', '-');
    const provider = new HeadlessOAuthProvider({ clientName, redirectUri: `http://127.0.0.1:9/${slug}/callback` });
    const session = await connectWithOAuth(mcpUrl, provider);
    await session.client.callTool({ name: 'echo', arguments: { text: `hello from ${person.login}` } });
    sessions.push(session);
  }
}
console.log('ready');

// Traffic for the charts: an echo call in some session every 100-600 ms.
let calls = 0;
const traffic = async () => {
  const session = sessions[calls++ % sessions.length];
  await session.client.callTool({ name: 'echo', arguments: { text: `call ${calls}` } }).catch(() => {});
  setTimeout(traffic, 100 + Math.floor(Math.random() * 500));
};
traffic();

const stop = async () => {
  await Promise.all(sessions.map((session) => closeClient(session)));
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
