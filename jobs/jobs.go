// Package jobs runs Sightline's background work on River, a job queue in the same
// database: alert evaluation, webhook deliveries, e-mail digests, daily health
// snapshots and raw-message retention. Several serve processes may share a database:
// River's leader election runs each periodic job in one process only, unique jobs keep
// a piece of work from being queued twice, and a job whose process dies is rescued
// and run again by another.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"sightline/alerts"
	"sightline/ingest"
	"sightline/models"
)

// Options configure the queue.
type Options struct {
	Logger *slog.Logger
	// DatabaseURL is the store's, for the PostgreSQL LISTEN connection.
	DatabaseURL string
	// Mailer sends digests; nil: no e-mail (digest jobs say so and do nothing).
	Mailer *alerts.Mailer
	// RawRetention is how long raw usage messages are kept.
	RawRetention time.Duration
	// HTTPClient delivers webhooks (default: a client with no redirects).
	HTTPClient *http.Client
	// Now is the clock for "today" (default time.Now).
	Now func() time.Time
	// Fast polls for work every few milliseconds: for tests.
	Fast bool
	// Schedule sets the periodic jobs up (serve); tests leave it off and insert jobs.
	Schedule bool
	// SnapshotsDone says today's snapshots were just written (the demo seeds them): the
	// snapshot job does not also run at start, only at its time.
	SnapshotsDone bool
}

// Queue is Sightline's River client and what its workers need.
type Queue struct {
	client *river.Client[*sql.Tx]
	store  *models.Store
	opts   Options
	listen *pgxpool.Pool
}

// New builds the queue over the store's database. Insert-only until Start.
func New(ctx context.Context, store *models.Store, opts Options) (*Queue, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.RawRetention == 0 {
		opts.RawRetention = ingest.DefaultRetention
	}
	q := &Queue{store: store, opts: opts}
	var driver riverdriver.Driver[*sql.Tx]
	switch store.Dialect() {
	case models.SQLite:
		driver = riversqlite.New(store.SQL())
	default:
		// database/sql for both dialects, so a job can be inserted in the GORM
		// transaction of the change that needs it; a small pgx pool only LISTENs, so
		// new jobs and leadership changes are noticed at once.
		pcfg, err := pgxpool.ParseConfig(opts.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("jobs: DATABASE_URL: %w", err)
		}
		pcfg.MaxConns = 2
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: unable to open the listener pool: %w", err)
		}
		q.listen = pool
		driver = riverdatabasesql.NewWithPgxListener(store.SQL(), pool)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &evaluateWorker{q: q})
	river.AddWorker(workers, &deliveryWorker{q: q})
	river.AddWorker(workers, &digestRunWorker{q: q})
	river.AddWorker(workers, &digestWorker{q: q})
	river.AddWorker(workers, &snapshotWorker{q: q})
	river.AddWorker(workers, &retentionWorker{q: q})
	cfg := &river.Config{
		// River reports each failed attempt; ours say what failed (webhook deliveries are
		// kept with every attempt), so only River's warnings reach the log.
		Logger:  slog.New(atLeast{opts.Logger.Handler(), slog.LevelWarn}).With("part", "jobs"),
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers: workers,
		// Completed unique jobs block duplicates while kept: a day's run must stay
		// known for longer than the day.
		CompletedJobRetentionPeriod: 48 * time.Hour,
		JobTimeout:                  30 * time.Minute,
		// A job whose process died (kill -9, a lost machine) stays "running" until
		// rescued and run again by another process: soon after no job can still be
		// running (River's default waits an hour more).
		RescueStuckJobsAfter: 35 * time.Minute,
	}
	if opts.Schedule {
		cfg.PeriodicJobs = periodicJobs(opts.Now, !opts.SnapshotsDone)
	}
	if opts.Fast {
		cfg.FetchCooldown, cfg.FetchPollInterval, cfg.TestOnly = 5*time.Millisecond, 20*time.Millisecond, true
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("jobs: unable to start River: %w", err)
	}
	q.client = client
	store.SetJobs(q)
	return q, nil
}

