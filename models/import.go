package models

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sort"
	"time"

	"gorm.io/gorm"
)

// ImportResult tells what a CSV import wrote.
type ImportResult struct {
	Kind string `json:"kind"`
	Rows int    `json:"rows"`
}

// ImportCSV loads a CSV file of one kind: every row is upserted by key, or, when any
// row is refused, nothing is written and the *ValidationError lists every problem
// by line. Rows are checked first (ParseImportCSV, then keys against the database
// with one query per table), then written in one transaction with multi-row
// statements, so a large book costs a few hundred statements, not several per row.
func (s *Store) ImportCSV(ctx context.Context, kind string, r io.Reader) (ImportResult, error) {
	b, ie, err := parseImportCSV(kind, r)
	if err != nil {
		return ImportResult{Kind: kind}, err
	}
	if b == nil { // the header or the CSV itself is unusable
		return ImportResult{Kind: kind}, ie.orNil()
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		switch kind {
		case KindAccounts:
			if err := importAccounts(tx, b, ie); err != nil {
				return err
			}
			return syncRenewalOn(tx, nil) // renewal_on follows pending renewals
		case KindFeatures:
			return importFeatures(tx, b, ie)
		case KindRenewals:
			return importRenewals(tx, b, ie)
		default:
			return importEntitlements(tx, b, ie)
		}
	})
	s.backtests.reset()
	if err != nil {
		return ImportResult{Kind: kind}, err
	}
	return ImportResult{Kind: kind, Rows: b.Len()}, nil
}

// bulkChunk keeps every statement under SQLite's 32,766 parameters (and PostgreSQL's 65,535).
const bulkParams = 30000

// sqliteParams bounds the parameters of one SQLite statement: its driver
// (glebarez/go-sqlite) finds each parameter's value by a scan of all of them, so the
// cost of a statement grows with the square of its parameters; a few hundred keeps
// that below the cost of preparing another statement.
const sqliteParams = 320

