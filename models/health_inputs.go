package models

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5/pgtype"

	"sightline/metrics"
)

// The health inputs come from the daily rollups only, never from usage_messages: a
// page view reads one account's users (end_users.group_key = the account key, so a
// late or moved group call re-attributes all their usage) and their rollup rows in
// the window, through the rollups' (end_user_id, day) primary keys.

// healthAccount is the id and key of an account whose inputs are loaded.
type healthAccount struct {
	ID  int64
	Key string
}

// metricsDay converts a business date to the rollups' day; unset stays 0 (unset).
func metricsDay(d Date) metrics.Day {
	if d.IsZero() {
		return 0
	}
	return metrics.Day(d.EpochDay())
}

// loadMetricsCatalog reads the feature catalog in the shape metrics wants (callers
// use healthSettings, which keeps a checked copy).
func (s *Store) loadMetricsCatalog(ctx context.Context) ([]metrics.Feature, error) {
	fs, err := s.allFeatures(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.Feature, len(fs))
	for i, f := range fs {
		out[i] = metricsFeature(f)
	}
	return out, nil
}

// entitlementsOf lists the accounts' entitlements ordered by key, product keys and
// features filled in, in one query (a row per listed feature) instead of three.
func (s *Store) entitlementsOf(ctx context.Context, accountIDs []int64, accountKeys map[int64]string) ([]Entitlement, error) {
	var es []Entitlement
	var e Entitlement
	var feature sql.NullString
	err := s.eachRow(ctx, `SELECT e.id, e.account_id, e.key, e.product_id, p.key, e.model, e.quantity, e.unit,
			e.unit_price, e.starts_on, e.ends_on, e.created_at, e.updated_at, f.key
		FROM entitlements e JOIN products p ON p.id = e.product_id
		LEFT JOIN entitlement_features ef ON ef.entitlement_id = e.id
		LEFT JOIN features f ON f.id = ef.feature_id
		WHERE e.account_id IN ? ORDER BY e.key, e.account_id, f.key`, []any{accountIDs},
		[]any{&e.ID, &e.AccountID, &e.Key, &e.ProductID, &e.Product, &e.Model, &e.Quantity, &e.Unit,
			&e.UnitPrice, &e.StartsOn, &e.EndsOn, &e.CreatedAt, &e.UpdatedAt, &feature},
		func() {
			if n := len(es); n == 0 || es[n-1].ID != e.ID {
				e.Account, e.Features = accountKeys[e.AccountID], []string{}
				es = append(es, e)
			}
			if feature.Valid {
				last := &es[len(es)-1]
				last.Features = append(last.Features, feature.String)
			}
		})
	if err != nil {
		return nil, fmt.Errorf("store: unable to list entitlements for health: %w", err)
	}
	return es, nil
}

// maxListedUsers bounds the users whose events are read by id rather than by account.
const maxListedUsers = 5000

// loadHealthInputs reads what metrics needs for some accounts and the usage days
// from..to (callers include the 29 days before the first day they compute). Meters
// are read from the earliest start of the accounts' metered entitlements instead,
// and only for accounts that have one; devices only for accounts with a device
// entitlement. A few queries serve the whole list of accounts. The accounts'
// entitlements come back too, by account key, for pages that list them.
func (s *Store) loadHealthInputs(ctx context.Context, accounts []healthAccount, from, to metrics.Day, catalog []metrics.Feature) (map[string]*metrics.Inputs, map[string][]Entitlement, error) {
	return s.loadHealthInputsFor(ctx, accounts, from, to, from, nil, catalog)
}

