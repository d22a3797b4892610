package jobs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"sightline/alerts"
	"sightline/ingest"
	"sightline/jobs"
	"sightline/models"
	"sightline/models/dbtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// queue starts a job queue on the store, stopped when the test ends.
func queue(t *testing.T, s *models.Store, opts jobs.Options) *jobs.Queue {
	t.Helper()
	opts.Logger, opts.Fast = quiet, true
	if s.Dialect() == models.Postgres {
		opts.DatabaseURL = dbtest.URLOf(t, s)
	}
	q, err := jobs.New(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		q.Stop(ctx)
		q.Close()
	})
	return q
}

// overusedAccount makes "acme" use 6 of its 4 seats today.
func overusedAccount(t *testing.T, s *models.Store, csm string) {
	t.Helper()
	ctx := context.Background()
	today := models.Today()
	if _, err := s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme", ARR: 50000, CSMEmail: csm, LifecycleStage: "adoption"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 4,
		UnitPrice: 415, StartsOn: today.AddDays(-60)}); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	var parts []string
	for i := 1; i <= 6; i++ {
		parts = append(parts, fmt.Sprintf(`{"type":"group","userId":"u%d","groupId":"acme","timestamp":%q},{"type":"track","userId":"u%d","event":"Signed In","timestamp":%q}`, i, ts, i, ts))
	}
	msgs, err := ingest.ParseBatch([]byte(`{"batch":[`+strings.Join(parts, ",")+`]}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Store(ctx, s, msgs, 0); err != nil {
		t.Fatal(err)
	}
}

// receiver is a webhook endpoint that fails its first answers on a path, then accepts.
type receiver struct {
	mu       sync.Mutex
	failures map[string]int
	got      []received
}

type received struct {
	path   string
	header http.Header
	body   []byte
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	status := http.StatusOK
	if rc.failures[r.URL.Path] > 0 {
		rc.failures[r.URL.Path]--
		status = http.StatusServiceUnavailable
	}
	rc.got = append(rc.got, received{r.URL.Path, r.Header.Clone(), body, status})
	w.WriteHeader(status)
}

func (rc *receiver) requests(path string) []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []received
	for _, g := range rc.got {
		if g.path == path {
			out = append(out, g)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fastRetries makes the retry schedule milliseconds long for a test.
func fastRetries(t *testing.T, n int) {
	saved, savedMax := alerts.RetryDelays, alerts.MaxWebhookAttempts
	alerts.RetryDelays = make([]time.Duration, n)
	for i := range alerts.RetryDelays {
		alerts.RetryDelays[i] = 30 * time.Millisecond
	}
	alerts.MaxWebhookAttempts = n + 1
	t.Cleanup(func() { alerts.RetryDelays, alerts.MaxWebhookAttempts = saved, savedMax })
}

// TestWebhooksSignedRetriedAndDelivered: the receiver fails twice, then accepts; every
// attempt carries the same webhook-id and a signature both the Standard Webhooks
// library and a plain HMAC accept; each attempt is logged.
func TestWebhooksSignedRetriedAndDelivered(t *testing.T) {
	fastRetries(t, 5)
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		rc := &receiver{failures: map[string]int{"/std": 2}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ctx := context.Background()
		s.SetBaseURL("https://sightline.example.com")
		std, _, err := s.PutWebhook(ctx, "ops", models.WebhookInput{URL: srv.URL + "/std", Events: []string{"alert.opened", "alert.resolved"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutWebhook(ctx, "slack", models.WebhookInput{URL: srv.URL + "/slack", Events: []string{"alert.opened"}, Format: "slack"}); err != nil {
			t.Fatal(err)
		}
		queue(t, s, jobs.Options{})
		overusedAccount(t, s, "casey@example.com")
		if _, err := s.EvaluateAlerts(ctx, models.Today()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the standard webhook to be accepted", func() bool {
			rs := rc.requests("/std")
			return len(rs) >= 3 && rs[len(rs)-1].status == 200
		})
		waitFor(t, "the slack webhook", func() bool {
			rs := rc.requests("/slack")
			return len(rs) > 0 && rs[len(rs)-1].status == 200
		})
		std3 := rc.requests("/std")
		id := std3[0].header.Get("webhook-id")
		wh, err := standardwebhooks.NewWebhook(std.Secret)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(std.Secret, "whsec_"))
		for _, r := range std3 {
			if r.header.Get("webhook-id") != id || !strings.HasPrefix(id, "msg_") {
				t.Fatalf("webhook-id %q then %q", id, r.header.Get("webhook-id"))
			}
			if err := wh.Verify(r.body, r.header); err != nil {
				t.Fatalf("the library refuses the signature: %v", err)
			}
			mac := hmac.New(sha256.New, key)
			fmt.Fprintf(mac, "%s.%s.%s", r.header.Get("webhook-id"), r.header.Get("webhook-timestamp"), r.body)
			if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.header.Get("webhook-signature") != want {
				t.Fatalf("signature %q, HMAC says %q", r.header.Get("webhook-signature"), want)
			}
		}
		var body struct {
			Type      string           `json:"type"`
			Timestamp time.Time        `json:"timestamp"`
			Data      models.AlertJSON `json:"data"`
		}
		if err := json.Unmarshal(std3[0].body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type != "alert.opened" || body.Data.Account != "acme" || body.Data.Kind != "consumption" ||
			body.Data.Message != "seats: 6 of 4 seats in use (150%), $830 not billed" || body.Data.Owner == nil ||
			!strings.HasPrefix(body.Data.URL, "https://sightline.example.com/accounts/acme") {
			t.Fatalf("body %s", std3[0].body)
		}
		var slack struct{ Text string }
		if err := json.Unmarshal(rc.requests("/slack")[0].body, &slack); err != nil || !strings.Contains(slack.Text, "6 of 4 seats in use") {
			t.Fatalf("slack body %s", rc.requests("/slack")[0].body)
		}
		// The attempt is recorded once the answer is in.
		var acts []models.WebhookActivity
		waitFor(t, "the delivery to be recorded as delivered", func() bool {
			acts, _ = s.RecentDeliveries(ctx, 10)
			for _, a := range acts {
				if a.Webhook.Key == "ops" && len(a.Deliveries) == 1 && a.Deliveries[0].State == models.DeliveryDelivered {
					return true
				}
			}
			return false
		})
		for _, a := range acts {
			if a.Webhook.Key != "ops" {
				continue
			}
			d := a.Deliveries[0]
			if d.State != models.DeliveryDelivered || d.Attempts == nil || len(d.Attempts) != 3 || *d.Attempts[0].Status != 200 || *d.Attempts[2].Status != 503 {
				t.Fatalf("delivery log %+v", d)
			}
		}
	})
}

// TestWebhookGivesUpThenResends: when retries run out the delivery is failed; an
// admin's resend tries once more, with the same webhook-id.
func TestWebhookGivesUpThenResends(t *testing.T) {
	fastRetries(t, 2)
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		rc := &receiver{failures: map[string]int{"/std": 3}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ctx := context.Background()
		if _, _, err := s.PutWebhook(ctx, "ops", models.WebhookInput{URL: srv.URL + "/std", Events: []string{"alert.opened"}}); err != nil {
			t.Fatal(err)
		}
		queue(t, s, jobs.Options{})
		overusedAccount(t, s, "")
		if _, err := s.EvaluateAlerts(ctx, models.Today()); err != nil {
			t.Fatal(err)
		}
		var d models.DeliveryWithAttempts
		waitFor(t, "the delivery to fail for good", func() bool {
			acts, _ := s.RecentDeliveries(ctx, 10)
			if len(acts) == 1 && len(acts[0].Deliveries) == 1 {
				d = acts[0].Deliveries[0]
			}
			return d.State == models.DeliveryFailed
		})
		if len(d.Attempts) != 3 || d.NextAttemptAt != nil {
			t.Fatalf("failed delivery %+v", d)
		}
		if err := s.ResendDelivery(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the resend", func() bool {
			rs := rc.requests("/std")
			return len(rs) == 4 && rs[3].status == 200
		})
		if rs := rc.requests("/std"); rs[3].header.Get("webhook-id") != d.MsgID {
			t.Fatalf("resent as %q, first as %q", rs[3].header.Get("webhook-id"), d.MsgID)
		}
		waitFor(t, "the resend to be recorded", func() bool {
			acts, _ := s.RecentDeliveries(ctx, 10)
			d = acts[0].Deliveries[0]
			return d.State == models.DeliveryDelivered && len(d.Attempts) == 4 && d.Attempts[0].Manual
		})
	})
}

// mailpit returns the SMTP URL and HTTP API of a Mailpit: the one .ci/run started
// (MAILPIT_SMTP, MAILPIT_API), or one started here from the binary.
func mailpit(t *testing.T) (smtpURL, api string) {
	t.Helper()
	if smtp, api := os.Getenv("MAILPIT_SMTP"), os.Getenv("MAILPIT_API"); smtp != "" && api != "" {
		return "smtp://" + smtp, "http://" + api
	}
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		if gobin := filepath.Join(os.Getenv("HOME"), "go", "bin", "mailpit"); fileExists(gobin) {
			bin = gobin
		} else if os.Getenv("SIGHTLINE_REQUIRE_MAILPIT") == "1" {
			t.Fatal("no Mailpit, but SIGHTLINE_REQUIRE_MAILPIT=1")
		} else {
			t.Skip("no Mailpit: go install github.com/axllent/mailpit@v1.33.1")
		}
	}
	smtp, web := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "--smtp", smtp, "--listen", web, "--database", filepath.Join(t.TempDir(), "mail.db"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "Mailpit", func() bool {
		res, err := http.Get("http://" + web + "/api/v1/messages")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	return "smtp://" + smtp, "http://" + web
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// mailsTo lists the messages Mailpit received for an address.
func mailsTo(t *testing.T, api, to string) []struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
} {
	t.Helper()
	res, err := http.Get(api + "/api/v1/search?query=" + "to:" + to)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Messages []struct {
			ID      string `json:"ID"`
			Subject string `json:"Subject"`
		} `json:"messages"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	return out.Messages
}

// TestDigestReachesAMailbox: the digest, sent through a real SMTP server, holds the
// alerts the member owns, with links; a second run has nothing new and sends nothing;
// a member who chose "off" gets none.
func TestDigestReachesAMailbox(t *testing.T) {
	smtpURL, api := mailpit(t)
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		run := fmt.Sprintf("%d", time.Now().UnixNano())
		owner, off := "casey-"+run+"@example.com", "omar-"+run+"@example.com"
		m, err := s.CreateTeamMember(ctx, owner, "Casey Jones", models.RoleCSM, "pw-casey")
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.CreateTeamMember(ctx, off, "Omar", models.RoleCSM, "pw-omar")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetDigest(ctx, o.ID, models.DigestOff); err != nil {
			t.Fatal(err)
		}
		s.SetBaseURL("https://sightline.example.com")
		mailer, err := alerts.NewMailer(smtpURL, "sightline@example.com")
		if err != nil {
			t.Fatal(err)
		}
		q := queue(t, s, jobs.Options{Mailer: mailer})
		overusedAccount(t, s, owner)
		if _, err := s.EvaluateAlerts(ctx, models.Today()); err != nil {
			t.Fatal(err)
		}
		done, cancel := q.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
		defer cancel()
		if err := q.SendDigestsNow(ctx); err != nil {
			t.Fatal(err)
		}
		waitForDigests(t, done, 1) // one per member whose digest is on
		msgs := mailsTo(t, api, owner)
		if len(msgs) != 1 || msgs[0].Subject != "Sightline: 1 alert needs you" {
			t.Fatalf("messages to %s: %+v", owner, msgs)
		}
		res, err := http.Get(api + "/api/v1/message/" + msgs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var full struct{ Text, HTML string }
		json.NewDecoder(res.Body).Decode(&full)
		res.Body.Close()
		for _, want := range []string{"Hello Casey", "seats: 6 of 4 seats in use (150%), $830 not billed", "https://sightline.example.com/accounts/acme", "https://sightline.example.com/alerts"} {
			if !strings.Contains(full.Text, want) || !strings.Contains(full.HTML, want) {
				t.Fatalf("digest lacks %q:\n%s\n%s", want, full.Text, full.HTML)
			}
		}
		if n := len(mailsTo(t, api, off)); n != 0 {
			t.Fatalf("%d digests to a member who chose off", n)
		}
		// Nothing new since: no second e-mail.
		if err := q.SendDigestsNow(ctx); err != nil {
			t.Fatal(err)
		}
		waitForDigests(t, done, 1)
		if n := len(mailsTo(t, api, owner)); n != 1 {
			t.Fatalf("%d digests after a run with nothing new", n)
		}
		if m2, _ := s.TeamMemberByID(ctx, m.ID); m2.DigestSentAt == nil {
			t.Fatal("the digest was not recorded")
		}
	})
}

