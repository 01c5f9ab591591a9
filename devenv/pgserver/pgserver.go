// Package pgserver creates and runs a private PostgreSQL cluster with the installed
// initdb and pg_ctl, for `collabflow dev` (under .data/postgres) and for tests (in a temp dir).
//
// PostgreSQL refuses to run as root; when this process is root, every PostgreSQL program
// runs as the "postgres" user through runuser, and the cluster directory is handed to it.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configures a cluster.
type Options struct {
	// Dir holds the cluster: Dir/data is the data directory, Dir/postgres.log the server log.
	// An existing cluster there is reused, which is how `make run` keeps its data.
	Dir string
	// Database is created on start when missing; empty means "collabflow".
	Database string
	// Ephemeral trades durability for speed (fsync off): right for tests only.
	Ephemeral bool
}

// Server is a running cluster listening on a loopback port, with trust authentication for
// its one superuser: it is reachable only from this machine.
type Server struct {
	bin      string
	dir      string
	port     int
	database string
	asUser   string
}

// superuser is the cluster's bootstrap role; every URL this package builds connects as it.
const superuser = "collabflow"

// Start creates the cluster when Dir holds none, starts it on a free loopback port, waits
// until it accepts connections and creates the database.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgserver: Options.Dir is required")
	}
	if opts.Database == "" {
		opts.Database = "collabflow"
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", opts.Dir, err)
	}
	s := &Server{bin: bin, dir: dir, database: opts.Database}
	if os.Geteuid() == 0 {
		s.asUser = "postgres"
	}
	if err := s.prepareDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(s.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := s.run(ctx, "initdb", "-D", s.dataDir(), "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
			return nil, fmt.Errorf("initdb in %s: %w", s.dataDir(), err)
		}
	}
	// A cluster left running by a killed process would hold the data directory: stop it so
	// this start owns the cluster and its port.
	if s.run(ctx, "pg_ctl", "status", "-D", s.dataDir()) == nil {
		_ = s.run(ctx, "pg_ctl", "stop", "-D", s.dataDir(), "-m", "fast", "-w")
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	serverOpts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", s.port, s.dir)
	if opts.Ephemeral {
		serverOpts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if err := s.run(ctx, "pg_ctl", "start", "-D", s.dataDir(), "-l", filepath.Join(s.dir, "postgres.log"), "-w", "-t", "60", "-o", serverOpts); err != nil {
		return nil, fmt.Errorf("start postgres (log in %s): %w", filepath.Join(s.dir, "postgres.log"), err)
	}
	if err := s.CreateDatabase(ctx, opts.Database); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// URL is the connection string of the cluster's database.
func (s *Server) URL() string { return s.DatabaseURL(s.database) }

// DatabaseURL is the connection string of another database in the cluster.
func (s *Server) DatabaseURL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates a database unless it exists.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.DatabaseURL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to local postgres: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the cluster down, waiting for it to finish.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.run(ctx, "pg_ctl", "stop", "-D", s.dataDir(), "-m", "fast", "-w"); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	return nil
}

// FindBinaries returns the directory holding initdb and pg_ctl: PATH first, then Debian's
// /usr/lib/postgresql/<version>/bin (newest version), which is not on PATH by default.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL programs initdb and pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin: " +
		"install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL to an existing server")
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// prepareDir makes Dir owned by the user PostgreSQL runs as; its parents must let that
// user through, so directories this function creates are world-traversable.
func (s *Server) prepareDir() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	if s.asUser == "" {
		return nil
	}
	u, err := user.Lookup(s.asUser)
	if err != nil {
		return fmt.Errorf("running as root needs the %q user to run PostgreSQL: %w", s.asUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(s.dir, uid, gid); err != nil {
		return fmt.Errorf("hand %s to %s: %w", s.dir, s.asUser, err)
	}
	// Parents such as t.TempDir()'s are 0700: open them for traversal only.
	for p := filepath.Dir(s.dir); p != "/" && p != "."; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", p, err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, info.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("open %s for the %s user: %w", p, s.asUser, err)
			}
		}
	}
	return nil
}

// run executes one PostgreSQL program, as the postgres user when this process is root.
func (s *Server) run(ctx context.Context, program string, args ...string) error {
	path := filepath.Join(s.bin, program)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// The server outlives this command (pg_ctl start daemonizes it): run it from a directory
	// the postgres user can read and with no inherited pipes holding Output open.
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", program, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode()&0o111 != 0
}
