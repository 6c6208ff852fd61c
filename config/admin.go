package config

import "time"

// Admin configures the admin web UI under /admin/ on the hub's listener
// (internal/admin). Operator accounts live in the store and are managed with
// `dxhub admin user add|passwd|disable|list`.
//
//	admin:
//	  enabled: true
//	  sessionIdle: 30m        # a session ends after this long without a request
//	  sessionMaxAge: 12h      # and at the latest this long after login
//	  loginMaxFailures: 5     # failed logins per account name or client address ...
//	  loginWindow: 15m        # ... within this window lock it ...
//	  loginLockout: 15m       # ... for this long
type Admin struct {
	Enabled          bool          `mapstructure:"enabled"`
	SessionIdle      time.Duration `mapstructure:"sessionIdle"`
	SessionMaxAge    time.Duration `mapstructure:"sessionMaxAge"`
	LoginMaxFailures int           `mapstructure:"loginMaxFailures"`
	LoginWindow      time.Duration `mapstructure:"loginWindow"`
	LoginLockout     time.Duration `mapstructure:"loginLockout"`
}

// DefaultAdmin returns the built-in defaults: the UI is on (it shows nothing
// until an account exists).
func DefaultAdmin() Admin {
	return Admin{Enabled: true, SessionIdle: 30 * time.Minute, SessionMaxAge: 12 * time.Hour,
		LoginMaxFailures: 5, LoginWindow: 15 * time.Minute, LoginLockout: 15 * time.Minute}
}

func (c *Config) validateAdmin(p *problems) {
	a := c.Admin
	if !a.Enabled {
		return
	}
	for k, v := range map[string]time.Duration{"admin.sessionIdle": a.SessionIdle, "admin.sessionMaxAge": a.SessionMaxAge,
		"admin.loginWindow": a.LoginWindow, "admin.loginLockout": a.LoginLockout} {
		if v <= 0 {
			p.add(k, "must be positive, got %s", v)
		}
	}
	if a.SessionMaxAge > 0 && a.SessionIdle > a.SessionMaxAge {
		p.add("admin.sessionIdle", "must not exceed admin.sessionMaxAge (%s), got %s", a.SessionMaxAge, a.SessionIdle)
	}
	if a.LoginMaxFailures < 1 {
		p.add("admin.loginMaxFailures", "must be at least 1, got %d", a.LoginMaxFailures)
	}
}
