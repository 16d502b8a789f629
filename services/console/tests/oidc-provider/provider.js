// A real OpenID provider for the console's sign-in tests (node-oidc-provider, development interactions).
// Usage: node provider.js <port> <redirect_uri>
// It prints "ready <issuer>" once it listens. Access tokens are RS256 JWTs for audience "telesales" carrying
// the platform's claims (roles, tenant, team), as the platform's identity provider issues them.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, redirectUri] = [Number(process.argv[2]), process.argv[3]];
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'urn:telesales:api';

// Who may sign in (login = account id; any password).
const ACCOUNTS = {
  'li-si': { name: 'Li Si', roles: ['agent'], tenant: 'default', team: 'team-a' },
  'wang-wu': { name: 'Wang Wu', roles: ['supervisor'], tenant: 'default', team: 'team-a' },
};

const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'console',
    token_endpoint_auth_method: 'none',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }],
  jwks: { keys: [{ ...key, kid: 'console-test', alg: 'RS256', use: 'sig' }] },
  scopes: ['openid', 'profile', 'offline_access', 'telesales'],
  claims: { openid: ['sub'], profile: ['name'] },
  ttl: { AccessToken: 300, IdToken: 300, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { audience: 'telesales', scope: 'telesales', accessTokenFormat: 'jwt', accessTokenTTL: 300,
                 jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  findAccount: (ctx, id) => (ACCOUNTS[id]
    ? { accountId: id, claims: () => ({ sub: id, name: ACCOUNTS[id].name }) }
    : undefined),
  extraTokenClaims: (ctx, token) => {
    const account = ACCOUNTS[token.accountId];
    return account ? { roles: account.roles, tenant: account.tenant, team: account.team } : undefined;
  },
  // The console asks for offline_access without prompt=consent: refresh tokens for every sign-in.
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
});

provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
