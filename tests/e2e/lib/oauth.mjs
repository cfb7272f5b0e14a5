// Helpers for test/oauth.test.mjs: a headless user agent (cookie jar, consent
// form, manual redirects) and an OAuthClientProvider for the MCP SDK whose
// redirectToAuthorization() drives that user agent through the broker's
// consent page and the (fake) Forgejo sign-in, as a person in a browser would.
import { randomBytes } from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { withTimeout } from './timeout.mjs';

export const HTTP_TIMEOUT_MS = 15_000;

// Calls `probe` every `intervalMs` until it returns something truthy (which is
// returned); throws naming `what` after `timeoutMs`, with the last value seen.
export async function waitFor(probe, { timeoutMs, intervalMs = 250, what }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) {
      return last;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function unescapeHtml(text) {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

// The first <form> of a page: its action, method and hidden inputs (in order).
export function parseForm(html) {
  const form = /<form\b([^>]*)>/i.exec(html);
  if (!form) {
    return undefined;
  }
  const attribute = (tag, name) => {
    const match = new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag);
    return match ? unescapeHtml(match[1]) : undefined;
  };
  const fields = [];
  const end = html.indexOf('</form>', form.index);
  const body = html.slice(form.index, end < 0 ? undefined : end);
  for (const input of body.matchAll(/<input\b[^>]*>/gi)) {
    if ((attribute(input[0], 'type') || '').toLowerCase() === 'hidden' && attribute(input[0], 'name')) {
      fields.push([attribute(input[0], 'name'), attribute(input[0], 'value') ?? '']);
    }
  }
  return { action: attribute(form[1], 'action'), method: (attribute(form[1], 'method') || 'get').toLowerCase(), fields };
}

// A browser without a screen: cookies per host:port (Secure and __Host- cookies
// are kept over plain http, as on a loopback origin), redirects followed by hand
// so that each hop can be seen.
export class HeadlessUserAgent {
  constructor() {
    this.jar = new Map(); // "host:port" -> Map(name -> value)
    this.hops = []; // every request: { method, url, status, location }
  }

  cookie(url, name) {
    return this.jar.get(new URL(url).host)?.get(name);
  }

  async request(method, url, { body, headers = {} } = {}) {
    const target = new URL(url);
    const cookies = this.jar.get(target.host);
    const sent = { ...headers };
    if (cookies?.size) {
      sent.Cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const response = await fetch(target, {
      method,
      headers: sent,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals <= 0) {
        continue;
      }
      const name = pair.slice(0, equals).trim();
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (!this.jar.has(target.host)) {
        this.jar.set(target.host, new Map());
      }
      if (expired) {
        this.jar.get(target.host).delete(name);
      } else {
        this.jar.get(target.host).set(name, pair.slice(equals + 1).trim());
      }
    }
    const text = await response.text();
    const location = response.headers.get('location');
    this.hops.push({ method, url: target.href, status: response.status, location });
    return { status: response.status, location: location ? new URL(location, target).href : undefined, text };
  }

  // Follows 301/302/303/307 (as GETs) until one points at `stopPrefix`; returns
  // that redirect's target, or throws with the answer that ended the chain.
  async follow(answer, stopPrefix, maxHops = 10) {
    for (let hop = 0; hop < maxHops; ++hop) {
      if (![301, 302, 303, 307].includes(answer.status) || !answer.location) {
        throw new Error(`the sign-in stopped at HTTP ${answer.status}: ${answer.text.slice(0, 400)}`);
      }
      if (answer.location.startsWith(stopPrefix)) {
        return new URL(answer.location);
      }
      answer = await this.request('GET', answer.location);
    }
    throw new Error(`more than ${maxHops} redirects`);
  }

  // The user opens `authorizationUrl`, approves the consent page(s) and signs in
  // upstream; returns the URL the client's redirect URI was called with.
  async authorize(authorizationUrl, redirectUri) {
    let answer = await this.request('GET', authorizationUrl);
    for (let round = 0; round < 3; ++round) {
      if (answer.status !== 200) {
        return this.follow(answer, redirectUri);
      }
      const form = parseForm(answer.text);
      if (!form?.action || form.method !== 'post') {
        throw new Error(`no consent form at ${authorizationUrl}: HTTP ${answer.status} ${answer.text.slice(0, 400)}`);
      }
      const body = new URLSearchParams([...form.fields, ['decision', 'approve']]).toString();
      answer = await this.request('POST', new URL(form.action, authorizationUrl).href, {
        body,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      if (answer.status === 200) {
        continue; // another consent page (a different upstream user than remembered)
      }
      // Through the upstream sign-in; it may come back to /authorize for a new consent.
      for (let hop = 0; hop < 10 && [301, 302, 303, 307].includes(answer.status); ++hop) {
        if (answer.location?.startsWith(redirectUri)) {
          return new URL(answer.location);
        }
        answer = await this.request('GET', answer.location);
      }
    }
    throw new Error(`the sign-in did not reach ${redirectUri}: HTTP ${answer.status} ${answer.text.slice(0, 400)}`);
  }
}

// An OAuthClientProvider (SDK 1.32.2, client/auth.d.ts). By default a public
// client (token_endpoint_auth_method "none") with a loopback redirect URI where
// nothing listens: the headless user agent stops at it and keeps the query.
// `redirectUri` (what it authorizes with), `redirectUris` (what it registers),
// `tokenEndpointAuthMethod` and `scope` let it register as a real client does.
export class HeadlessOAuthProvider {
  constructor({ clientName, agent = new HeadlessUserAgent(), redirectUri, redirectUris, tokenEndpointAuthMethod = 'none', scope }) {
    this.clientName = clientName;
    this.agent = agent;
    // RFC 8252 §7.3: a loopback redirect; port 9 (discard) is never contacted.
    this.redirectUri = redirectUri ?? `http://127.0.0.1:9/${clientName}/callback`;
    this.redirectUris = redirectUris ?? [this.redirectUri];
    this.tokenEndpointAuthMethod = tokenEndpointAuthMethod;
    this.scope = scope;
    this.savedClient = undefined;
    this.savedTokens = []; // every saveTokens(), oldest first
    this.verifier = undefined;
    this.lastState = undefined;
    this.authorizations = []; // { url, callback, code, state, iss }
  }

  get redirectUrl() {
    return this.redirectUri;
  }

  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: this.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this.tokenEndpointAuthMethod,
      ...(this.scope ? { scope: this.scope } : {}),
    };
  }

  state() {
    this.lastState = randomBytes(12).toString('hex');
    return this.lastState;
  }

  clientInformation() {
    return this.savedClient;
  }

  saveClientInformation(information) {
    this.savedClient = information;
  }

  tokens() {
    return this.savedTokens.at(-1);
  }

  saveTokens(tokens) {
    this.savedTokens.push(tokens);
  }

  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }

  codeVerifier() {
    if (!this.verifier) {
      throw new Error('no code verifier saved');
    }
    return this.verifier;
  }

  async redirectToAuthorization(authorizationUrl) {
    const callback = await this.agent.authorize(authorizationUrl.href, this.redirectUri);
    this.authorizations.push({
      url: authorizationUrl,
      callback,
      code: callback.searchParams.get('code'),
      state: callback.searchParams.get('state'),
      iss: callback.searchParams.get('iss'),
      error: callback.searchParams.get('error'),
    });
  }
}

// The SDK's documented flow: connect, which ends in UnauthorizedError after
// redirectToAuthorization(); finishAuth(code); connect again on a new transport.
export async function connectWithOAuth(mcpUrl, provider, { timeoutMs = 30_000 } = {}) {
  const attempt = async () => {
    const client = new Client({ name: provider.clientName, version: '1.0.0' }, { capabilities: {} });
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await withTimeout(client.connect(transport, { timeout: timeoutMs }), timeoutMs + 5_000, `${provider.clientName}: connect`);
    return { client, transport };
  };
  const before = provider.authorizations.length;
  let first;
  try {
    return await attempt(); // tokens from an earlier sign-in
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || provider.authorizations.length === before) {
      throw error;
    }
    first = provider.authorizations.at(-1);
  }
  if (!first.code) {
    throw new Error(`the sign-in ended without a code: ${first.callback}`);
  }
  // finishAuth() only exchanges the code: a fresh transport is enough.
  const exchange = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  await withTimeout(exchange.finishAuth(first.code), timeoutMs, `${provider.clientName}: finishAuth`);
  return attempt();
}

