package models_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

const accountsCSV = `key,name,arr,renewal_on,lifecycle_stage,segment,csm_email
acme,"Acme, Inc.",120000.5,2027-03-31,adoption,enterprise,CSM@x.test
bolt,Bolt,0,,onboarding,smb,
`

// Columns in another order than the export writes them.
const featuresCSV = `product,key,name,key_feature,event_names
core,reports,Reports,true,Report Viewed|Report Exported
core,dashboards,Dashboards,false,Dashboard Viewed
mobile,mobile-app,Mobile app,false,
`

const entitlementsCSV = `account,key,product,features,model,quantity,unit,unit_price,starts_on,ends_on
acme,core-seats,core,reports|dashboards,user,1000,seat,12.5,2026-01-01,2026-12-31
acme,api,core,,metered,1e6,api_call,0.001,2026-01-01,
bolt,mobile,mobile,mobile-app,device,20,device,3,,
`

func mustImport(t *testing.T, s *models.Store, kind, body string) models.ImportResult {
	t.Helper()
	res, err := s.ImportCSV(context.Background(), kind, strings.NewReader(body))
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	return res
}

func export(t *testing.T, s *models.Store, kind string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.ExportCSV(context.Background(), kind, &buf); err != nil {
		t.Fatalf("export %s: %v", kind, err)
	}
	return buf.String()
}

func counts(t testing.TB, s *models.Store) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"accounts", "products", "features", "feature_events", "entitlements", "entitlement_features"} {
		var n int64
		if err := s.DB().Table(table).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(parts, " ")
}

func TestCSVRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		if r := mustImport(t, s, "accounts", accountsCSV); r.Rows != 2 {
			t.Fatalf("rows %d", r.Rows)
		}
		mustImport(t, s, "features", featuresCSV)
		mustImport(t, s, "entitlements", entitlementsCSV)

		e, err := s.EntitlementByKey(ctx, "acme", "core-seats")
		if err != nil || e.Quantity != 1000 || strings.Join(e.Features, ",") != "dashboards,reports" || e.EndsOn.String() != "2026-12-31" {
			t.Fatalf("entitlement %+v err %v", e, err)
		}
		a, _ := s.AccountByKey(ctx, "acme")
		if a.Name != "Acme, Inc." || a.CSMEmail != "csm@x.test" || a.ARR != 120000.5 {
			t.Fatalf("account %+v", a)
		}

		first := map[string]string{}
		for _, kind := range models.ImportKinds {
			first[kind] = export(t, s, kind)
		}
		if !strings.Contains(first["entitlements"], "acme,api,core,,metered,1000000,api_call,0.001,2026-01-01,\n") {
			t.Fatalf("entitlements export:\n%s", first["entitlements"])
		}
		before := counts(t, s)
		// Export → import → export gives the same state and the same bytes, here and
		// on a fresh database.
		for _, kind := range models.ImportKinds {
			mustImport(t, s, kind, first[kind])
		}
		if after := counts(t, s); after != before {
			t.Fatalf("re-import changed counts: %s → %s", before, after)
		}
		fresh := dbtest.SQLite(t)
		for _, kind := range models.ImportKinds {
			if got := export(t, s, kind); got != first[kind] {
				t.Fatalf("%s export changed after re-import:\n%s\nwant\n%s", kind, got, first[kind])
			}
			mustImport(t, fresh, kind, first[kind])
			if got := export(t, fresh, kind); got != first[kind] {
				t.Fatalf("%s export differs on a fresh database:\n%s\nwant\n%s", kind, got, first[kind])
			}
		}
		// A re-import that narrows a feature list replaces it rather than adding to it.
		mustImport(t, s, "entitlements", "account,key,product,features,model\nacme,core-seats,core,reports,user\n")
		e, _ = s.EntitlementByKey(ctx, "acme", "core-seats")
		if strings.Join(e.Features, ",") != "reports" || e.Quantity != 0 {
			t.Fatalf("after narrowing: %+v", e)
		}
	})
}

