package models

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"sightline/metrics"
)

// snapshotDocs keeps the decoded documents of the snapshots the goal lists read (the
// last two weeks of every account with a goal): decoding them was most of /goals'
// time. Every write to health_snapshots moves the adoption version (a trigger), so the
// copy is emptied whenever that version moves.
type snapshotDocs struct {
	mu      sync.Mutex
	version int64
	docs    map[snapshotKey]*metrics.Result
	read    map[snapshotRange]bool // accounts and ranges whose snapshots are all in docs
}

type snapshotKey struct {
	account int64
	day     metrics.Day
}

type snapshotRange struct {
	account  int64
	from, to Date
}

// snapshotDocsMax bounds the copy; past it, it starts again.
const snapshotDocsMax = 50_000

type snapshotDoc struct {
	account int64
	day     metrics.Day
	result  *metrics.Result
}

// snapshotDocs returns the decoded snapshots of the accounts from … to, by account and
// day; only accounts whose range is not in the copy are read and decoded.
func (s *Store) snapshotDocs(ctx context.Context, ids []int64, from, to Date) ([]snapshotDoc, error) {
	ctx = Primary(ctx) // the versions and the copy from one source: see primaryCopies
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	c := &s.docs
	c.mu.Lock()
	if c.version != v.Adoption || len(c.docs) > snapshotDocsMax {
		c.version, c.docs, c.read = v.Adoption, map[snapshotKey]*metrics.Result{}, map[snapshotRange]bool{}
	}
	docs, read := c.docs, c.read // the maps of version v, even if a later call replaces them
	var missing []int64
	for _, id := range ids {
		if !read[snapshotRange{id, from, to}] {
			missing = append(missing, id)
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
	var out []snapshotDoc
	c.mu.Lock()
	defer c.mu.Unlock()
	maps.Copy(docs, decoded)
	for _, id := range missing {
		read[snapshotRange{id, from, to}] = true
	}
	for _, id := range ids {
		for day := metricsDay(from); day <= metricsDay(to); day++ {
			k := snapshotKey{id, day}
			r := docs[k]
			if r != nil {
				out = append(out, snapshotDoc{id, day, r})
			}
		}
	}
	return sortDocs(out), nil
}

func sortDocs(docs []snapshotDoc) []snapshotDoc {
	slices.SortFunc(docs, func(a, b snapshotDoc) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.day, b.day))
	})
	return docs
}
