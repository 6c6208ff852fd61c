package main

// dxhub admin user add|passwd|disable|list: operator accounts of the admin
// web UI, managed on the store like the other operator commands. Passwords
// are read from standard input (first line) or --password-file, never from
// the command line (it shows in ps and shell history).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dxhub/dxhub/internal/admin"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// adminStdin is where `dxhub admin user add|passwd` read the password from
// (tests replace it).
var adminStdin io.Reader = os.Stdin

// adminPasswordCost is the bcrypt cost of new passwords (tests lower it).
var adminPasswordCost = admin.PasswordCost

func cmdAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "user" {
		return usagef("give a subcommand: user add NAME --tenant AGS[,AGS…] | --global, user passwd NAME, user disable NAME, user list")
	}
	sub, args := args[1], args[2:]
	fs, open := storeFlags("admin user "+sub, stderr)
	tenants := fs.String("tenant", "", "add: the tenants (AGS, comma-separated) the account may see")
	global := fs.Bool("global", false, "add: the account sees every tenant (the provider's staff)")
	pwFile := fs.String("password-file", "", "add, passwd: read the password from this file instead of standard input")
	// Flags may follow the account name (add alice --tenant …): parse on
	// after each positional argument.
	var rest []string
	for {
		if err := parseFlags(fs.FlagSet, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
	var name string
	switch sub {
	case "list":
		if len(rest) != 0 {
			return usagef("list takes no arguments")
		}
	case "add", "passwd", "disable":
		if len(rest) != 1 {
			return usagef("%s needs exactly one account name", sub)
		}
		name = rest[0]
		if err := admin.ValidateName(name); err != nil {
			return usagef("%v", err)
		}
	default:
		return usagef("unknown subcommand %q (add, passwd, disable, list)", sub)
	}
	var ags []string
	if sub == "add" {
		for _, t := range strings.Split(*tenants, ",") {
			if t = strings.TrimSpace(t); t != "" {
				ags = append(ags, t)
			}
		}
		if len(ags) == 0 && !*global {
			return usagef("add needs --tenant AGS[,AGS…] or --global")
		}
		cfg, err := loadConfig(fs.Lookup("config").Value.String())
		if err != nil {
			return err
		}
		var known []string
		for _, t := range cfg.Tenants {
			known = append(known, t.AGS)
		}
		for _, t := range ags {
			if !slices.Contains(known, t) {
				return usagef("--tenant %s is not a configured tenant (configured: %s)", t, strings.Join(known, ", "))
			}
		}
	} else if *tenants != "" || *global {
		return usagef("--tenant and --global are for add only")
	}
	if (sub == "list" || sub == "disable") && *pwFile != "" {
		return usagef("--password-file is for add and passwd only")
	}
	var hash string
	if sub == "add" || sub == "passwd" {
		pw, err := readPassword(*pwFile)
		if err != nil {
			return err
		}
		if hash, err = admin.HashPassword(pw, adminPasswordCost); err != nil {
			return err
		}
	}
	var st *store.Store
	var err error
	if sub == "add" {
		// The first account may be added before the hub ever ran: add
		// creates the data directory and database when missing.
		st, err = openStoreForAdd(ctx, fs.Lookup("config").Value.String(), fs.Lookup("data").Value.String())
	} else {
		st, err = open(ctx)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	switch sub {
	case "list":
		users, err := st.AdminUsers(ctx)
		if err != nil {
			return err
		}
		if *fs.json {
			if users == nil {
				users = []store.AdminUser{}
			}
			return writeJSON(stdout, users)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTENANTS\tSTATE\tCREATED")
		for _, u := range users {
			scope := strings.Join(u.Tenants, ",")
			if u.Global {
				scope = "all (global)"
			}
			state := "active"
			if u.Disabled() {
				state = "disabled " + u.DisabledAt.Local().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, scope, state, u.Created.Local().Format(time.RFC3339))
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d account(s)\n", len(users))
		return nil
	case "add":
		err := st.CreateAdminUser(ctx, store.AdminUser{Name: name, PasswordHash: hash, Global: *global, Tenants: ags, Created: now})
		if err != nil {
			return err
		}
		scope := "tenants " + strings.Join(ags, ",")
		if *global {
			scope = "all tenants"
		}
		audit(ctx, st, stderr, "admin.user.add", "", name+" ("+scope+")")
		fmt.Fprintf(stdout, "account %s added (%s)\n", name, scope)
	case "passwd":
		if err := st.SetAdminPassword(ctx, name, hash, now); err != nil {
			return notFoundAccount(err, name)
		}
		audit(ctx, st, stderr, "admin.user.passwd", "", name)
		fmt.Fprintf(stdout, "password of %s changed; its sessions ended\n", name)
	case "disable":
		if err := st.DisableAdminUser(ctx, name, now); err != nil {
			return notFoundAccount(err, name)
		}
		audit(ctx, st, stderr, "admin.user.disable", "", name)
		fmt.Fprintf(stdout, "account %s disabled; its sessions ended\n", name)
	}
	return nil
}

func openStoreForAdd(ctx context.Context, cfgPath, dataDir string) (*store.Store, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	if dataDir == "" {
		dataDir = cfg.Hub.DataDir
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return openStoreIn(ctx, cfg, dataDir, true)
}

func notFoundAccount(err error, name string) error {
	if errors.Is(err, routing.ErrNotFound) {
		return fmt.Errorf("no admin account %s", name)
	}
	return err
}

// readPassword reads the first line of the file, or of standard input.
func readPassword(file string) (string, error) {
	r := adminStdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password given: write it to standard input (first line) or use --password-file")
	}
	return line, nil
}