// waitForDigests waits for a digest run and its n member jobs.
func waitForDigests(t *testing.T, events <-chan *river.Event, n int) {
	t.Helper()
	members, run := 0, false
	timeout := time.After(20 * time.Second)
	for !run || members < n {
		select {
		case ev := <-events:
			if ev.Kind == river.EventKindJobFailed {
				t.Fatalf("job %s failed: %v", ev.Job.Kind, ev.Job.Errors)
			}
			switch ev.Job.Kind {
			case "digest_run":
				run = true
			case "digest":
				members++
			}
		case <-timeout:
			t.Fatalf("digest run %v, %d member digests", run, members)
		}
	}
}

// TestBackgroundWorkRunsOnce: two processes with queues started on one database; a
// day's snapshot job queued by both runs once.
func TestBackgroundWorkRunsOnce(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		overusedAccount(t, a, "")
		qa, qb := queue(t, a, jobs.Options{}), queue(t, b, jobs.Options{})
		ctx := context.Background()
		day := models.Today().String()
		for _, q := range []*jobs.Queue{qa, qb, qa, qb} {
			if _, err := q.Client().Insert(ctx, jobs.SnapshotArgs{Day: day}, nil); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the snapshot job", func() bool {
			res, err := qa.Client().JobList(ctx, river.NewJobListParams().Kinds("health_snapshots").States(rivertype.JobStateCompleted))
			return err == nil && len(res.Jobs) == 1
		})
		res, err := qa.Client().JobList(ctx, river.NewJobListParams().Kinds("health_snapshots"))
		if err != nil || len(res.Jobs) != 1 {
			t.Fatalf("%d snapshot jobs (%v)", len(res.Jobs), err)
		}
		// It queued a full evaluation, which opened the alert once.
		waitFor(t, "the evaluation after the snapshots", func() bool {
			list, _ := a.ListAlerts(ctx, models.AlertFilter{Kinds: []string{"consumption"}})
			return len(list) == 1
		})
		var n int64
		a.DB().Raw("SELECT count(*) FROM health_snapshots WHERE day = ?", day).Scan(&n)
		if n != 1 {
			t.Fatalf("%d snapshots of acme today", n)
		}
	})
}

