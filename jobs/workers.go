package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"sightline/alerts"
	"sightline/ingest"
	"sightline/models"
)

// EvaluateArgs evaluates the alert rules as of today: the accounts whose inputs
// changed, or every account when Full (or when the day, the rules, the scorecard or
// the catalog changed since the last run).
type EvaluateArgs struct {
	Full bool `json:"full"`
}

// Kind names the job.
func (EvaluateArgs) Kind() string { return "alerts_evaluate" }

// InsertOpts: one evaluation waiting at a time; the one that runs sees every change.
func (EvaluateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}, MaxAttempts: 3}
}

type evaluateWorker struct {
	river.WorkerDefaults[EvaluateArgs]
	q *Queue
}

func (w *evaluateWorker) Work(ctx context.Context, job *river.Job[EvaluateArgs]) error {
	store, today := w.q.store, w.q.today()
	var res models.EvaluationResult
	var err error
	if job.Args.Full {
		res, err = store.EvaluateAlerts(ctx, today)
	} else {
		res, err = store.EvaluateChangedAlerts(ctx, today)
	}
	if err != nil {
		return err
	}
	if res.Accounts > 0 {
		w.q.opts.Logger.Info("alerts evaluated", "full", res.Full, "accounts", res.Accounts, "opened", res.Opened,
			"updated", res.Updated, "resolved", res.Resolved, "woken", res.Woken, "took", res.Took.Round(time.Millisecond).String())
	}
	return nil
}

// DeliveryArgs sends one webhook delivery; Manual is an admin's resend (one attempt).
type DeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id"`
	Manual     bool  `json:"manual,omitempty"`
}

// Kind names the job.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// InsertOpts: a delivery is queued once at a time; retried for over 24 hours.
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: alerts.MaxWebhookAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	q *Queue
}

// NextRetry follows SPEC §8's schedule: within a minute, then longer.
func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	next, ok := alerts.NextAttempt(job.Attempt, time.Now())
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return next
}

// Timeout leaves the request its 10 seconds and the bookkeeping a little more.
func (w *deliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return alerts.WebhookTimeout + 20*time.Second
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	store := w.q.store
	d, err := store.DeliveryByID(ctx, job.Args.DeliveryID)
	if err != nil {
		return river.JobCancel(err) // the webhook was deleted
	}
	if d.State == models.DeliveryDelivered && !job.Args.Manual {
		return nil
	}
	now := time.Now().UTC()
	sent := alerts.SendWebhook(ctx, w.q.opts.HTTPClient, d.URL, d.Secret, d.MsgID, []byte(d.Payload), now)
	attempt := models.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: now, Error: sent.Err,
		DurationMS: int(sent.Duration.Milliseconds()), Manual: job.Args.Manual}
	if sent.Status != 0 {
		st := sent.Status
		attempt.Status = &st
	}
	var next *time.Time
	last := job.Args.Manual || job.Attempt >= job.MaxAttempts
	if !sent.OK() && !last {
		t, _ := alerts.NextAttempt(job.Attempt, now)
		next = &t
	}
	if err := store.RecordAttempt(ctx, attempt, next); err != nil {
		return err
	}
	if sent.OK() {
		return nil
	}
	if last {
		return river.JobCancel(fmt.Errorf("webhook delivery %s failed for good: %s", d.MsgID, sent.Err))
	}
	return fmt.Errorf("webhook delivery %s: %s", d.MsgID, sent.Err)
}

// DigestRunArgs queues the digests of a day: the members due that day, or every
// member not off when Now (`digest send`).
type DigestRunArgs struct {
	Day string `json:"day"`
	Now bool   `json:"now,omitempty"`
}

// Kind names the job.
func (DigestRunArgs) Kind() string { return "digest_run" }