// bulkWrite runs head + "(…),(…)…" + tail once per chunk of rows, through Bulk. row
// appends the width values of row i; scan, when set, reads each row the statement returns.
func bulkWrite(tx *gorm.DB, head, tail string, width, n int, row func(i int, args []any) []any, scan func(*sql.Rows) error) error {
	ctx := tx.Statement.Context
	chunk := bulkParams / width
	if !IsPostgres(tx) {
		chunk = max(1, sqliteParams/width)
	}
	args := make([]any, 0, width)
	for start := 0; start < n; start += chunk {
		b := NewBulk(tx, head)
		for i := start; i < min(start+chunk, n); i++ {
			args = row(i, args[:0])
			b.Row(args...)
		}
		b.SQL(tail)
		if scan == nil {
			if _, err := b.Exec(ctx, tx); err != nil {
				return err
			}
			continue
		}
		rows, err := b.Query(ctx, tx)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteWhereIn deletes rows whose column is one of ids, in chunks.
func deleteWhereIn(tx *gorm.DB, table, column string, ids []int64) error {
	const chunk = 5000
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		if err := tx.Exec("DELETE FROM "+table+" WHERE "+column+" IN ?", part).Error; err != nil {
			return err
		}
	}
	return nil
}

func importAccounts(tx *gorm.DB, b *ImportBatch, ie *importErrors) error {
	if err := ie.orNil(); err != nil {
		return err
	}
	now := time.Now().UTC()
	err := bulkWrite(tx,
		"INSERT INTO accounts (key, name, arr, renewal_on, lifecycle_stage, segment, csm_email, created_at, updated_at) VALUES ",
		" ON CONFLICT (key) DO UPDATE SET name = excluded.name, arr = excluded.arr, renewal_on = excluded.renewal_on,"+
			" lifecycle_stage = excluded.lifecycle_stage, segment = excluded.segment, csm_email = excluded.csm_email,"+
			" updated_at = excluded.updated_at",
		9, len(b.Accounts), func(i int, args []any) []any {
			a := &b.Accounts[i]
			return append(args, a.Key, a.Name, a.ARR, a.RenewalOn, a.LifecycleStage, a.Segment, a.CSMEmail, now, now)
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to import accounts: %w", err)
	}
	return nil
}

// productIDs ensures every product key exists and returns the id of every product.
func productIDs(tx *gorm.DB, keys map[string]bool) (map[string]int64, error) {
	ids := map[string]int64{}
	load := func() error {
		var ps []Product
		if err := tx.Find(&ps).Error; err != nil {
			return fmt.Errorf("store: unable to list products: %w", err)
		}
		for _, p := range ps {
			ids[p.Key] = p.ID
		}
		return nil
	}
	if err := load(); err != nil {
		return nil, err
	}
	var missing []string
	for k := range keys {
		if _, ok := ids[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return ids, nil
	}
	err := bulkWrite(tx, "INSERT INTO products (key, name) VALUES ", " ON CONFLICT (key) DO NOTHING", 2, len(missing),
		func(i int, args []any) []any { return append(args, missing[i], missing[i]) }, nil)
	if err != nil {
		return nil, fmt.Errorf("store: unable to create products: %w", err)
	}
	return ids, load()
}

func importFeatures(tx *gorm.DB, b *ImportBatch, ie *importErrors) error {
	if err := ie.orNil(); err != nil {
		return err
	}
	products := map[string]bool{}
	for _, f := range b.Features {
		products[f.Product] = true
	}
	pids, err := productIDs(tx, products)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	featureID := make(map[string]int64, len(b.Features))
	err = bulkWrite(tx,
		"INSERT INTO features (key, name, product_id, key_feature, created_at, updated_at) VALUES ",
		" ON CONFLICT (key) DO UPDATE SET name = excluded.name, product_id = excluded.product_id,"+
			" key_feature = excluded.key_feature, updated_at = excluded.updated_at RETURNING id, key",
		6, len(b.Features), func(i int, args []any) []any {
			f := &b.Features[i]
			return append(args, f.Key, f.Name, pids[f.Product], f.KeyFeature, now, now)
		}, func(rows *sql.Rows) error {
			var id int64
			var key string
			err := rows.Scan(&id, &key)
			featureID[key] = id
			return err
		})
	if err != nil {
		return fmt.Errorf("store: unable to import features: %w", err)
	}
	ids := make([]int64, 0, len(featureID))
	var events []featureEvent
	for _, f := range b.Features {
		ids = append(ids, featureID[f.Key])
		for _, n := range f.EventNames {
			events = append(events, featureEvent{FeatureID: featureID[f.Key], EventName: n})
		}
	}
	if err := deleteWhereIn(tx, "feature_events", "feature_id", ids); err != nil {
		return fmt.Errorf("store: unable to replace event names: %w", err)
	}
	err = bulkWrite(tx, "INSERT INTO feature_events (feature_id, event_name) VALUES ", "", 2, len(events),
		func(i int, args []any) []any { return append(args, events[i].FeatureID, events[i].EventName) }, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write event names: %w", err)
	}
	return nil
}

func importEntitlements(tx *gorm.DB, b *ImportBatch, ie *importErrors) error {
	accountID, _, err := accountKeys(tx)
	if err != nil {
		return err
	}
	productKey, err := productKeys(tx)
	if err != nil {
		return err
	}
	var features []Feature
	if err := tx.Select("id", "key", "product_id").Find(&features).Error; err != nil {
		return fmt.Errorf("store: unable to list features: %w", err)
	}
	featureByKey := make(map[string]Feature, len(features))
	for _, f := range features {
		featureByKey[f.Key] = f
	}

	// Every reference is checked before anything is written, and reported with the
	// file's own problems, by line.
	needProducts := map[string]bool{}
	for i := range b.Entitlements {
		e, line := &b.Entitlements[i], b.Lines[i]
		if _, ok := accountID[e.Account]; !ok {
			ie.add(line, "account", fmt.Sprintf("unknown account %q; import or create the account first", e.Account))
		}
		for _, fk := range e.Features {
			f, ok := featureByKey[fk]
			switch {
			case !ok:
				ie.add(line, "features", fmt.Sprintf("unknown feature %q", fk))
			case productKey[f.ProductID] != e.Product:
				ie.add(line, "features", fmt.Sprintf("feature %q belongs to product %q, not %q", fk, productKey[f.ProductID], e.Product))
			}
		}
		needProducts[e.Product] = true
		if ie.full() {
			break
		}
	}
	sort.SliceStable(ie.verr.Fields, func(i, j int) bool { return ie.verr.Fields[i].Line < ie.verr.Fields[j].Line })
	if err := ie.orNil(); err != nil {
		return err
	}
	pids, err := productIDs(tx, needProducts)
	if err != nil {
		return err
	}

	now := time.Now().UTC()
	type accountKey struct {
		account int64
		key     string
	}
	entitlementID := make(map[accountKey]int64, len(b.Entitlements))
	err = bulkWrite(tx,
		"INSERT INTO entitlements (account_id, key, product_id, model, quantity, unit, unit_price, starts_on, ends_on, created_at, updated_at) VALUES ",
		" ON CONFLICT (account_id, key) DO UPDATE SET product_id = excluded.product_id, model = excluded.model,"+
			" quantity = excluded.quantity, unit = excluded.unit, unit_price = excluded.unit_price,"+
			" starts_on = excluded.starts_on, ends_on = excluded.ends_on, updated_at = excluded.updated_at"+
			" RETURNING id, account_id, key",
		11, len(b.Entitlements), func(i int, args []any) []any {
			e := &b.Entitlements[i]
			return append(args, accountID[e.Account], e.Key, pids[e.Product], e.Model, e.Quantity, e.Unit,
				e.UnitPrice, e.StartsOn, e.EndsOn, now, now)
		}, func(rows *sql.Rows) error {
			var k accountKey
			var id int64
			err := rows.Scan(&id, &k.account, &k.key)
			entitlementID[k] = id
			return err
		})
	if err != nil {
		return fmt.Errorf("store: unable to import entitlements: %w", err)
	}
	ids := make([]int64, 0, len(b.Entitlements))
	var links []entitlementFeature
	for i := range b.Entitlements {
		e := &b.Entitlements[i]
		id := entitlementID[accountKey{accountID[e.Account], e.Key}]
		ids = append(ids, id)
		for _, fk := range e.Features {
			links = append(links, entitlementFeature{EntitlementID: id, FeatureID: featureByKey[fk].ID})
		}
	}
	if err := deleteWhereIn(tx, "entitlement_features", "entitlement_id", ids); err != nil {
		return fmt.Errorf("store: unable to replace entitlement features: %w", err)
	}
	err = bulkWrite(tx, "INSERT INTO entitlement_features (entitlement_id, feature_id) VALUES ", "", 2, len(links),
		func(i int, args []any) []any { return append(args, links[i].EntitlementID, links[i].FeatureID) }, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write entitlement features: %w", err)
	}
	return nil
}

// ExportCSV writes every object of a kind in the import format, so that an export
// imported again gives the same state (and the same file).
func (s *Store) ExportCSV(ctx context.Context, kind string, w io.Writer) error {
	switch kind {
	case KindAccounts:
		as, err := s.ListAccountsAfter(ctx, "", 0)
		if err != nil {
			return err
		}
		return WriteAccountsCSV(w, as)
	case KindFeatures:
		fs, err := s.allFeatures(ctx)
		if err != nil {
			return err
		}
		return WriteFeaturesCSV(w, fs)
	case KindEntitlements:
		es, err := s.allEntitlements(ctx)
		if err != nil {
			return err
		}
		return WriteEntitlementsCSV(w, es)
	case KindRenewals:
		rs, err := s.AllRenewals(ctx)
		if err != nil {
			return err
		}
		return WriteRenewalsCSV(w, rs)
	}
	return fmt.Errorf("export %q: %w", kind, ErrNotFound)
}

// allFeatures loads the whole catalog with three queries (no IN list, whatever its size).
func (s *Store) allFeatures(ctx context.Context) ([]Feature, error) {
	return loadFeatures(s.db.WithContext(ctx))
}

// loadFeatures is allFeatures within a transaction.
func loadFeatures(db *gorm.DB) ([]Feature, error) {
	var fs []Feature
	if err := db.Order("key").Find(&fs).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list features: %w", err)
	}
	productKey, err := productKeys(db)
	if err != nil {
		return nil, err
	}
	var events []featureEvent
	if err := db.Order("event_name").Find(&events).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list feature events: %w", err)
	}
	names := map[int64][]string{}
	for _, e := range events {
		names[e.FeatureID] = append(names[e.FeatureID], e.EventName)
	}
	for i := range fs {
		fs[i].Product = productKey[fs[i].ProductID]
		fs[i].EventNames = names[fs[i].ID]
		if fs[i].EventNames == nil {
			fs[i].EventNames = []string{}
		}
	}
	return fs, nil
}

// allEntitlements loads every entitlement with its account, product and feature keys.
func (s *Store) allEntitlements(ctx context.Context) ([]Entitlement, error) {
	db := s.db.WithContext(ctx)
	var es []Entitlement
	err := db.Table("entitlements e").
		Select("e.id, e.account_id, e.key, e.product_id, e.model, e.quantity, e.unit, e.unit_price, e.starts_on, e.ends_on").
		Order("e.id").Scan(&es).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list entitlements: %w", err)
	}
	_, accountKey, err := accountKeys(db)
	if err != nil {
		return nil, err
	}
	productKey, err := productKeys(db)
	if err != nil {
		return nil, err
	}
	feats, err := entitlementFeatureKeys(db)
	if err != nil {
		return nil, err
	}
	for i := range es {
		es[i].Account = accountKey[es[i].AccountID]
		es[i].Product = productKey[es[i].ProductID]
		es[i].Features = feats[es[i].ID]
		if es[i].Features == nil {
			es[i].Features = []string{}
		}
	}
	return es, nil
}

// productKeys maps every product's id to its key.
func productKeys(db *gorm.DB) (map[int64]string, error) {
	var products []Product
	if err := db.Select("id", "key").Find(&products).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list products: %w", err)
	}
	keys := make(map[int64]string, len(products))
	for _, p := range products {
		keys[p.ID] = p.Key
	}
	return keys, nil
}

// accountKeys maps every account's key to its id, and back.
func accountKeys(db *gorm.DB) (map[string]int64, map[int64]string, error) {
	var rows []struct {
		ID  int64
		Key string
	}
	if err := db.Raw("SELECT id, key FROM accounts").Scan(&rows).Error; err != nil {
		return nil, nil, fmt.Errorf("store: unable to list accounts: %w", err)
	}
	ids, keys := make(map[string]int64, len(rows)), make(map[int64]string, len(rows))
	for _, a := range rows {
		ids[a.Key], keys[a.ID] = a.ID, a.Key
	}
	return ids, keys, nil
}
