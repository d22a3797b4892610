package models_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// catalogOf lists the cached catalog as "feature/product/event|event", sorted.
func catalogOf(t *testing.T, s *models.Store) []string {
	t.Helper()
	_, catalog, err := s.HealthSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range catalog {
		out = append(out, f.Key+"/"+f.Product+"/"+strings.Join(f.EventNames, "|"))
	}
	slices.Sort(out)
	return out
}

// entitledFeatures are the features of acme's health document on day.
func entitledFeatures(t *testing.T, s *models.Store, day models.Date) []string {
	t.Helper()
	h, err := s.AccountHealth(context.Background(), "acme", day)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range h.FeatureAdoption {
		out = append(out, f.Feature)
	}
	return out
}

// Process a keeps a copy of the catalog and scorecard; every way process b (or plain
// SQL) changes them must show in a's next computation, and nothing else reloads it.
func TestHealthCacheFollowsWritesOfOtherProcesses(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		ctx := context.Background()
		day := models.Today()
		check := func(step string, want ...string) {
			t.Helper()
			if got := catalogOf(t, a); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: process a sees catalog %v, want %v", step, got, want)
			}
		}
		mustDo := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		_, err := b.UpsertFeature(ctx, &models.Feature{Key: "reports", Name: "Reports", Product: "core", EventNames: []string{"Report Run"}})
		mustDo(err)
		_, err = b.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme"})
		mustDo(err)
		_, err = b.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 10})
		mustDo(err)

		check("start", "reports/core/Report Run")
		if got := entitledFeatures(t, a, day); fmt.Sprint(got) != "[reports]" {
			t.Fatalf("entitled %v", got)
		}
		loads := a.HealthCacheLoads()
		check("unchanged", "reports/core/Report Run")
		a.AccountHealth(ctx, "acme", day)
		if n := a.HealthCacheLoads(); n != loads {
			t.Fatalf("nothing changed, yet the copy was loaded %d more times", n-loads)
		}
		// Writes that leave the catalog alone do not throw the copy away either.
		_, err = b.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "extra", Product: "other", Model: "user", Quantity: 1})
		mustDo(err)
		_, err = b.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme Inc"})
		mustDo(err)
		check("after unrelated writes", "reports/core/Report Run")
		if n := a.HealthCacheLoads(); n != loads {
			t.Fatalf("unrelated writes reloaded the copy %d times", n-loads)
		}

		_, err = b.UpsertFeature(ctx, &models.Feature{Key: "alerts", Name: "Alerts", Product: "core", EventNames: []string{"Alert Set"}})
		mustDo(err)
		check("feature added", "alerts/core/Alert Set", "reports/core/Report Run")
		if got := entitledFeatures(t, a, day); fmt.Sprint(got) != "[alerts reports]" {
			t.Fatalf("after a feature was added, entitled %v", got)
		}
		_, err = b.UpsertFeature(ctx, &models.Feature{Key: "alerts", Name: "Alerts", Product: "other", EventNames: []string{"Alert Set", "Alert Muted"}})
		mustDo(err)
		check("feature edited", "alerts/other/Alert Muted|Alert Set", "reports/core/Report Run")
		mustDo(b.DeleteFeature(ctx, "alerts"))
		check("feature deleted", "reports/core/Report Run")
		_, err = b.ImportCSV(ctx, "features", strings.NewReader("key,name,product,event_names,key_feature\nexports,Exports,core,Export Done,false\n"))
		mustDo(err)
		check("CSV import", "exports/core/Export Done", "reports/core/Report Run")
		// Plain SQL, no application code: the triggers still see it.
		mustDo(b.DB().Exec("UPDATE feature_events SET event_name = 'Report Opened' WHERE event_name = 'Report Run'").Error)
		check("event renamed in SQL", "exports/core/Export Done", "reports/core/Report Opened")
		mustDo(b.DB().Exec("UPDATE products SET key = 'platform' WHERE key = 'core'").Error)
		check("product renamed in SQL", "exports/platform/Export Done", "reports/platform/Report Opened")
		if got := entitledFeatures(t, a, day); fmt.Sprint(got) != "[exports reports]" {
			t.Fatalf("after the product was renamed, entitled %v", got)
		}

		// The scorecard, through the store and through SQL.
		cfg, err := a.Scorecard(ctx)
		mustDo(err)
		if cfg.Measures[metrics.MeasureBreadth].Weight != 20 {
			t.Fatalf("default breadth weight %v", cfg.Measures[metrics.MeasureBreadth])
		}
		cfg.Measures[metrics.MeasureBreadth] = metrics.MeasureConfig{Target: 0.5, Weight: 40}
		if again, _ := a.Scorecard(ctx); again.Measures[metrics.MeasureBreadth].Weight != 20 {
			t.Fatal("changing a returned scorecard changed the cached one")
		}
		mustDo(b.PutScorecard(ctx, cfg))
		h, err := a.AccountHealth(ctx, "acme", day)
		mustDo(err)
		if m := h.Measure(metrics.MeasureBreadth); m == nil || m.Weight != 40 || m.Target != 0.5 {
			t.Fatalf("process a scores breadth with %+v after b saved weight 40, target 0.5", m)
		}
		mustDo(b.DB().Exec("DELETE FROM settings WHERE key = 'scorecard'").Error)
		if cfg, _ := a.Scorecard(ctx); cfg.Measures[metrics.MeasureBreadth].Weight != 20 {
			t.Fatalf("scorecard deleted in SQL, process a still sees %+v", cfg.Measures[metrics.MeasureBreadth])
		}
	})
}
