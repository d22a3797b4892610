package models

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"sightline/metrics"
)

// snapshotDocs keeps the decoded documents of the snapshots the goal lists read (the
// last two weeks of every account with a goal): decoding them was most of /goals'
// time. A stored snapshot changes only when a snapshot run rewrites it, and every run
// moves the portfolio version (it rewrites account_health_latest), so the copy is
// emptied whenever that version moves.
type snapshotDocs struct {
	mu      sync.Mutex
	version int64
	docs    map[snapshotKey]*metrics.Result
}

type snapshotKey struct {
	account int64
	day     metrics.Day
}

// snapshotDocsMax bounds the copy; past it, it starts again.
const snapshotDocsMax = 50_000

type snapshotDoc struct {
	account int64
	day     metrics.Day
	result  *metrics.Result
}

// snapshotDocs returns the decoded snapshots of the accounts from … to, by account and
// day; only those not in the copy are read whole and decoded.
func (s *Store) snapshotDocs(ctx context.Context, ids []int64, from, to Date) ([]snapshotDoc, error) {
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	var keys []snapshotKey
	var id int64
	var day Date
	err = s.eachRow(ctx, "SELECT account_id, day FROM health_snapshots WHERE account_id IN ? AND day BETWEEN ? AND ?",
		[]any{ids, from, to}, []any{&id, &day}, func() { keys = append(keys, snapshotKey{id, metricsDay(day)}) })
	if err != nil {
		return nil, fmt.Errorf("store: unable to list goal snapshots: %w", err)
	}
	c := &s.docs
	c.mu.Lock()
	if c.version != v.Portfolio || len(c.docs) > snapshotDocsMax {
		c.version, c.docs = v.Portfolio, map[snapshotKey]*metrics.Result{}
	}
	var missing []int64
	seen := map[int64]bool{}
	for _, k := range keys {
		if c.docs[k] == nil && !seen[k.account] {
			seen[k.account] = true
			missing = append(missing, k.account)
		}
	}
	c.mu.Unlock()
	decoded := map[snapshotKey]*metrics.Result{}
	if len(missing) > 0 {
		var rows []HealthSnapshot
		err := s.db.WithContext(ctx).Select("account_id, day, metrics").
			Where("account_id IN ? AND day BETWEEN ? AND ?", missing, from, to).Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("store: unable to read goal metrics: %w", err)
		}
		for _, row := range rows {
			r, err := row.Result()
			if err != nil {
				return nil, err
			}
			decoded[snapshotKey{row.AccountID, metricsDay(row.Day)}] = &r
		}
	}
	out := make([]snapshotDoc, 0, len(keys))
	c.mu.Lock()
	for _, k := range keys {
		r := decoded[k]
		if r != nil && c.version == v.Portfolio {
			c.docs[k] = r
		} else if r == nil {
			r = c.docs[k]
		}
		if r != nil {
			out = append(out, snapshotDoc{k.account, k.day, r})
		}
	}
	c.mu.Unlock()
	return sortDocs(out), nil
}

func sortDocs(docs []snapshotDoc) []snapshotDoc {
	slices.SortFunc(docs, func(a, b snapshotDoc) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.day, b.day))
	})
	return docs
}
