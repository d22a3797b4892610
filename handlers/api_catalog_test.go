package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sightline/handlers"
	"sightline/models"
	"sightline/models/dbtest"
)

type errorBody struct {
	Error   string              `json:"error"`
	Details []models.FieldError `json:"details"`
}

func (r response) errorBody() errorBody {
	r.t.Helper()
	var b errorBody
	if err := json.Unmarshal(r.Body.Bytes(), &b); err != nil || b.Error == "" {
		r.t.Fatalf("not a JSON error (%v): %s", err, r.Body.String())
	}
	return b
}

// fields lists "field" of each detail, for comparing refusals.
func (b errorBody) fields() string {
	var fs []string
	for _, d := range b.Details {
		fs = append(fs, d.Field)
	}
	sort.Strings(fs)
	return strings.Join(fs, ",")
}

func body(s string) *strings.Reader { return strings.NewReader(s) }

func TestAPIFeaturesCRUD(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin, pm := app.token(models.RoleAdmin), app.token(models.RolePM)
		r := app.api(http.MethodPut, "/api/v1/features/reports", admin,
			body(`{"name":"Reports","product":"core","event_names":["Report Viewed","Report Exported","Report Viewed"],"key_feature":true}`)).expect(http.StatusCreated)
		var f models.Feature
		if err := json.Unmarshal(r.Body.Bytes(), &f); err != nil || f.Key != "reports" || f.Product != "core" ||
			strings.Join(f.EventNames, "|") != "Report Exported|Report Viewed" || !f.KeyFeature {
			t.Fatalf("put reply %s (%v)", r.Body.String(), err)
		}
		app.api(http.MethodPut, "/api/v1/features/reports", admin, body(`{"key":"reports","name":"Reports v2","product":"core"}`)).expect(http.StatusOK)
		r = app.api(http.MethodGet, "/api/v1/features/reports", pm, nil).expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"name":"Reports v2"`) || !strings.Contains(r.Body.String(), `"event_names":[]`) {
			t.Fatalf("get %s", r.Body.String())
		}
		pm403 := app.api(http.MethodPut, "/api/v1/features/x", pm, body(`{"name":"X","product":"core"}`)).expect(http.StatusForbidden)
		pm403.errorBody()

		for _, k := range []string{"b", "c", "a"} {
			app.api(http.MethodPut, "/api/v1/features/"+k, admin, body(`{"name":"F","product":"core"}`)).expect(http.StatusCreated)
		}
		if got := pageAll(t, app, "/api/v1/features", "features", pm); got != "a,b,c,reports" {
			t.Fatalf("paged features %s", got)
		}

		// A feature an entitlement lists cannot go; once unlisted it can.
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme"})
		app.api(http.MethodPut, "/api/v1/accounts/acme/entitlements/seats", admin, body(`{"product":"core","features":["a"],"model":"user","quantity":5}`)).expect(http.StatusCreated)
		app.api(http.MethodDelete, "/api/v1/features/a", admin, nil).expect(http.StatusConflict).errorBody()
		app.api(http.MethodDelete, "/api/v1/accounts/acme/entitlements/seats", admin, nil).expect(http.StatusNoContent)
		app.api(http.MethodDelete, "/api/v1/features/a", admin, nil).expect(http.StatusNoContent)
		app.api(http.MethodDelete, "/api/v1/features/a", admin, nil).expect(http.StatusNotFound).errorBody()
		app.api(http.MethodGet, "/api/v1/features/a", pm, nil).expect(http.StatusNotFound)
	})
}

// pageAll walks a collection two at a time and returns the keys in order.
func pageAll(t *testing.T, app *testApp, path, name, token string) string {
	t.Helper()
	var keys []string
	cursor := ""
	for pages := 0; pages < 20; pages++ {
		r := app.api(http.MethodGet, path+"?limit=2&cursor="+url.QueryEscape(cursor), token, nil).expect(http.StatusOK)
		var page map[string]json.RawMessage
		if err := json.Unmarshal(r.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		var items []struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(page[name], &items); err != nil {
			t.Fatalf("%s: no %q list in %s", path, name, r.Body.String())
		}
		for _, it := range items {
			keys = append(keys, it.Key)
		}
		var next string
		_ = json.Unmarshal(page["next_cursor"], &next)
		if next == "" {
			return strings.Join(keys, ",")
		}
		cursor = next
	}
	t.Fatalf("%s: paging never ended", path)
	return ""
}

func TestAPIAccountsAndEntitlementsCRUD(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin, csm := app.token(models.RoleAdmin), app.token(models.RoleCSM)
		r := app.api(http.MethodPut, "/api/v1/accounts/acme", admin,
			body(`{"name":"Acme","arr":1200.5,"renewal_on":"2027-01-31","lifecycle_stage":"adoption","segment":"ent","csm_email":"Ann@X.test"}`)).expect(http.StatusCreated)
		if !strings.Contains(r.Body.String(), `"renewal_on":"2027-01-31"`) || !strings.Contains(r.Body.String(), `"csm_email":"ann@x.test"`) {
			t.Fatalf("account %s", r.Body.String())
		}
		app.api(http.MethodPut, "/api/v1/accounts/acme", admin, body(`{"name":"Acme Corp"}`)).expect(http.StatusOK)
		app.api(http.MethodPut, "/api/v1/accounts/acme", csm, body(`{"name":"x"}`)).expect(http.StatusForbidden)
		app.api(http.MethodPut, "/api/v1/features/reports", admin, body(`{"name":"Reports","product":"core"}`)).expect(http.StatusCreated)

		for _, k := range []string{"e3", "e1", "e2"} {
			app.api(http.MethodPut, "/api/v1/accounts/acme/entitlements/"+k, admin,
				body(`{"product":"core","features":["reports"],"model":"subscription","quantity":10,"unit":"seat","unit_price":5,"starts_on":"2026-01-01","ends_on":"2026-12-31"}`)).expect(http.StatusCreated)
		}
		r = app.api(http.MethodPut, "/api/v1/accounts/acme/entitlements/e1", admin,
			body(`{"account":"acme","key":"e1","product":"core","model":"user","quantity":20}`)).expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"features":[]`) || !strings.Contains(r.Body.String(), `"quantity":20`) {
			t.Fatalf("replaced entitlement %s", r.Body.String())
		}
		if got := pageAll(t, app, "/api/v1/accounts/acme/entitlements", "entitlements", csm); got != "e1,e2,e3" {
			t.Fatalf("paged entitlements %s", got)
		}
		r = app.api(http.MethodGet, "/api/v1/accounts/acme/entitlements/e2", csm, nil).expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"features":["reports"]`) || !strings.Contains(r.Body.String(), `"ends_on":"2026-12-31"`) {
			t.Fatalf("entitlement %s", r.Body.String())
		}
		app.api(http.MethodGet, "/api/v1/accounts/acme/entitlements/nope", csm, nil).expect(http.StatusNotFound)
		app.api(http.MethodGet, "/api/v1/accounts/nope/entitlements", csm, nil).expect(http.StatusNotFound)
		app.api(http.MethodPut, "/api/v1/accounts/nope/entitlements/e1", admin, body(`{"product":"core","model":"user"}`)).expect(http.StatusNotFound)
		app.api(http.MethodDelete, "/api/v1/accounts/acme/entitlements/e3", admin, nil).expect(http.StatusNoContent)
		app.api(http.MethodDelete, "/api/v1/accounts/acme/entitlements/e3", admin, nil).expect(http.StatusNotFound)

		// Deleting the account takes its entitlements with it.
		app.api(http.MethodDelete, "/api/v1/accounts/acme", admin, nil).expect(http.StatusNoContent)
		app.api(http.MethodGet, "/api/v1/accounts/acme", csm, nil).expect(http.StatusNotFound)
		app.api(http.MethodDelete, "/api/v1/accounts/acme", admin, nil).expect(http.StatusNotFound)
		var n int64
		s.DB().Table("entitlements").Count(&n)
		if n != 0 {
			t.Fatalf("%d entitlements outlived their account", n)
		}
	})
}

func TestAPIRefusesBadInputAndWritesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin := app.token(models.RoleAdmin)
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme"})
		app.api(http.MethodPut, "/api/v1/features/reports", admin, body(`{"name":"Reports","product":"core"}`)).expect(http.StatusCreated)
		app.api(http.MethodPut, "/api/v1/features/sync", admin, body(`{"name":"Sync","product":"mobile"}`)).expect(http.StatusCreated)
		ent := "/api/v1/accounts/acme/entitlements/e1"
		cases := []struct {
			name, path, body string
			status           int
			fields           string
		}{
			{"unknown field", ent, `{"product":"core","model":"user","colour":"red"}`, 400, "colour"},
			{"wrong type", ent, `{"product":"core","model":"user","quantity":"ten"}`, 400, "quantity"},
			{"wrong type in list", ent, `{"product":"core","model":"user","features":[1]}`, 400, "features"},
			{"bad JSON", ent, `{"product":`, 400, ""},
			{"two objects", ent, `{"product":"core","model":"user"}{}`, 400, ""},
			{"empty body", ent, ``, 400, ""},
			{"not an object", ent, `[1]`, 400, ""},
			{"negative quantity", ent, `{"product":"core","model":"user","quantity":-1}`, 422, "quantity"},
			{"negative price", ent, `{"product":"core","model":"user","unit_price":-1}`, 422, "unit_price"},
			{"ends before starts", ent, `{"product":"core","model":"user","starts_on":"2026-05-01","ends_on":"2026-04-30"}`, 422, "ends_on"},
			{"bad date", ent, `{"product":"core","model":"user","starts_on":"2026-02-30"}`, 422, "starts_on"},
			{"unknown model", ent, `{"product":"core","model":"lease"}`, 422, "model"},
			{"feature of another product", ent, `{"product":"core","model":"user","features":["reports","sync"]}`, 422, "features"},
			{"unknown feature", ent, `{"product":"core","model":"user","features":["ghost"]}`, 422, "features"},
			{"key disagrees", ent, `{"key":"e2","account":"bolt","product":"core","model":"user"}`, 422, "account,key"},
			{"every problem at once", ent, `{"model":"lease","quantity":-1}`, 422, "model,product,quantity"},
			{"bad entitlement key", "/api/v1/accounts/acme/entitlements/bad%20key", `{"product":"core","model":"user"}`, 422, "key"},
			{"bad account key", "/api/v1/accounts/-acme", `{"name":"A"}`, 422, "key"},
			{"account without name", "/api/v1/accounts/bolt", `{"arr":-5,"lifecycle_stage":"churned","csm_email":"nobody"}`, 422, "arr,csm_email,lifecycle_stage,name"},
			{"account renewal type", "/api/v1/accounts/bolt", `{"name":"B","renewal_on":20270101}`, 400, "renewal_on"},
			{"feature without product", "/api/v1/features/f1", `{"name":"F"}`, 422, "product"},
			{"feature empty event name", "/api/v1/features/f1", `{"name":"F","product":"core","event_names":[""]}`, 422, "event_names[0]"},
			{"feature key flag type", "/api/v1/features/f1", `{"name":"F","product":"core","key_feature":"yes"}`, 400, "key_feature"},
		}
		before := tableCounts(t, s)
		for _, tc := range cases {
			r := app.api(http.MethodPut, tc.path, admin, body(tc.body))
			if r.Code != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, r.Code, tc.status, r.Body.String())
				continue
			}
			eb := r.errorBody()
			if got := eb.fields(); got != tc.fields {
				t.Errorf("%s: details name %q, want %q: %s", tc.name, got, tc.fields, r.Body.String())
			}
			for _, d := range eb.Details {
				if d.Message == "" {
					t.Errorf("%s: detail without message: %s", tc.name, r.Body.String())
				}
			}
			if after := tableCounts(t, s); after != before {
				t.Fatalf("%s: refused request wrote: %s → %s", tc.name, before, after)
			}
		}
	})
}

func tableCounts(t *testing.T, s *models.Store) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"accounts", "products", "features", "feature_events", "entitlements", "entitlement_features"} {
		var n int64
		if err := s.DB().Table(table).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		parts = append(parts, table+"="+itoa(n))
	}
	return strings.Join(parts, " ")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func csvRequest(app *testApp, path, token, contentType, csv string) response {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(csv))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	app.e.ServeHTTP(rec, req)
	return response{rec, app.t}
}

func TestAPIImportExportRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin, pm := app.token(models.RoleAdmin), app.token(models.RolePM)
		files := map[string]string{
			"accounts": "key,name,arr,renewal_on,lifecycle_stage,segment,csm_email\n" +
				"acme,\"Acme, Inc.\",1000,2027-01-31,adoption,ent,a@x.test\nbolt,Bolt,0,,onboarding,,\n",
			"features": "key,name,product,event_names,key_feature\n" +
				"dash,Dashboards,core,Dashboard Viewed,false\nreports,Reports,core,Report Exported|Report Viewed,true\n",
			"entitlements": "account,key,product,features,model,quantity,unit,unit_price,starts_on,ends_on\n" +
				"acme,seats,core,dash|reports,user,100,seat,12.5,2026-01-01,2026-12-31\nbolt,all,core,,subscription,5,seat,0,,\n",
			// acme's pending renewal is due on its renewal_on: the accounts export stays the same.
			"renewals": "account,key,due_on,arr_before,outcome,arr_after,closed_on,note\n" +
				"acme,fy26,2026-01-31,900,expanded,1000,2026-01-20,\"added seats, then analytics\"\nacme,fy27,2027-01-31,1000,pending,,,\n",
		}
		for _, kind := range models.ImportKinds {
			r := csvRequest(app, "/api/v1/import/"+kind, admin, "text/csv; charset=utf-8", files[kind]).expect(http.StatusOK)
			if !strings.Contains(r.Body.String(), `"rows":2`) {
				t.Fatalf("import %s: %s", kind, r.Body.String())
			}
		}
		for _, kind := range models.ImportKinds {
			r := app.api(http.MethodGet, "/api/v1/export/"+kind, pm, nil).expect(http.StatusOK)
			if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Fatalf("export content type %q", ct)
			}
			if r.Body.String() != files[kind] {
				t.Fatalf("export %s:\n%s\nwant\n%s", kind, r.Body.String(), files[kind])
			}
		}
		// The imported book shows on the account page.
		doc := app.loggedIn(models.RoleCSM).get("/accounts/acme").expect(http.StatusOK).doc()
		if doc.Find(`[data-testid=entitlement-row][data-key=seats]`).Length() != 1 {
			t.Fatal("imported entitlement missing from the account page")
		}

		// A refused import reports every bad line and writes nothing.
		before := tableCounts(t, s)
		bad := "account,key,product,features,model,quantity\n" +
			"acme,new1,core,,user,1\n" +
			"acme,new2,core,,user,-1\n" +
			"ghost,new3,core,,user,1\n" +
			"acme,new4,mobile,reports,lease,1\n"
		r := csvRequest(app, "/api/v1/import/entitlements", admin, "text/csv", bad).expect(http.StatusUnprocessableEntity)
		var lines []string
		for _, d := range r.errorBody().Details {
			lines = append(lines, itoa(int64(d.Line))+":"+d.Field)
		}
		if got := strings.Join(lines, " "); got != "3:quantity 4:account 5:model 5:features" {
			t.Fatalf("error lines %s", got)
		}
		if after := tableCounts(t, s); after != before {
			t.Fatalf("refused import wrote: %s → %s", before, after)
		}
		r = csvRequest(app, "/api/v1/import/entitlements", admin, "text/csv", "account,key,product,model\nghost,x,core,user\n").expect(http.StatusUnprocessableEntity)
		if d := r.errorBody().Details; len(d) != 1 || d[0].Line != 2 || d[0].Field != "account" {
			t.Fatalf("unknown account: %s", r.Body.String())
		}
		csvRequest(app, "/api/v1/import/entitlements", admin, "text/csv", "acct,key\n").expect(http.StatusUnprocessableEntity)
		csvRequest(app, "/api/v1/import/widgets", admin, "text/csv", "key\n").expect(http.StatusNotFound)
		csvRequest(app, "/api/v1/import/accounts", admin, "application/json", `{"key":"x"}`).expect(http.StatusUnsupportedMediaType)
		csvRequest(app, "/api/v1/import/accounts", pm, "text/csv", files["accounts"]).expect(http.StatusForbidden)
		app.api(http.MethodGet, "/api/v1/export/widgets", pm, nil).expect(http.StatusNotFound)
		if after := tableCounts(t, s); after != before {
			t.Fatalf("refused imports wrote: %s → %s", before, after)
		}
	})
}

func TestAPIImportRefusesOversizedFiles(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	huge := "key,name\na,\"" + strings.Repeat("x", 64<<20) + "\"\n"
	csvRequest(app, "/api/v1/import/accounts", app.token(models.RoleAdmin), "text/csv", huge).expect(http.StatusRequestEntityTooLarge)
}

// TestOpenAPIMatchesRoutes keeps /api/v1/openapi.json and routes.go in step.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(handlers.OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	served := map[string]bool{}
	for _, rt := range handlers.RouteList() {
		if strings.HasPrefix(rt.Path, "/api/v1/") {
			served[rt.Method+" "+param.ReplaceAllString(rt.Path, "{$1}")] = true
		}
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("%s is served but not in handlers/openapi.json: document every new /api/v1 route there", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in handlers/openapi.json but routes.go serves no such route: remove it or add the route", op)
		}
	}

	app := newApp(t, dbtest.SQLite(t))
	app.api(http.MethodGet, "/api/v1/openapi.json", "", nil).expect(http.StatusUnauthorized)
	r := app.api(http.MethodGet, "/api/v1/openapi.json", app.token(models.RolePM), nil).expect(http.StatusOK)
	if !json.Valid(r.Body.Bytes()) || !strings.Contains(r.Header().Get("Content-Type"), "json") {
		t.Fatal("served document is not JSON")
	}
}