func TestCSVImportRefusesEveryBadLineAndWritesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		mustImport(t, s, "accounts", accountsCSV)
		mustImport(t, s, "features", featuresCSV)
		before := counts(t, s)
		cases := []struct {
			kind, body string
			want       []string // "line field" of each problem
		}{
			{"accounts", "key,name,colour\nx,X,red\n", []string{"1 colour"}},
			{"accounts", "name\nX\n", []string{"1 key"}},
			{"accounts", "", []string{"1 "}},
			{"accounts", "key,name,arr,renewal_on,lifecycle_stage\nnew,New,1,,\nbad key,,-1,2026-02-30,churned\nnew,Again,,,\n",
				[]string{"3 renewal_on", "3 key", "3 name", "3 arr", "3 lifecycle_stage", "4 key"}},
			{"accounts", "key,name\nok,OK\n\"broken,x\n", []string{"3 "}},
			{"accounts", "key,name\nok,OK,extra\n", []string{"2 "}},
			{"features", "key,name,product,key_feature\nf1,F,core,maybe\n", []string{"2 key_feature"}},
			{"entitlements", "account,key,product,model,quantity,starts_on,ends_on\n" +
				"acme,ok,core,user,5,2026-01-01,2026-02-01\n" +
				"acme,neg,core,user,-5,,\n" +
				"acme,dates,core,user,1,2026-05-01,2026-04-01\n" +
				"acme,m,core,lease,1,,\n" +
				"acme,q,core,user,lots,,\n", []string{"3 quantity", "4 ends_on", "5 model", "6 quantity"}},
			{"entitlements", "account,key,product,features,model\n" +
				"acme,ok,core,reports,user\n" +
				"nobody,e1,core,,user\n" +
				"acme,e2,core,mobile-app|ghost,user\n", []string{"3 account", "4 features", "4 features"}},
		}
		for _, tc := range cases {
			_, err := s.ImportCSV(context.Background(), tc.kind, strings.NewReader(tc.body))
			var verr *models.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("%s %q: err %v, want a validation error", tc.kind, tc.body, err)
			}
			var got []string
			for _, f := range verr.Fields {
				got = append(got, fmt.Sprintf("%d %s", f.Line, f.Field))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%s %q: problems %v, want %v (%v)", tc.kind, tc.body, got, tc.want, verr)
			}
			if after := counts(t, s); after != before {
				t.Fatalf("%s %q: refused import wrote: %s → %s", tc.kind, tc.body, before, after)
			}
		}
	})
}

func TestCSVImportCapsTheErrorReport(t *testing.T) {
	var b strings.Builder
	b.WriteString("key,name\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "bad key %d,\n", i)
	}
	_, err := models.ParseImportCSV("accounts", strings.NewReader(b.String()))
	var verr *models.ValidationError
	if !errors.As(err, &verr) || len(verr.Fields) != models.MaxImportErrors+1 {
		t.Fatalf("err %v", err)
	}
}

// FuzzImportCSV feeds arbitrary files to the importer: it must never panic, and an
// import it refuses must leave every table as it was.
func FuzzImportCSV(f *testing.F) {
	for i, seed := range []string{accountsCSV, featuresCSV, entitlementsCSV, "key\n\"", "key,key\n", "\uFEFFkey,name\na,A\n", "account,key,model\nacme,x,user\nacme,x,user\n"} {
		f.Add(uint8(i%3), seed)
	}
	s := dbtest.SQLite(f)
	ctx := context.Background()
	if _, err := s.ImportCSV(ctx, "accounts", strings.NewReader(accountsCSV)); err != nil {
		f.Fatal(err)
	}
	if _, err := s.ImportCSV(ctx, "features", strings.NewReader(featuresCSV)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, k uint8, body string) {
		kind := models.ImportKinds[int(k)%len(models.ImportKinds)]
		if _, err := models.ParseImportCSV(kind, strings.NewReader(body)); err != nil {
			var verr *models.ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 {
				t.Fatalf("parse error is not a line report: %v", err)
			}
		}
		before := counts(t, s)
		if _, err := s.ImportCSV(ctx, kind, strings.NewReader(body)); err != nil {
			if after := counts(t, s); after != before {
				t.Fatalf("refused import (%v) changed counts %s → %s", err, before, after)
			}
		}
	})
}

// BenchmarkImportEntitlements100k loads 100,000 entitlement rows (2,000 accounts × 50,
// each listing two features) on PostgreSQL from TEST_DATABASE_URL. Run it with
//
//	.ci/with-postgres go test -run '^$' -bench ImportEntitlements100k -benchtime 1x ./models
func BenchmarkImportEntitlements100k(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("TEST_DATABASE_URL not set")
	}
	s := dbtest.Postgres(b)
	ctx := context.Background()
	var accounts, ents strings.Builder
	accounts.WriteString("key,name\n")
	for a := 0; a < 2000; a++ {
		fmt.Fprintf(&accounts, "acct-%04d,Account %d\n", a, a)
	}
	if _, err := s.ImportCSV(ctx, "accounts", strings.NewReader(accounts.String())); err != nil {
		b.Fatal(err)
	}
	if _, err := s.ImportCSV(ctx, "features", strings.NewReader(featuresCSV)); err != nil {
		b.Fatal(err)
	}
	ents.WriteString("account,key,product,features,model,quantity,unit,unit_price,starts_on,ends_on\n")
	for a := 0; a < 2000; a++ {
		for e := 0; e < 50; e++ {
			fmt.Fprintf(&ents, "acct-%04d,ent-%02d,core,dashboards|reports,user,%d,seat,9.5,2026-01-01,2026-12-31\n", a, e, 10+e)
		}
	}
	body := ents.String()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := s.ImportCSV(ctx, "entitlements", strings.NewReader(body))
		if err != nil || res.Rows != 100000 {
			b.Fatalf("rows %d err %v", res.Rows, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/import")
	}
}