// Start works jobs until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop lets running jobs finish (up to the context's end), then cancels them: a
// cancelled job is put back and run again later.
func (q *Queue) Stop(ctx context.Context) {
	if err := q.client.Stop(ctx); errors.Is(err, context.DeadlineExceeded) {
		q.client.StopAndCancel(context.Background())
	}
}

// Close releases the listener pool (after Stop).
func (q *Queue) Close() {
	if q.listen != nil {
		q.listen.Close()
	}
}

// Client is the River client, for tests that wait on job events.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// DeliverWebhooksTx queues deliveries in the transaction that created them.
func (q *Queue) DeliverWebhooksTx(ctx context.Context, tx *sql.Tx, ids []int64, manual bool) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DeliveryArgs{DeliveryID: id, Manual: manual}}
		if manual {
			params[i].InsertOpts = &river.InsertOpts{MaxAttempts: 1}
		}
	}
	if _, err := q.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: unable to queue webhook deliveries: %w", err)
	}
	return nil
}

// EvaluateNow queues an evaluation (every account when full), unless one is waiting.
func (q *Queue) EvaluateNow(ctx context.Context, full bool) error {
	_, err := q.client.Insert(ctx, EvaluateArgs{Full: full}, nil)
	return err
}

// SendDigestsNow queues every member's digest now, whatever their schedule (not off).
func (q *Queue) SendDigestsNow(ctx context.Context) error {
	_, err := q.client.Insert(ctx, DigestRunArgs{Day: q.today().String(), Now: true}, nil)
	return err
}

func (q *Queue) today() models.Date { return models.DateOf(q.opts.Now()) }

// pendingStates are the states a unique job blocks a duplicate in, while it waits or
// runs: once done, the same work may be queued again.
var pendingStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// dailyAt is a schedule that fires every day at a UTC time.
type dailyAt struct{ hour, minute int }

// Next is the first time after t.
func (d dailyAt) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), d.hour, d.minute, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// slot is the latest firing at or before now: the day a daily job is for. Started with
// RunOnStart, a process catches up a run missed while no leader was up, and the job's
// uniqueness by day keeps it from running twice.
func (d dailyAt) slot(now time.Time) models.Date {
	last := d.Next(now.Add(-24 * time.Hour))
	if last.After(now) {
		last = last.Add(-24 * time.Hour)
	}
	return models.DateOf(last)
}

// periodicJobs is serve's schedule; River runs it in the elected leader only.
func periodicJobs(now func() time.Time, snapshotOnStart bool) []*river.PeriodicJob {
	snapshots, retention, digests := dailyAt{0, 10}, dailyAt{3, 0}, dailyAt{7, 0}
	return []*river.PeriodicJob{
		// Usage and changes reach the alerts within a minute or two (SPEC: within 5).
		river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return EvaluateArgs{}, nil },
			&river.PeriodicJobOpts{ID: "alerts-evaluate", RunOnStart: true}),
		river.NewPeriodicJob(snapshots,
			func() (river.JobArgs, *river.InsertOpts) {
				return SnapshotArgs{Day: snapshots.slot(now()).String()}, nil
			}, &river.PeriodicJobOpts{ID: "snapshots", RunOnStart: snapshotOnStart}),
		river.NewPeriodicJob(retention,
			func() (river.JobArgs, *river.InsertOpts) {
				return RetentionArgs{Day: retention.slot(now()).String()}, nil
			}, &river.PeriodicJobOpts{ID: "retention", RunOnStart: true}),
		river.NewPeriodicJob(digests,
			func() (river.JobArgs, *river.InsertOpts) {
				return DigestRunArgs{Day: digests.slot(now()).String()}, nil
			}, &river.PeriodicJobOpts{ID: "digests", RunOnStart: true}),
	}
}

// atLeast passes on the records of a handler from a level up.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(as []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(as), h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.min}
}
