"""The token issuer, audience and HS256 secret of local runs and tests. Apart from auth.py so that the
settings (which default to them) and auth (which verifies with the settings) do not import each other."""

# Local runs and tests only: a production deployment sets its own secret, or RS256/JWKS keys, and refuses
# to start with this one (ServiceSettings, auth_mode=production).
LOCAL_HS256_SECRET = "telesales-local-development-secret-not-for-production"
LOCAL_ISSUER = "telesales-local"
LOCAL_AUDIENCE = "telesales"
