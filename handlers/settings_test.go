package handlers_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"sightline/models"
	"sightline/models/dbtest"
)

func TestSettingsTokensAreShownOnceAndRevocable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		c := app.loggedIn(models.RoleAdmin)
		tok := c.csrf("/settings/tokens")
		// A refused form keeps what was typed and says why beside the field.
		r := c.post("/settings/tokens", url.Values{"_csrf": {tok}, "name": {" "}, "role": {"root"}}, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		doc := r.doc()
		if doc.Find(`[data-testid=token-name-error]`).Text() == "" || doc.Find(`[data-testid=token-role-error]`).Text() == "" {
			t.Fatalf("no messages beside the fields: %s", r.Body.String())
		}
		r = c.post("/settings/tokens", url.Values{"_csrf": {tok}, "name": {"BI export"}, "role": {"pm"}}, "HX-Request", "true").expect(http.StatusOK)
		doc = r.doc()
		if doc.Find("#tokens").Length() != 1 || strings.Contains(r.Body.String(), "<html") {
			t.Fatal("token creation did not answer with the tokens fragment")
		}
		plain := strings.TrimSpace(doc.Find(`[data-testid=new-secret]`).Text())
		if !strings.HasPrefix(plain, "sl_") {
			t.Fatalf("plain token %q", plain)
		}
		app.api(http.MethodGet, "/api/v1/accounts", plain, nil).expect(http.StatusOK)
		app.api(http.MethodPut, "/api/v1/accounts/x", plain, body(`{"name":"X"}`)).expect(http.StatusForbidden)
		// Shown once: the list has the prefix only, never the token.
		list := c.get("/settings/tokens").expect(http.StatusOK)
		if strings.Contains(list.Body.String(), plain) || list.doc().Find(`[data-testid=token-row][data-name="BI export"]`).Length() != 1 {
			t.Fatal("token list shows the token again, or not the row")
		}
		var stored string
		s.DB().Raw("SELECT token_hash FROM api_tokens WHERE name = ?", "BI export").Scan(&stored)
		if stored != models.HashSecret(plain) {
			t.Fatal("token not stored as its hash")
		}
		var id int64
		s.DB().Raw("SELECT id FROM api_tokens WHERE name = ?", "BI export").Scan(&id)
		c.post("/settings/tokens/"+strconv.FormatInt(id, 10)+"/revoke", url.Values{"_csrf": {tok}}, "HX-Request", "true").expect(http.StatusOK)
		app.api(http.MethodGet, "/api/v1/accounts", plain, nil).expect(http.StatusUnauthorized)
		c.post("/settings/tokens/"+strconv.FormatInt(id, 10)+"/revoke", url.Values{"_csrf": {tok}}, "HX-Request", "true").expect(http.StatusNotFound)
		// Without CSRF token: refused (Echo answers 400), nothing created.
		c.post("/settings/tokens", url.Values{"name": {"x"}, "role": {"pm"}}).expect(http.StatusBadRequest)
		var n int64
		s.DB().Table("api_tokens").Where("name = ?", "x").Count(&n)
		if n != 0 {
			t.Fatal("token created without CSRF token")
		}
	})
}

func TestSettingsWriteKeysAreShownOnceAndRevocable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		c := app.loggedIn(models.RoleAdmin)
		tok := c.csrf("/settings/writekeys")
		refused := c.post("/settings/writekeys", url.Values{"_csrf": {tok}, "name": {""}}, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		if refused.doc().Find(`[data-testid=writekey-name-error]`).Text() != "is required" {
			t.Fatalf("no message beside the name: %s", refused.Body.String())
		}
		r := c.post("/settings/writekeys", url.Values{"_csrf": {tok}, "name": {"web app"}}, "HX-Request", "true").expect(http.StatusOK)
		plain := strings.TrimSpace(r.doc().Find(`[data-testid=new-secret]`).Text())
		ctx := context.Background()
		k, err := s.WriteKeyBySecret(ctx, plain)
		if err != nil || k.Name != "web app" {
			t.Fatalf("write key %q: %v", plain, err)
		}
		if strings.Contains(c.get("/settings/writekeys").Body.String(), plain) {
			t.Fatal("write key shown twice")
		}
		c.post("/settings/writekeys/"+strconv.FormatInt(k.ID, 10)+"/revoke", url.Values{"_csrf": {tok}}, "HX-Request", "true").expect(http.StatusOK)
		if _, err := s.WriteKeyBySecret(ctx, plain); err == nil {
			t.Fatal("revoked write key still works")
		}
	})
}

func TestSettingsMembersAndRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin := app.loggedIn(models.RoleAdmin)
		tok := admin.csrf("/settings")
		form := url.Values{"_csrf": {tok}, "email": {"not-an-email"}, "name": {"Nina"}, "role": {"csm"}, "password": {"pw"}}
		doc := admin.post("/settings/members", form, "HX-Request", "true").expect(http.StatusUnprocessableEntity).doc()
		if doc.Find(`[data-testid=member-email-error]`).Text() == "" || doc.Find(`[data-testid=member-password-error]`).Text() == "" {
			t.Fatal("member form errors not beside the fields")
		}
		if v, _ := doc.Find(`#member-name`).Attr("value"); v != "Nina" {
			t.Fatalf("draft lost: %q", v)
		}
		form.Set("email", "nina@test.example")
		form.Set("password", "pw-nina")
		admin.post("/settings/members", form, "HX-Request", "true").expect(http.StatusOK)
		admin.post("/settings/members", form, "HX-Request", "true").expect(http.StatusUnprocessableEntity) // same email

		nina := app.client()
		nina.login("nina@test.example", "pw-nina")
		nina.get("/settings").expect(http.StatusForbidden)

		m, _ := s.TeamMemberByEmail(context.Background(), "nina@test.example")
		id := strconv.FormatInt(m.ID, 10)
		r := admin.post("/settings/members/"+id+"/role", url.Values{"_csrf": {tok}, "role": {"manager"}}, "HX-Request", "true").expect(http.StatusOK)
		if !strings.HasPrefix(r.Body.String(), `<tr id="member-`+id+`"`) {
			t.Fatalf("role change did not answer with the row: %s", r.Body.String())
		}
		admin.post("/settings/members/"+id+"/role", url.Values{"_csrf": {tok}, "role": {"owner"}}, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		if m, _ = s.TeamMemberByEmail(context.Background(), "nina@test.example"); m.Role != models.RoleManager {
			t.Fatalf("role %s", m.Role)
		}
		admin.post("/settings/members/"+id+"/status", url.Values{"_csrf": {tok}, "disabled": {"true"}}, "HX-Request", "true").expect(http.StatusOK)
		if code := nina.get("/").Code; code != http.StatusSeeOther {
			t.Fatalf("disabled member still in: %d", code)
		}
		admin.post("/settings/members/"+id+"/status", url.Values{"_csrf": {tok}, "disabled": {"false"}}, "HX-Request", "true").expect(http.StatusOK)
		nina.login("nina@test.example", "pw-nina")

		// An admin cannot demote or disable themselves.
		me, _ := s.TeamMemberByEmail(context.Background(), "admin@test.example")
		myID := strconv.FormatInt(me.ID, 10)
		admin.post("/settings/members/"+myID+"/role", url.Values{"_csrf": {tok}, "role": {"pm"}}, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		admin.post("/settings/members/"+myID+"/status", url.Values{"_csrf": {tok}, "disabled": {"true"}}, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		if me, _ = s.TeamMemberByEmail(context.Background(), "admin@test.example"); me.Role != models.RoleAdmin || me.DisabledAt != nil {
			t.Fatal("admin locked themselves out")
		}
	})
}