// TestScheduleRunsOnStart: serve's schedule evaluates the alerts and writes the day's
// snapshots as soon as a process starts, without anyone asking.
func TestScheduleRunsOnStart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		overusedAccount(t, s, "casey@example.com")
		queue(t, s, jobs.Options{Schedule: true})
		ctx := context.Background()
		waitFor(t, "the alert to open on its own", func() bool {
			list, _ := s.ListAlerts(ctx, models.AlertFilter{Kinds: []string{"consumption"}})
			return len(list) == 1
		})
		waitFor(t, "today's snapshot", func() bool {
			var n int64
			s.DB().Raw("SELECT count(*) FROM health_snapshots WHERE day = ?", models.Today()).Scan(&n)
			return n == 1
		})
	})
}

// TestScheduleSkipsSnapshotsJustWritten: a demo that has just written today's snapshots
// starts its schedule without redoing them; the alerts are still evaluated at start.
func TestScheduleSkipsSnapshotsJustWritten(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		overusedAccount(t, s, "casey@example.com")
		q := queue(t, s, jobs.Options{Schedule: true, SnapshotsDone: true})
		ctx := context.Background()
		waitFor(t, "the alert to open on its own", func() bool {
			list, _ := s.ListAlerts(ctx, models.AlertFilter{Kinds: []string{"consumption"}})
			return len(list) == 1
		})
		res, err := q.Client().JobList(ctx, river.NewJobListParams().Kinds("health_snapshots"))
		if err != nil || len(res.Jobs) != 0 {
			t.Fatalf("%d snapshot jobs at start (%v)", len(res.Jobs), err)
		}
	})
}