// Ends the session (DELETE) and closes the client; never throws.
export async function closeClient(session) {
  if (!session) {
    return;
  }
  try {
    await withTimeout(session.transport.terminateSession(), 10_000, 'terminateSession');
  } catch {
    // gone already
  }
  try {
    await withTimeout(session.client.close(), 10_000, 'client.close');
  } catch {
    // nothing left to release
  }
}

// The text of the first text block of a tools/call result.
export function firstText(result) {
  return (result.content || []).find((c) => c.type === 'text')?.text;
}

// One JSON-RPC POST to BASE/mcp with a bearer token (and, with a session id,
// the session's headers); the answer's status, session id and JSON body (the
// last `data:` of an SSE answer). Never throws on an HTTP status.
export async function mcpPost(base, token, sessionId, message) {
  const headers = {
    Accept: 'application/json, text/event-stream',
    'Content-Type': 'application/json',
    Authorization: `Bearer ${token}`,
  };
  if (sessionId) {
    headers['Mcp-Session-Id'] = sessionId;
    headers['MCP-Protocol-Version'] = '2025-06-18';
  }
  const response = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers,
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await response.text();
  let json;
  const data = text.split('\n').filter((line) => line.startsWith('data:')).at(-1);
  try {
    json = JSON.parse(data ? data.slice(5) : text);
  } catch {
    json = undefined;
  }
  return { status: response.status, sessionId: response.headers.get('mcp-session-id'), json, text };
}

// Who a Forgejo access token belongs to, by the (fake) Forgejo's GET /api/v1/user.
export async function forgejoUser(forgejoUrl, token) {
  const response = await fetch(`${forgejoUrl}/api/v1/user`, {
    headers: { Authorization: `token ${token}` },
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const body = await response.json();
  return response.status === 200 ? body.login : `HTTP ${response.status}: ${body.message}`;
}