func TestSettingsCatalogInlineEdit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin := app.loggedIn(models.RoleAdmin)
		tok := admin.csrf("/settings/catalog")
		add := url.Values{"_csrf": {tok}, "key": {"reports"}, "name": {"Reports"}, "product": {"core"}, "event_names": {"Report Viewed\n\nReport Exported\n"}, "key_feature": {"true"}}
		r := admin.post("/settings/catalog", add, "HX-Request", "true").expect(http.StatusOK)
		if r.doc().Find(`[data-testid=feature-row][data-key=reports]`).Length() != 1 {
			t.Fatalf("added feature not listed: %s", r.Body.String())
		}
		admin.post("/settings/catalog", add, "HX-Request", "true").expect(http.StatusUnprocessableEntity)

		// A refused edit comes back in place with the message beside the field, and
		// nothing changes.
		edit := url.Values{"_csrf": {tok}, "name": {""}, "product": {"core"}, "event_names": {"Report Viewed|x"}}
		r = admin.post("/settings/catalog/reports", edit, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		doc := r.doc()
		row := doc.Find(`form[data-testid=feature-row][data-key=reports]`)
		if row.Length() != 1 || strings.Contains(r.Body.String(), "<html") {
			t.Fatalf("edit did not answer with the row: %s", r.Body.String())
		}
		if row.Find(`[data-testid="f-name-error-reports"]`).Text() != "is required" ||
			row.Find(`[data-testid="f-event_names-error-reports"]`).Text() == "" {
			t.Fatalf("messages not beside the fields: %s", r.Body.String())
		}
		if inv, _ := row.Find(`input[name=name]`).Attr("aria-invalid"); inv != "true" {
			t.Fatal("invalid field not marked")
		}
		f, _ := s.FeatureByKey(context.Background(), "reports")
		if f.Name != "Reports" || len(f.EventNames) != 2 || !f.KeyFeature {
			t.Fatalf("refused edit changed the feature: %+v", f)
		}
		edit = url.Values{"_csrf": {tok}, "name": {"Reporting"}, "product": {"core"}, "event_names": {"Report Viewed"}}
		r = admin.post("/settings/catalog/reports", edit, "HX-Request", "true").expect(http.StatusOK)
		if r.doc().Find(`[data-testid=feature-saved]`).Length() != 1 {
			t.Fatal("no saved mark")
		}
		f, _ = s.FeatureByKey(context.Background(), "reports")
		if f.Name != "Reporting" || strings.Join(f.EventNames, ",") != "Report Viewed" || f.KeyFeature {
			t.Fatalf("edit not saved: %+v", f)
		}
		admin.post("/settings/catalog/ghost", edit, "HX-Request", "true").expect(http.StatusNotFound)
	})
}

// upload posts a file the way the import form does.
func (c *client) upload(path, csrf, kind, content string) response {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("_csrf", csrf)
	part, _ := w.CreateFormFile("file", kind+".csv")
	_, _ = part.Write([]byte(content))
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, base.ResolveReference(mustURL(path)).String(), &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("HX-Request", "true")
	return c.do(req)
}

func TestSettingsCSVUploadReportsLinesAndExports(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin := app.loggedIn(models.RoleAdmin)
		page := admin.get("/settings/data").expect(http.StatusOK).doc()
		if page.Find(`form[hx-encoding="multipart/form-data"] progress`).Length() != len(models.ImportKinds) {
			t.Fatal("each import form needs multipart htmx upload and a progress bar")
		}
		tok := admin.csrf("/settings/data")
		accounts := "key,name,arr\nacme,Acme,100\nbolt,Bolt,5\n"
		r := admin.upload("/settings/import/accounts", tok, "accounts", accounts).expect(http.StatusOK)
		if !strings.Contains(r.doc().Find(`[data-testid=import-done]`).Text(), "2") {
			t.Fatalf("no success report: %s", r.Body.String())
		}
		before := tableCounts(t, s)
		bad := "account,key,product,model,quantity\nacme,e1,core,user,1\nacme,e2,core,lease,1\nghost,e3,core,user,-2\n"
		doc := admin.upload("/settings/import/entitlements", tok, "entitlements", bad).expect(http.StatusUnprocessableEntity).doc()
		var lines []string
		doc.Find(`[data-testid=import-problem]`).Each(func(_ int, sel *goquery.Selection) {
			l, _ := sel.Attr("data-line")
			lines = append(lines, l)
		})
		if strings.Join(lines, ",") != "3,4,4" {
			t.Fatalf("problem lines %v: %s", lines, doc.Text())
		}
		if after := tableCounts(t, s); after != before {
			t.Fatalf("refused upload wrote: %s → %s", before, after)
		}
		admin.upload("/settings/import/entitlements", tok, "entitlements", strings.Replace(strings.Replace(bad, "lease", "user", 1), "ghost,e3,core,user,-2\n", "", 1)).expect(http.StatusOK)
		exp := admin.get("/settings/export/accounts").expect(http.StatusOK)
		if exp.Body.String() != "key,name,arr,renewal_on,lifecycle_stage,segment,csm_email\nacme,Acme,100,,onboarding,,\nbolt,Bolt,5,,onboarding,,\n" {
			t.Fatalf("export %q", exp.Body.String())
		}
		app.loggedIn(models.RoleManager).get("/settings/export/accounts").expect(http.StatusForbidden)
	})
}