// loadHealthInputsFor is loadHealthInputs where only the days from fullFrom need every
// event: before it, only the events named in seriesEvents (the login and session
// events the account page's 90-day charts use) are read.
func (s *Store) loadHealthInputsFor(ctx context.Context, accounts []healthAccount, from, to, fullFrom metrics.Day, seriesEvents []string, catalog []metrics.Feature) (map[string]*metrics.Inputs, map[string][]Entitlement, error) {
	out := make(map[string]*metrics.Inputs, len(accounts))
	ents := make(map[string][]Entitlement, len(accounts))
	if len(accounts) == 0 {
		return out, ents, nil
	}
	db := s.db.WithContext(ctx)
	ids := make([]int64, len(accounts))
	keys := make([]string, len(accounts))
	keyOf := make(map[int64]string, len(accounts))
	for i, a := range accounts {
		ids[i], keys[i], keyOf[a.ID] = a.ID, a.Key, a.Key
		out[a.Key] = &metrics.Inputs{Account: a.Key, Catalog: catalog}
	}

	es, err := s.entitlementsOf(ctx, ids, keyOf)
	if err != nil {
		return nil, nil, err
	}
	var meterKeys, deviceKeys []string
	meterFrom, seenMeter := to, map[string]bool{}
	seenDevice := map[string]bool{}
	for _, e := range es {
		ents[e.Account] = append(ents[e.Account], e)
		in := out[e.Account]
		in.Entitlements = append(in.Entitlements, metrics.Entitlement{
			Key: e.Key, Product: e.Product, Features: e.Features, Model: e.Model, Quantity: e.Quantity,
			Unit: e.Unit, UnitPrice: e.UnitPrice, StartsOn: metricsDay(e.StartsOn), EndsOn: metricsDay(e.EndsOn),
		})
		switch e.Model {
		case "metered", "usage", "outcome":
			if !seenMeter[e.Account] {
				seenMeter[e.Account] = true
				meterKeys = append(meterKeys, e.Account)
			}
			start := metrics.Day(-1 << 30) // no start: everything reported up to the day
			if !e.StartsOn.IsZero() {
				start = metricsDay(e.StartsOn)
			}
			meterFrom = min(meterFrom, start)
		case "device":
			if !seenDevice[e.Account] {
				seenDevice[e.Account] = true
				deviceKeys = append(deviceKeys, e.Account)
			}
		}
	}

	accountOf := map[int64]*metrics.Inputs{}
	var u metrics.User
	var groupKey string
	err = s.eachRow(ctx, "SELECT id, group_key, department, level FROM end_users WHERE group_key IN ?", []any{keys},
		[]any{&u.ID, &groupKey, &u.Department, &u.Level}, func() {
			in := out[groupKey]
			accountOf[u.ID] = in
			in.Users = append(in.Users, u)
		})
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to list end users for health: %w", err)
	}
	if len(accountOf) == 0 {
		return out, ents, nil
	}

	const byAccount = " JOIN end_users u ON u.id = r.end_user_id WHERE u.group_key IN ? AND r.day BETWEEN ? AND ?"
	var a metrics.Activity
	var day int
	var mask int64
	active := map[int64]bool{}
	err = s.eachRow(ctx, "SELECT r.end_user_id, r.day, r.messages, r.hours_mask FROM usage_user_days r"+byAccount,
		[]any{keys, int(from), int(to)}, []any{&a.User, &day, &a.Messages, &mask}, func() {
			a.Day, a.HoursMask = metrics.Day(day), uint32(mask)
			in := accountOf[a.User]
			in.Activity = append(in.Activity, a)
			active[a.User] = true
		})
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to read daily usage for health: %w", err)
	}
	// Every track message adds a usage_user_days row for its user and day in the same
	// transaction as its event row, so only users with a day in the window have events
	// in it. On PostgreSQL a page's account reads only their index ranges (most of an
	// account's users are idle in a given month); SQLite, which takes no array, and
	// the snapshot job's thousands of accounts keep the join.
	if len(active) > 0 { // no usage days, no events
		eventsQuery, eventsArgs := "SELECT r.end_user_id, r.day, r.event_name, r.events, r.duration_seconds FROM usage_user_event_days r"+byAccount,
			[]any{keys, int(from), int(to)}
		if s.dialect == Postgres && len(active) <= maxListedUsers {
			ids := slices.Sorted(maps.Keys(active))
			eventsQuery = "SELECT r.end_user_id, r.day, r.event_name, r.events, r.duration_seconds FROM usage_user_event_days r" +
				" WHERE r.end_user_id = ANY(?) AND r.day BETWEEN ? AND ?"
			// A struct, so GORM passes the array as one parameter instead of expanding it.
			eventsArgs = []any{pgtype.Array[int64]{Elements: ids, Dims: []pgtype.ArrayDimension{{Length: int32(len(ids)), LowerBound: 1}}, Valid: true},
				int(from), int(to)}
		}
		if fullFrom > from && len(seriesEvents) > 0 {
			eventsQuery += " AND (r.day >= ? OR r.event_name IN ?)"
			eventsArgs = append(eventsArgs, int(fullFrom), seriesEvents)
		}
		var e metrics.EventDay
		err = s.eachRow(ctx, eventsQuery, eventsArgs, []any{&e.User, &day, &e.Name, &e.Events, &e.DurationSeconds}, func() {
			e.Day = metrics.Day(day)
			in := accountOf[e.User]
			in.Events = append(in.Events, e)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("store: unable to read event usage for health: %w", err)
		}
	}

	if len(deviceKeys) > 0 {
		var devices []struct {
			EndUserID int64
			Day       int
			DeviceID  string
		}
		err = db.Raw("SELECT r.end_user_id, r.day, r.device_id FROM usage_user_device_days r"+byAccount, deviceKeys, int(from), int(to)).Scan(&devices).Error
		if err != nil {
			return nil, nil, fmt.Errorf("store: unable to read device usage for health: %w", err)
		}
		for _, d := range devices {
			in := accountOf[d.EndUserID]
			in.Devices = append(in.Devices, metrics.DeviceDay{User: d.EndUserID, Day: metrics.Day(d.Day), DeviceID: d.DeviceID})
		}
	}

	if len(meterKeys) > 0 {
		var meters []struct {
			EndUserID int64
			Day       int
			Meter     string
			Quantity  float64
		}
		err = db.Raw("SELECT r.end_user_id, r.day, r.meter, r.quantity FROM usage_user_meter_days r"+byAccount, meterKeys, int(meterFrom), int(to)).Scan(&meters).Error
		if err != nil {
			return nil, nil, fmt.Errorf("store: unable to read metered usage for health: %w", err)
		}
		for _, m := range meters {
			in := accountOf[m.EndUserID]
			in.Meters = append(in.Meters, metrics.MeterDay{User: m.EndUserID, Day: metrics.Day(m.Day), Meter: m.Meter, Quantity: m.Quantity})
		}
	}
	return out, ents, nil
}
