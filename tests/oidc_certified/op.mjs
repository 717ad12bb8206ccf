// A certified OpenID Provider for the tests: panva's oidc-provider (OpenID Certified(TM)
// for the Basic, Config, RP-Initiated Logout... profiles; https://openid.net/certification/),
// run on 127.0.0.1 with one confidential client and one test user.
//
// Nobody here wrote the provider: the script only configures it. There is no login UI to
// click: the interaction routes log the test user in and grant what the client asks
// (an auto-consenting user), or cancel the interaction when the browser adds ?deny=1
// (the OP then answers the client with error=access_denied).
//
// Environment: OP_PORT (required), OP_KID (the signing key's id; a new RSA key is made at
// every start, so a restart with another OP_KID is a key rotation), CLIENT_ID,
// CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI.
// Every request is written to stdout as one JSON line {"method", "path", "status"} (and
// each interaction as {"interaction": <prompt name>}); "listening <port>" once it serves.

import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
};

const port = Number(env('OP_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: env('OP_KID'), use: 'sig', alg: 'RS256' };

const USER = {
  sub: 'certified-user-0001',
  email: 'grace@example.org',
  email_verified: true,
  name: 'Grace Hopper',
  preferred_username: 'grace',
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('CLIENT_ID'),
    client_secret: env('CLIENT_SECRET'),
    redirect_uris: [env('REDIRECT_URI')],
    post_logout_redirect_uris: [env('POST_LOGOUT_REDIRECT_URI')],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['certified-op-cookie-key-for-tests-only'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // Default (conformIdTokenClaims): with an access token issued, the scopes' claims are in
  // userinfo only, not in the ID token (OpenID Connect Core 5.4).
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => (sub === USER.sub
    ? { accountId: sub, claims: async () => ({ ...USER }) }
    : undefined),
});

provider.use(async (ctx, next) => {
  await next();
  console.log(JSON.stringify({ method: ctx.method, path: ctx.path, status: ctx.status }));
});

provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/interaction/')) {
    return next();
  }
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session, grantId } = details;
  console.log(JSON.stringify({ interaction: prompt.name }));
  let result;
  if (ctx.query.deny === '1') {
    result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
  } else if (prompt.name === 'login') {
    result = { login: { accountId: USER.sub } };
  } else {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result,
    { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${port}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
