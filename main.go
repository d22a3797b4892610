// Command sightline is the customer-success dashboard. main only parses the command
// and wires the parts together; see README.md for the map of the code.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sightline/alerts"
	"sightline/demo"
	"sightline/handlers"
	"sightline/ingest"
	"sightline/jobs"
	"sightline/metrics"
	"sightline/models"
)

const usage = `Sightline: customer-success dashboard.

Usage:
  sightline serve                                   run the server
  sightline demo                                    fill an empty database with demo data, then serve
  sightline migrate                                 apply database migrations and exit
  sightline snapshot [--as-of YYYY-MM-DD] [--days N] compute and store every account's daily health snapshot (and refresh the /features weeks)
  sightline token create --role ROLE --name NAME    print a new API token
  sightline writekey create --name NAME [--origins https://app.example.com,…] [--rate-limit N]
                                                   print a new ingest write key
  sightline user create --email E --role ROLE --password-stdin [--name N]
  sightline alerts evaluate                        evaluate the alert rules at every account now
  sightline digest send                            send every member their alert digest now

Environment:
  DATABASE_URL    postgres://… or sqlite:PATH (default sqlite:data/sightline.db; demo: sqlite:data/demo.db)
  ADDR            listen address (default :8080)
  SESSION_SECRET  secret for session cookies (generated and stored in the database when unset)
  SECURE_COOKIES  set to 1 behind HTTPS
  LOG_LEVEL       debug, info, warn or error (default info)
  BACKGROUND_WORK "off": this process takes no background work (snapshots, alerts, webhooks, digests,
                  retention); River runs each job once across the processes that do
  DATABASE_REPLICA_URLS  comma-separated PostgreSQL read replicas for pages and read-only API calls
  BASE_URL        where people reach Sightline, for links in e-mails and webhooks
  SMTP_URL        smtp://user:pass@host:port (STARTTLS when offered) or smtps://… for the alert digests
  MAIL_FROM       the digests' sender address
  PPROF_ADDR      serve Go profiles on this address, e.g. 127.0.0.1:6060 (off by default)
  RAW_RETENTION_DAYS  days raw usage messages are kept (default 400; rollups are kept for ever)
`

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "sightline:", err)
		os.Exit(1)
	}
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "token" || cmd == "writekey" || cmd == "user") && (len(rest) == 0 || rest[0] != "create") {
		return fmt.Errorf("usage: sightline %s create …", cmd)
	} else if cmd == "token" || cmd == "writekey" || cmd == "user" {
		rest = rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, log, false)
	case "demo":
		return serve(ctx, log, true)
	case "migrate":
		store, err := openStore(ctx, "sqlite:data/sightline.db", log)
		if err != nil {
			return err
		}
		return store.Close()
	case "snapshot":
		fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
		asOf := fs.String("as-of", "", "last day to snapshot, YYYY-MM-DD (default today, UTC)")
		days := fs.Int("days", 1, "how many days to snapshot, ending on --as-of (backfill)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		last := models.Today()
		if *asOf != "" {
			d, err := models.ParseDate(*asOf)
			if err != nil {
				return fmt.Errorf("--as-of: %w", err)
			}
			last = d
		}
		if *days < 1 {
			return errors.New("--days must be at least 1")
		}
		return withStore(ctx, log, func(s *models.Store) error {
			first := last.AddDays(-(*days - 1))
			// The /features weeks: at least the 26 weeks the page charts.
			weeksFrom := last.AddDays(-7 * metrics.AdoptionWeeks)
			if first.Before(weeksFrom) {
				weeksFrom = first
			}
			res, err := s.RefreshDaily(ctx, first, last, weeksFrom, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d health snapshots written for %s … %s in %s\n", res.Snapshots, first, last, res.SnapshotsTook.Round(time.Millisecond))
			fmt.Fprintf(stdout, "feature weeks refreshed for %s … %s in %s\n", weeksFrom, last, res.WeeksTook.Round(time.Millisecond))
			fmt.Fprintf(stdout, "%d recommendations refreshed in %s\n", res.Recommendations, res.RecsTook.Round(time.Millisecond))
			return nil
		})
	case "token":
		fs := flag.NewFlagSet("token create", flag.ContinueOnError)
		role := fs.String("role", "", "csm, manager, pm or admin")
		name := fs.String("name", "", "what the token is for")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		return withStore(ctx, log, func(s *models.Store) error {
			plain, _, err := s.CreateAPIToken(ctx, *name, models.Role(*role), nil)
			if err == nil {
				fmt.Fprintln(stdout, plain)
			}
			return err
		})
	case "writekey":
		fs := flag.NewFlagSet("writekey create", flag.ContinueOnError)
		name := fs.String("name", "", "which product or source sends with this key")
		origins := fs.String("origins", "", "browser origins allowed to send with it, comma-separated (default: any)")
		rateLimit := fs.Int("rate-limit", 0, "requests a minute it may send, across all processes (default 0: no limit)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		return withStore(ctx, log, func(s *models.Store) error {
			in := models.WriteKeyInput{Name: *name, Origins: *origins, RateLimit: *rateLimit}
			plain, _, err := s.CreateWriteKey(ctx, in, nil) // refuses an empty name
			if err == nil {
				fmt.Fprintln(stdout, plain)
			}
			return err
		})
	case "user":
		fs := flag.NewFlagSet("user create", flag.ContinueOnError)
		email := fs.String("email", "", "login email")
		role := fs.String("role", "", "csm, manager, pm or admin")
		name := fs.String("name", "", "display name")
		fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if !*fromStdin {
			return errors.New("--password-stdin is required: passwords are never taken from the command line")
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading password: %w", err)
		}
		password := strings.TrimRight(line, "\r\n")
		return withStore(ctx, log, func(s *models.Store) error {
			m, err := s.CreateTeamMember(ctx, *email, *name, models.Role(*role), password)
			if err == nil {
				fmt.Fprintf(stdout, "created %s (%s)\n", m.Email, m.Role)
			}
			return err
		})
	case "alerts":
		if len(rest) == 0 || rest[0] != "evaluate" {
			return errors.New("usage: sightline alerts evaluate")
		}
		return withStore(ctx, log, func(s *models.Store) error {
			q, err := newQueue(ctx, s, log, false, false)
			if err != nil {
				return err
			}
			defer q.Close()
			res, err := s.EvaluateAlerts(ctx, models.Today())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d accounts evaluated in %s: %d alerts opened, %d updated, %d resolved, %d back from snooze\n",
				res.Accounts, res.Took.Round(time.Millisecond), res.Opened, res.Updated, res.Resolved, res.Woken)
			return nil
		})
	case "digest":
		if len(rest) == 0 || rest[0] != "send" {
			return errors.New("usage: sightline digest send")
		}
		return withStore(ctx, log, func(s *models.Store) error {
			mailer, err := mailerFromEnv()
			if err != nil {
				return err
			}
			if mailer == nil {
				return errors.New("set SMTP_URL and MAIL_FROM to send digests")
			}
			members, err := s.DigestMembers(ctx, models.Today(), false)
			if err != nil {
				return err
			}
			till, sent := time.Now().UTC(), 0
			for _, m := range members {
				ok, err := jobs.SendDigest(ctx, s, mailer, m, till)
				if err != nil {
					return err
				}
				if ok {
					sent++
				}
			}
			fmt.Fprintf(stdout, "%d digests sent (%d members with a digest on)\n", sent, len(members))
			return nil
		})
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func databaseURL(fallback string) string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return fallback
}

