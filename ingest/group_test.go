package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// counts is what the raw messages and the rollups hold, for exact assertions.
type counts struct {
	Raw, Messages, Events, Devices int
	Duration, Quantity             float64
}

func countsOf(t *testing.T, s *models.Store) counts {
	t.Helper()
	var c counts
	db := s.DB()
	db.Raw("SELECT count(*) FROM usage_messages").Scan(&c.Raw)
	db.Raw("SELECT COALESCE(sum(messages), 0) FROM usage_user_days").Scan(&c.Messages)
	db.Raw("SELECT COALESCE(sum(events), 0) FROM usage_user_event_days").Scan(&c.Events)
	db.Raw("SELECT COALESCE(sum(duration_seconds), 0) FROM usage_user_event_days").Scan(&c.Duration)
	db.Raw("SELECT COALESCE(sum(quantity), 0) FROM usage_user_meter_days").Scan(&c.Quantity)
	db.Raw("SELECT count(*) FROM usage_user_device_days").Scan(&c.Devices)
	return c
}

// testBatch is n track messages of 7 users (a device each), with a duration and
// a metered quantity, ids prefixed so batches can overlap on purpose.
func testBatch(t *testing.T, prefix string, from, n int) []Message {
	t.Helper()
	ts := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour) // one day for all
	var parts []string
	for i := from; i < from+n; i++ {
		parts = append(parts, fmt.Sprintf(`{"type":"track","messageId":"%s-%d","userId":"u%d","event":"%s","timestamp":%q,"context":{"device":{"id":"d%d"}},"properties":{"duration_seconds":2,"meter":"calls","quantity":3}}`,
			prefix, i, i%7, UsageReportedEvent, ts.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%7))
	}
	msgs, err := ParseBatch([]byte(`{"batch":[`+strings.Join(parts, ",")+`]}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// twoInstances are two writers of one database: on PostgreSQL each with a pool of its
// own, as two server processes would have (SQLite has one writer per process).
func twoInstances(t *testing.T, s *models.Store) []*Writer {
	t.Helper()
	if s.Dialect() == models.Postgres {
		return []*Writer{NewWriter(s), NewWriter(dbtest.OpenAgain(t, s))}
	}
	return []*Writer{NewWriter(s), NewWriter(s)}
}

func want(n int) counts {
	return counts{Raw: n, Messages: n, Events: n, Devices: min(n, 7), Duration: 2 * float64(n), Quantity: 3 * float64(n)}
}

// TestCrashBeforeCommit: a group whose transaction dies before COMMIT leaves nothing
// behind, raw messages included; the client's retry then counts everything once.
func TestCrashBeforeCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		w := NewWriter(s)
		if _, err := w.Write(ctx, testBatch(t, "b", 0, 20), 0); err != nil {
			t.Fatal(err)
		}
		crash := errors.New("killed")
		commitFault = func() error { return crash }
		_, err := w.Write(ctx, testBatch(t, "b", 10, 20), 0)
		commitFault = nil
		if !errors.Is(err, crash) {
			t.Fatalf("write during a failing commit: %v", err)
		}
		if got := countsOf(t, s); got != want(20) {
			t.Fatalf("after the failed commit: %+v, want %+v", got, want(20))
		}
		// The client retries on the 503: half of it was stored before, half is new.
		res, err := w.Write(ctx, testBatch(t, "b", 10, 20), 0)
		if err != nil || res.Accepted != 10 || res.Duplicates != 10 {
			t.Fatalf("retry: %+v, %v", res, err)
		}
		if got := countsOf(t, s); got != want(30) {
			t.Fatalf("after the retry: %+v, want %+v", got, want(30))
		}
	})
}

// TestRetriesInOneGroup: copies of a batch committed in one group, or racing in
// concurrent groups (two instances on PostgreSQL), count once, and each request is
// told how many of its messages were new.
func TestRetriesInOneGroup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		writers := twoInstances(t, s)
		var wg sync.WaitGroup
		results := make(chan Result, 16)
		for c := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := writers[c%2].Write(ctx, testBatch(t, "r", 5*(c%4), 30), 0)
				if err != nil {
					t.Error(err)
				}
				results <- res
			}()
		}
		wg.Wait()
		close(results)
		accepted := 0
		for r := range results {
			if r.Accepted+r.Duplicates != 30 {
				t.Errorf("result %+v does not account for 30 messages", r)
			}
			accepted += r.Accepted
		}
		if got := countsOf(t, s); accepted != 45 || got != want(45) {
			t.Fatalf("accepted %d, stored %+v, want 45: %+v", accepted, got, want(45))
		}
	})
}

// TestAnswerFollowsTheRollups: concurrent writers (two instances on PostgreSQL, with
// their own pools) find their own messages counted the moment Write returns, while
// other requests share their groups.
func TestAnswerFollowsTheRollups(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		writers := twoInstances(t, s)
		const clients, batches, size = 8, 6, 25
		var wg sync.WaitGroup
		errs := make(chan error, clients*batches)
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := writers[c%2]
				user := fmt.Sprintf("client-%d", c)
				for b := range batches {
					var parts []string
					for i := range size {
						parts = append(parts, fmt.Sprintf(`{"type":"page","messageId":"%s-%d-%d","userId":%q,"name":"Home","timestamp":%q}`,
							user, b, i, user, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)))
					}
					msgs, err := ParseBatch([]byte(`{"batch":[`+strings.Join(parts, ",")+`]}`), time.Now())
					if err == nil {
						_, err = w.Write(ctx, msgs, 0)
					}
					if err != nil {
						errs <- err
						return
					}
					var n int
					s.DB().Raw(`SELECT COALESCE(sum(d.messages), 0) FROM usage_user_days d JOIN end_users u ON u.id = d.end_user_id
						WHERE u.user_key = ?`, user).Scan(&n)
					if n != (b+1)*size {
						errs <- fmt.Errorf("%s: %d counted right after batch %d was acknowledged, want %d", user, n, b, (b+1)*size)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := countsOf(t, s); got.Raw != clients*batches*size || got.Messages != got.Raw {
			t.Fatalf("totals %+v", got)
		}
	})
}

// TestIdentifyCallsInOneGroup: identify calls applied together behave as if they had
// arrived one by one: the latest by timestamp wins, and traits it leaves out keep the
// value an earlier call gave them.
func TestIdentifyCallsInOneGroup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		at := func(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
		msgs, err := ParseBatch([]byte(`{"batch":[
			{"type":"identify","messageId":"i3","userId":"u","timestamp":"`+at(3)+`","traits":{"email":"new@x.test"}},
			{"type":"identify","messageId":"i1","userId":"u","timestamp":"`+at(1)+`","traits":{"email":"old@x.test","department":"Sales","level":"manager"}},
			{"type":"identify","messageId":"i2","userId":"u","timestamp":"`+at(2)+`","traits":{"level":"executive"}},
			{"type":"group","messageId":"g2","userId":"u","groupId":"new-co","timestamp":"`+at(2)+`"},
			{"type":"group","messageId":"g1","userId":"u","groupId":"old-co","timestamp":"`+at(1)+`"}]}`), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Store(context.Background(), s, msgs, 0); err != nil {
			t.Fatal(err)
		}
		var u models.EndUser
		s.DB().Where("user_key = ?", "u").Take(&u)
		if u.Email != "new@x.test" || u.Department != "Sales" || u.Level != "executive" || u.GroupKey == nil || *u.GroupKey != "new-co" {
			t.Fatalf("user %+v", u)
		}
	})
}

// TestMembershipFoldMatchesOneByOne: random group and identify calls of a few users,
// stored in random requests, end where applying each request's calls one at a time
// in timestamp order does (the rule membershipUpdates folds into one statement),
// including calls older than what an earlier request stored, and equal timestamps.
func TestMembershipFoldMatchesOneByOne(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		rng := rand.New(rand.NewPCG(7, 11))
		t0 := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
		type state struct {
			group                          string
			groupAt, traitsAt              time.Time
			email, name, department, level string
		}
		model := map[string]*state{}
		levels := []string{"manager", "Executive", "individual contributor"}
		n := 0
		for req := range 150 {
			var calls []string
			type call struct {
				user, group string
				at          time.Time
				traits      map[string]string
			}
			var batch []call
			for range 1 + rng.IntN(6) {
				// New users keep coming (PostgreSQL inserts them with their values); times
				// give ties, and calls older than what an earlier request stored.
				c := call{user: fmt.Sprintf("u%d", rng.IntN(3+req/5)), at: t0.Add(time.Duration(req+rng.IntN(4)) * time.Minute)}
				n++
				id := fmt.Sprintf("m%05d", n) // messageId order is arrival order: ties go to the later
				if rng.IntN(3) == 0 {
					c.group = fmt.Sprintf("co-%d", rng.IntN(4))
					calls = append(calls, fmt.Sprintf(`{"type":"group","messageId":%q,"userId":%q,"groupId":%q,"timestamp":%q}`, id, c.user, c.group, c.at.Format(time.RFC3339)))
				} else {
					c.traits = map[string]string{}
					var parts []string
					for _, k := range []string{"email", "name", "department", "level"} {
						if rng.IntN(2) == 0 {
							v := fmt.Sprintf("%s-%d", k, req)
							if k == "level" {
								v = levels[rng.IntN(len(levels))]
							}
							c.traits[k] = v
							parts = append(parts, fmt.Sprintf("%q:%q", k, v))
						}
					}
					calls = append(calls, fmt.Sprintf(`{"type":"identify","messageId":%q,"userId":%q,"timestamp":%q,"traits":{%s}}`, id, c.user, c.at.Format(time.RFC3339), strings.Join(parts, ",")))
				}
				batch = append(batch, c)
			}
			msgs, err := ParseBatch([]byte(`{"batch":[`+strings.Join(calls, ",")+`]}`), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Store(context.Background(), s, msgs, 0); err != nil {
				t.Fatal(err)
			}
			// The model: this request's calls one at a time, in timestamp order.
			slices.SortStableFunc(batch, func(a, b call) int { return a.at.Compare(b.at) })
			for _, c := range batch {
				st := model[c.user]
				if st == nil {
					st = &state{level: "unknown"}
					model[c.user] = st
				}
				if c.group != "" {
					if st.groupAt.IsZero() || !c.at.Before(st.groupAt) {
						st.group, st.groupAt = c.group, c.at
					}
					continue
				}
				if !st.traitsAt.IsZero() && c.at.Before(st.traitsAt) {
					continue
				}
				st.traitsAt = c.at
				for k, v := range c.traits {
					switch k {
					case "email":
						st.email = v
					case "name":
						st.name = v
					case "department":
						st.department = v
					case "level":
						st.level = models.NormalizeLevel(v)
					}
				}
			}
			for key, st := range model {
				var u models.EndUser
				if err := s.DB().Where("user_key = ?", key).Take(&u).Error; err != nil {
					t.Fatal(err)
				}
				got := state{email: u.Email, name: u.Name, department: u.Department, level: u.Level}
				if u.GroupKey != nil {
					got.group = *u.GroupKey
				}
				if u.GroupAt != nil {
					got.groupAt = u.GroupAt.UTC()
				}
				if u.TraitsAt != nil {
					got.traitsAt = u.TraitsAt.UTC()
				}
				if !got.groupAt.Equal(st.groupAt) || !got.traitsAt.Equal(st.traitsAt) {
					t.Fatalf("request %d, %s: stored group at %v, traits at %v; want %v, %v", req, key, got.groupAt, got.traitsAt, st.groupAt, st.traitsAt)
				}
				got.groupAt, got.traitsAt = st.groupAt, st.traitsAt
				if got != *st {
					t.Fatalf("request %d, %s: stored %+v, want %+v", req, key, got, *st)
				}
			}
		}
	})
}

// TestNewUserInARetriedGroup: a group holding a message stored before is retried
// with a lookup (PostgreSQL), which creates its new users bare: their group and
// traits must still be applied.
func TestNewUserInARetriedGroup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ts := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
		first, err := ParseBatch([]byte(`{"batch":[{"type":"track","messageId":"seen","userId":"u1","event":"x","timestamp":"`+ts+`"}]}`), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Store(context.Background(), s, first, 0); err != nil {
			t.Fatal(err)
		}
		again, err := ParseBatch([]byte(`{"batch":[{"type":"track","messageId":"seen","userId":"u1","event":"x","timestamp":"`+ts+`"},
			{"type":"group","messageId":"g","userId":"u2","groupId":"acme","timestamp":"`+ts+`"},
			{"type":"identify","messageId":"i","userId":"u2","timestamp":"`+ts+`","traits":{"email":"u2@x.test"}}]}`), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res, err := Store(context.Background(), s, again, 0)
		if err != nil || res.Accepted != 2 || res.Duplicates != 1 {
			t.Fatalf("%+v, %v", res, err)
		}
		var u models.EndUser
		s.DB().Where("user_key = ?", "u2").Take(&u)
		if u.GroupKey == nil || *u.GroupKey != "acme" || u.Email != "u2@x.test" {
			t.Fatalf("new user of a retried group: %+v", u)
		}
	})
}

// TestTiesGoToTheLaterRequest: two requests committed in one group, each with an
// identify call of the same user at the same time; the later request's wins on both
// databases, whatever their messageIds, as if each had come on its own.
func TestTiesGoToTheLaterRequest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, store *models.Store) {
		at := time.Now().UTC().Truncate(time.Second)
		identify := func(id, email string) *Message {
			return &Message{Type: "identify", UserKey: "u", MessageID: id, Timestamp: at, HasTraits: true,
				Traits: Traits{Email: email}, Payload: []byte(`{}`)}
		}
		group := []*request{
			{msgs: []*Message{identify("z-first", "first@x.test")}, done: make(chan struct{})},
			{msgs: []*Message{identify("a-second", "second@x.test")}, done: make(chan struct{})},
		}
		NewWriter(store).commitGroup(group)
		for _, r := range group {
			if r.err != nil {
				t.Fatal(r.err)
			}
		}
		var email string
		if err := store.DB().Raw("SELECT email FROM end_users WHERE user_key = 'u'").Scan(&email).Error; err != nil {
			t.Fatal(err)
		}
		if email != "second@x.test" {
			t.Fatalf("email %q, want the later request's", email)
		}
	})
}

// TestDayStoredMeanwhile: another instance commits usage of the same user on the same
// day between a group's two round trips, after the group has read the user: both
// count (PostgreSQL; SQLite has one writer). Only the rows of users the group itself
// created go without ON CONFLICT; a conflict anywhere else would abort the group
// after its COPY, which must then roll back whole and be retried.
func TestDayStoredMeanwhile(t *testing.T) {
	s := dbtest.Postgres(t)
	other := NewWriter(dbtest.OpenAgain(t, s))
	at := time.Now().UTC().Truncate(time.Hour)
	track := func(id string, at time.Time) []Message {
		msgs, err := ParseBatch(fmt.Appendf(nil, `{"batch":[{"type":"track","messageId":%q,"userId":"u","event":"e",
			"timestamp":%q,"context":{"device":{"id":"d"}},"properties":{"duration_seconds":2}}]}`, id, at.Format(time.RFC3339)), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	ctx := context.Background()
	// The user exists (a day earlier), so the other instance need not wait for this
	// group's lock on it.
	if _, err := other.Write(ctx, track("yesterday", at.Add(-24*time.Hour)), 0); err != nil {
		t.Fatal(err)
	}
	var meanwhile error
	fired := false
	commitFault = func() error { // after the group's first round trip
		if !fired {
			fired = true
			_, meanwhile = other.Write(ctx, track("meanwhile", at), 0)
		}
		return nil
	}
	defer func() { commitFault = nil }()
	res, err := NewWriter(s).Write(ctx, track("mine", at), 0)
	if meanwhile != nil {
		t.Fatal(meanwhile)
	}
	if !fired || err != nil || res.Accepted != 1 {
		t.Fatalf("the group whose new day was stored meanwhile: %+v, %v (fired %v)", res, err, fired)
	}
	var day struct{ Messages, Events int }
	s.DB().Raw(`SELECT d.messages, e.events FROM usage_user_days d JOIN usage_user_event_days e USING (end_user_id, day)
		WHERE d.day = ?`, models.EpochDay(at)).Scan(&day)
	if got := countsOf(t, s); day.Messages != 2 || day.Events != 2 || got != (counts{Raw: 3, Messages: 3, Events: 3, Devices: 2, Duration: 6}) {
		t.Fatalf("day %+v (want 2 messages, 2 events), all %+v", day, got)
	}
}

// TestConcurrentGroupsShareNewDays: concurrent groups (two instances on PostgreSQL)
// whose different messages fall on the same user-days, new when they start, all
// commit, and every message counts once.
func TestConcurrentGroupsShareNewDays(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		writers := twoInstances(t, s)
		day := time.Now().UTC().Truncate(24 * time.Hour)
		var wg sync.WaitGroup
		for c := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(c), 1))
				var parts []string
				for i := range 40 { // 10 users on 30 days: each pair of requests shares a few
					at := day.Add(-time.Duration(rng.IntN(30)) * 24 * time.Hour).Add(time.Duration(c) * time.Minute)
					parts = append(parts, fmt.Sprintf(`{"type":"track","messageId":"c%d-%d","userId":"u%d","event":"e%d","timestamp":%q}`,
						c, i, rng.IntN(10), i%4, at.Format(time.RFC3339)))
				}
				msgs, err := ParseBatch([]byte(`{"batch":[`+strings.Join(parts, ",")+`]}`), time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if res, err := writers[c%2].Write(ctx, msgs, 0); err != nil || res.Accepted != 40 {
					t.Errorf("request %d: %+v, %v", c, res, err)
				}
			}()
		}
		wg.Wait()
		if got := countsOf(t, s); got.Raw != 640 || got.Messages != 640 || got.Events != 640 {
			t.Fatalf("stored %+v, want 640 messages counted once", got)
		}
	})
}