// TestJobOfAKilledProcessRunsElsewhere: a process that took the day's snapshot job and
// was killed (kill -9 leaves the job "running", attempted hours ago) does not lose it:
// another process's River rescues it and runs it. PostgreSQL only: processes share a
// database there (one process owns a SQLite file).
func TestJobOfAKilledProcessRunsElsewhere(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		if a.Dialect() != models.Postgres {
			t.Skip("one process owns a SQLite file")
		}
		overusedAccount(t, a, "")
		ctx := context.Background()
		dead, err := jobs.New(ctx, a, jobs.Options{Logger: quiet, DatabaseURL: dbtest.URLOf(t, a)})
		if err != nil {
			t.Fatal(err)
		}
		defer dead.Close()
		day := models.Today().String()
		if _, err := dead.Client().Insert(ctx, jobs.SnapshotArgs{Day: day}, nil); err != nil {
			t.Fatal(err)
		}
		// What its worker had done before the process died: taken the job, 2 hours ago.
		err = a.DB().Exec("UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '2 hours'," +
			" attempted_by = ARRAY['killed-host'] WHERE kind = 'health_snapshots'").Error
		if err != nil {
			t.Fatal(err)
		}
		q := queue(t, b, jobs.Options{})
		waitFor(t, "the rescued snapshot job to complete", func() bool {
			res, err := q.Client().JobList(ctx, river.NewJobListParams().Kinds("health_snapshots").States(rivertype.JobStateCompleted))
			return err == nil && len(res.Jobs) == 1
		})
		var n int64
		b.DB().Raw("SELECT count(*) FROM health_snapshots WHERE day = ?", day).Scan(&n)
		if n != 1 {
			t.Fatalf("%d snapshots of acme today after the rescue", n)
		}
	})
}