// InsertOpts: a day's scheduled run once, across every process.
func (a DigestRunArgs) InsertOpts() river.InsertOpts {
	if a.Now {
		return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
	}
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type digestRunWorker struct {
	river.WorkerDefaults[DigestRunArgs]
	q *Queue
}

func (w *digestRunWorker) Work(ctx context.Context, job *river.Job[DigestRunArgs]) error {
	day, err := models.ParseDate(job.Args.Day)
	if err != nil {
		return river.JobCancel(err)
	}
	if w.q.opts.Mailer == nil {
		w.q.opts.Logger.Warn("digests not sent: SMTP_URL and MAIL_FROM are not set")
		return nil
	}
	members, err := w.q.store.DigestMembers(ctx, day, !job.Args.Now)
	if err != nil {
		return err
	}
	till := time.Now().UTC()
	params := make([]river.InsertManyParams, len(members))
	for i, m := range members {
		params[i] = river.InsertManyParams{Args: DigestArgs{MemberID: m.ID, Day: job.Args.Day, Till: till, Now: job.Args.Now}}
	}
	if len(params) == 0 {
		return nil
	}
	_, err = w.q.client.InsertMany(ctx, params)
	return err
}

// DigestArgs sends one member their digest, covering up to Till.
type DigestArgs struct {
	MemberID int64     `json:"member_id"`
	Day      string    `json:"day"`
	Till     time.Time `json:"till"`
	Now      bool      `json:"now,omitempty"`
}

// Kind names the job.
func (DigestArgs) Kind() string { return "digest" }

// InsertOpts: one digest per member and run.
func (DigestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	q *Queue
}

func (w *digestWorker) Work(ctx context.Context, job *river.Job[DigestArgs]) error {
	store := w.q.store
	m, err := store.TeamMemberByID(ctx, job.Args.MemberID)
	if err != nil {
		return river.JobCancel(err)
	}
	if m.DisabledAt != nil || m.Digest == models.DigestOff {
		return nil
	}
	_, err = SendDigest(ctx, store, w.q.opts.Mailer, *m, job.Args.Till)
	if err == nil {
		w.q.opts.Logger.Info("digest done", "to", m.Email)
	}
	return err
}

// SendDigest sends a member the digest of their alerts up to till, when there is
// something to report, and records that it covered them; it tells whether one was sent.
func SendDigest(ctx context.Context, store *models.Store, mailer *alerts.Mailer, m models.TeamMember, till time.Time) (bool, error) {
	d, err := store.DigestOf(ctx, m, till)
	if err != nil {
		return false, err
	}
	if len(d.Items) > 0 {
		if err := mailer.Send(ctx, d); err != nil {
			return false, err
		}
	}
	// Marked after sending: a crash in between sends it again rather than never.
	return len(d.Items) > 0, store.MarkDigestSent(ctx, m.ID, till)
}

// SnapshotArgs writes the daily health snapshots for a day and the day before (final
// now that its usage is in), the /features tables and every account's recommendations,
// then evaluates every account.
type SnapshotArgs struct {
	Day string `json:"day"`
}

// Kind names the job.
func (SnapshotArgs) Kind() string { return "health_snapshots" }

// InsertOpts: once per day across every process.
func (SnapshotArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type snapshotWorker struct {
	river.WorkerDefaults[SnapshotArgs]
	q *Queue
}

func (w *snapshotWorker) Work(ctx context.Context, job *river.Job[SnapshotArgs]) error {
	day, err := models.ParseDate(job.Args.Day)
	if err != nil {
		return river.JobCancel(err)
	}
	if _, err := w.q.store.RefreshDaily(ctx, day.AddDays(-1), day, day.AddDays(-1), w.q.opts.Logger); err != nil {
		return err
	}
	_, err = w.q.client.Insert(ctx, EvaluateArgs{Full: true}, nil)
	return err
}

// RetentionArgs deletes raw usage messages older than the retention (rollups stay).
type RetentionArgs struct {
	Day string `json:"day"`
}

// Kind names the job.
func (RetentionArgs) Kind() string { return "raw_retention" }

// InsertOpts: once per day across every process.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	q *Queue
}

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	n, err := ingest.PruneRaw(ctx, w.q.store, w.q.opts.RawRetention)
	if err != nil {
		return err
	}
	if n > 0 {
		w.q.opts.Logger.Info("raw usage messages pruned", "rows", n)
	}
	return nil
}