// openStore connects and migrates.
func openStore(ctx context.Context, fallbackURL string, log *slog.Logger) (*models.Store, error) {
	store, err := models.Open(databaseURL(fallbackURL))
	if err != nil {
		return nil, err
	}
	applied, err := store.Migrate(ctx)
	if err != nil {
		store.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("migrations applied", "dialect", store.Dialect(), "migrations", applied)
	}
	return store, nil
}

func withStore(ctx context.Context, log *slog.Logger, fn func(*models.Store) error) error {
	store, err := openStore(ctx, "sqlite:data/sightline.db", log)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(store)
}

// sessionSecret comes from SESSION_SECRET, or is generated once and kept in the
// database so sessions survive restarts and are shared by every instance.
func sessionSecret(ctx context.Context, store *models.Store, log *slog.Logger) ([]byte, error) {
	if s := os.Getenv("SESSION_SECRET"); s != "" {
		if len(s) < 32 {
			return nil, errors.New("SESSION_SECRET must be at least 32 characters")
		}
		return []byte(s), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	var stored string
	if err := store.PutSettingIfAbsent(ctx, "session_secret", hex.EncodeToString(b), &stored); err != nil {
		return nil, err
	}
	log.Warn("SESSION_SECRET is not set: using a secret generated and stored in the database; set SESSION_SECRET in production")
	return []byte(stored), nil
}

func serve(ctx context.Context, log *slog.Logger, withDemo bool) error {
	if os.Getenv("GOGC") == "" {
		// Ingestion allocates a lot of short-lived memory per request; collecting at
		// 4× the live heap instead of 2× takes a sixth off the server's CPU for a few
		// tens of MB, and the soft limit collects sooner before the heap nears it.
		debug.SetGCPercent(400)
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(160 << 20)
		}
	}
	fallback := "sqlite:data/sightline.db"
	if withDemo {
		fallback = "sqlite:data/demo.db"
	}
	store, err := openStore(ctx, fallback, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if urls := os.Getenv("DATABASE_REPLICA_URLS"); urls != "" {
		if err := store.UseReplicas(ctx, strings.Split(urls, ",")); err != nil {
			return err
		}
		for _, r := range store.ReplicaStates() {
			log.Info("read replica", "replica", r.Name, "state", r.State, "err", r.Error)
		}
	}
	// Background work (River): this process takes its share unless told not to. River
	// runs each job once across every process and elects one to schedule the periodic
	// ones. The queue exists before the demo is seeded, so the demo's webhook deliveries
	// are queued.
	background := os.Getenv("BACKGROUND_WORK") != "off"
	if os.Getenv("SNAPSHOT_JOB") == "off" { // its name before it covered every job
		log.Warn("SNAPSHOT_JOB=off is now BACKGROUND_WORK=off")
		background = false
	}
	// A demo about to be seeded gets today's snapshots from the seeding: the snapshot
	// job need not redo them at start (it would slow the newcomer's first clicks).
	seeding := false
	if withDemo {
		n, err := store.CountAccounts(ctx)
		if err != nil {
			return err
		}
		seeding = n == 0
	}
	queue, err := newQueue(ctx, store, log, background, seeding)
	if err != nil {
		return err
	}
	defer queue.Close()
	if withDemo {
		if _, err = prepareDemo(ctx, store, log); err != nil {
			return err
		}
	}
	secret, err := sessionSecret(ctx, store, log)
	if err != nil {
		return err
	}
	monitor := ingest.NewMonitor(store, log)
	router := handlers.NewRouter(handlers.Deps{
		Store: store, Logger: log, SessionSecret: secret,
		SecureCookies: os.Getenv("SECURE_COOKIES") == "1",
		Monitor:       monitor,
	})
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	url := "http://" + displayAddr(ln.Addr().String())
	log.Info("listening", "url", url, "database", store.Dialect())
	if withDemo {
		fmt.Printf("\nSightline demo is running at %s\nLog in with any of these (password: demo):\n", url)
		for _, l := range demo.Logins {
			fmt.Printf("  %-20s %s\n", l.Email, l.Role)
		}
		fmt.Println()
	}
	if background {
		if err := queue.Start(ctx); err != nil {
			return err
		}
	}
	if pprofAddr := os.Getenv("PPROF_ADDR"); pprofAddr != "" {
		// Profiling on its own listener (keep it on loopback), never on the public one.
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() { log.Warn("pprof", "err", http.ListenAndServe(pprofAddr, mux)) }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// SIGTERM: stop accepting, let in-flight requests finish.
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if background {
		queue.Stop(shutdownCtx)
	}
	monitor.Flush(shutdownCtx)
	log.Info("stopped")
	return nil
}

func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// prepareDemo seeds an empty database and makes sure the four demo logins exist; it
// reports whether it seeded.
func prepareDemo(ctx context.Context, store *models.Store, log *slog.Logger) (bool, error) {
	n, err := store.CountAccounts(ctx)
	if err != nil {
		return false, err
	}
	// The logins' password hash (a quarter second at bcrypt's cost) is made on the
	// other core while the seed writes; the four demo logins share it.
	hashed := make(chan error, 1)
	var hash string
	go func() {
		var err error
		hash, err = models.HashPassword("demo")
		hashed <- err
	}()
	if n == 0 {
		log.Info("filling the empty database with demo data")
		today := models.Today()
		if _, err := demo.Seed(ctx, store, today, demo.Options{}, log); err != nil {
			return false, err
		}
		// 90 days of snapshots, so health trends show from the first page view.
		if _, err := store.RefreshDaily(ctx, today.AddDays(-89), today, today.AddDays(-7*metrics.AdoptionWeeks), log); err != nil {
			return false, err
		}
	}
	if err := <-hashed; err != nil {
		return false, err
	}
	for _, l := range demo.Logins {
		_, err := store.AddTeamMember(ctx, l.Email, l.Name, l.Role, hash)
		if err != nil && !errors.Is(err, models.ErrConflict) {
			return false, err
		}
	}
	if n == 0 {
		if _, err := demo.SeedGoals(ctx, store, models.Today(), log); err != nil {
			return false, err
		}
		if _, err := demo.SeedRenewals(ctx, store, models.Today(), demo.DefaultDays, log); err != nil {
			return false, err
		}
		if _, err := demo.SeedAlerts(ctx, store, models.Today(), log); err != nil {
			return false, err
		}
	}
	return n == 0, nil
}

// newQueue builds the job queue (River) over the store; with schedule, this process
// takes part in the periodic work (River elects one process to schedule it).
func newQueue(ctx context.Context, store *models.Store, log *slog.Logger, schedule, snapshotsDone bool) (*jobs.Queue, error) {
	store.SetBaseURL(os.Getenv("BASE_URL"))
	mailer, err := mailerFromEnv()
	if err != nil {
		return nil, err
	}
	retention := ingest.DefaultRetention
	if days, err := strconv.Atoi(os.Getenv("RAW_RETENTION_DAYS")); err == nil && days > 0 {
		retention = time.Duration(days) * 24 * time.Hour
	}
	return jobs.New(ctx, store, jobs.Options{Logger: log, DatabaseURL: databaseURL(""), Mailer: mailer,
		RawRetention: retention, Schedule: schedule, SnapshotsDone: snapshotsDone})
}

// mailerFromEnv reads SMTP_URL and MAIL_FROM; nil when e-mail is not configured.
func mailerFromEnv() (*alerts.Mailer, error) {
	smtpURL := os.Getenv("SMTP_URL")
	if smtpURL == "" {
		return nil, nil
	}
	return alerts.NewMailer(smtpURL, os.Getenv("MAIL_FROM"))
}
