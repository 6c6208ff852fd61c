-- PostgreSQL twin of migrations/0013: admin UI accounts, sessions, login throttling.
CREATE TABLE admin_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    global        INTEGER NOT NULL DEFAULT 0 CHECK (global IN (0, 1)),
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE admin_user_tenants (
    user_name TEXT NOT NULL REFERENCES admin_users (name),
    tenant    TEXT NOT NULL,
    PRIMARY KEY (user_name, tenant)
);

CREATE TABLE admin_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES admin_users (name),
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_name);

CREATE TABLE admin_login_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- The admin UI lists one tenant's submissions, newest first.
CREATE INDEX submissions_tenant_received ON submissions (tenant, received_at);
