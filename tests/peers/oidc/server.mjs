// A real OpenID provider for Passgate's SSO tests (panva/oidc-provider).
// Usage: node server.mjs <port> <config.json>
// config.json: {issuer, client: {client_id, client_secret, redirect_uris},
//               users: {login: {password, otp, sub, email}}, acr}
// The built-in dev login cannot emit amr/acr, so this file serves its own login page:
// login + password + one-time code. A right code ends with amr ["pwd","otp"] and the
// configured acr; an empty code ends with amr ["pwd"] (a single-factor login).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, 'utf8'));

const provider = new Provider(config.issuer, {
  clients: [{ ...config.client, grant_types: ['authorization_code'], response_types: ['code'] }],
  jwks: config.jwks,
  cookies: { keys: ['passgate-test-cookie-key-0123456789'] },
  features: { devInteractions: { enabled: false } },
  // Scope claims (email) in the ID token itself, as most IdPs do.
  conformIdTokenClaims: false,
  claims: { openid: ['sub', 'amr', 'acr', 'auth_time'], email: ['email', 'email_verified'] },
  pkce: { required: () => true },
  acrValues: [config.acr],
  async findAccount(ctx, sub) {
    const user = Object.values(config.users).find((u) => u.sub === sub);
    if (!user) return undefined;
    return { accountId: sub, async claims() { return { sub, email: user.email, email_verified: true }; } };
  },
  // First-party client: grant the requested scopes without a consent screen.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

function page(uid, message) {
  return `<!doctype html><title>Test IdP</title><p>${message}</p>
<form method="post" action="/interaction/${uid}/login">
<input name="login"><input name="password" type="password"><input name="otp">
<button>Sign in</button></form>`;
}

function readForm(req) {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
  });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(page(details.uid, 'Sign in'));
    }
    const form = await readForm(req);
    const user = config.users[form.login];
    if (!user || user.password !== form.password) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(page(details.uid, 'Wrong login or password'));
    }
    const login = { accountId: user.sub, amr: ['pwd'] };
    if (form.otp && form.otp === user.otp) {
      login.amr = ['pwd', 'otp'];
      login.acr = config.acr;
    } else if (form.otp) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(page(details.uid, 'Wrong code'));
    }
    return await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    return res.end(String(err));
  }
});
server.listen(Number(port), '127.0.0.1', () => { process.stdout.write('ready\n'); });
