-- dxhub schema, version 13: operator accounts, sessions and login throttling
-- of the admin web UI (internal/admin). Times are Unix microseconds (UTC).

-- An operator account. Passwords are bcrypt hashes; an account sees the
-- tenants (AGS) in admin_user_tenants, or every tenant when global = 1 (the
-- provider's staff).
CREATE TABLE admin_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    global        INTEGER NOT NULL DEFAULT 0 CHECK (global IN (0, 1)),
    disabled_at   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE admin_user_tenants (
    user_name TEXT NOT NULL REFERENCES admin_users (name),
    tenant    TEXT NOT NULL,
    PRIMARY KEY (user_name, tenant)
);

-- Sessions: only the SHA-256 of the cookie's token is stored. csrf is the
-- session's synchronizer token for POST forms.
CREATE TABLE admin_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES admin_users (name),
    csrf         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_name);

-- Failed logins per key ("name:<account>" or "addr:<client IP>"), counted
-- in a window; at the limit the key is locked until locked_until.
CREATE TABLE admin_login_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER
);

-- The admin UI lists one tenant's submissions, newest first.
CREATE INDEX submissions_tenant_received ON submissions (tenant, received_at);
