// Package demo fills an empty database with a realistic, deterministic data set:
// the same accounts, entitlements, users and 90 days of usage on every run, with
// the days anchored to "today" so the dashboard always looks current.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"gorm.io/gorm"

	"sightline/models"
)

// Logins are the demo team members; each has the password "demo".
var Logins = []struct {
	Email string
	Name  string
	Role  models.Role
}{
	{"admin@demo.test", "Ada Admin", models.RoleAdmin},
	{"manager@demo.test", "Morgan Manager", models.RoleManager},
	{"csm@demo.test", "Casey Success", models.RoleCSM},
	{"pm@demo.test", "Pat Product", models.RolePM},
}

// DefaultDays is how many days of usage the demo has by default.
const DefaultDays = 90

// Options size the data set; the zero value gives the default demo.
type Options struct {
	Accounts int // default 160
	Days     int // days of usage ending today, default 90
	Seed     uint64
}

// Result tells what was created.
type Result struct {
	Accounts, Features, Entitlements, Users, RollupRows int
}

type featureSpec struct {
	key, name, product, event string
	popularity                float64 // share of an entitled account's users who use it; 0 = nobody
	isKey                     bool
}

var products = []struct{ key, name string }{
	{"platform", "Platform"}, {"insights", "Insights"}, {"connect", "Connect"},
}

var featureSpecs = []featureSpec{
	{"dashboards", "Dashboards", "platform", "Dashboard Viewed", 0.85, true},
	{"reports", "Reports", "platform", "Report Run", 0.6, true},
	{"alerts", "Alerts", "platform", "Alert Created", 0.3, false},
	{"sharing", "Sharing", "platform", "Item Shared", 0.35, false},
	{"search", "Search", "platform", "Search Performed", 0.7, false},
	{"api-access", "API access", "platform", "API Key Used", 0.08, false},
	{"sso", "Single sign-on", "platform", "SSO Login", 0.25, false},
	{"audit-log", "Audit log", "platform", "Audit Log Viewed", 0.04, false},
	{"forecasting", "Forecasting", "insights", "Forecast Built", 0.3, true},
	{"cohorts", "Cohorts", "insights", "Cohort Analysed", 0.22, false},
	{"funnels", "Funnels", "insights", "Funnel Viewed", 0.28, false},
	{"anomaly-detection", "Anomaly detection", "insights", "Anomaly Reviewed", 0.12, false},
	{"ai-assistant", "AI assistant", "insights", "Assistant Asked", 0.18, true},
	{"data-export", "Data export", "insights", "Data Exported", 0.1, false},
	{"scenario-planner", "Scenario planner", "insights", "Scenario Planned", 0, false},
	{"connectors", "Connectors", "connect", "Connector Synced", 0.4, true},
	{"webhooks", "Webhooks", "connect", "Webhook Delivered", 0.15, false},
	{"sync-scheduler", "Sync scheduler", "connect", "Sync Scheduled", 0.2, false},
	{"data-catalog", "Data catalog", "connect", "Catalog Browsed", 0.1, false},
	{"lineage", "Lineage", "connect", "Lineage Viewed", 0.006, false},
	{"sandbox", "Sandbox", "connect", "Sandbox Opened", 0, false},
	{"mobile-app", "Mobile app", "platform", "Mobile Session", 0.12, false},
}

var (
	nameA = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay",
		"Soylent", "Tyrell", "Cyberdyne", "Aperture", "Gringotts", "Oscorp", "Massive", "Nimbus", "Pied Piper",
		"Blue Sun", "Monarch", "Atlas", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum",
		"Proseware", "Woodgrove", "Lucerne", "Margie", "Alpine", "Coho", "Fourth Coffee", "Humongous", "Wingtip",
		"Trey", "Relecloud", "Datum", "Bellows"}
	nameB       = []string{"Corp", "Industries", "Labs", "Systems", "Group", "Holdings"}
	departments = []string{"Sales", "Marketing", "Engineering", "Support", "Finance", "Operations", "Product", "People"}
	firstNames  = []string{"Alex", "Sam", "Jordan", "Taylor", "Riley", "Jamie", "Avery", "Quinn", "Noor", "Mei",
		"Lars", "Ines", "Tomás", "Aiko", "Ravi", "Zara", "Kofi", "Lena", "Omar", "Yuki"}
	lastNames = []string{"Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Müller", "Haddad", "Rossi",
		"Patel", "Johansson", "Dubois", "Nakamura", "Kowalski", "Mensah"}
	csms = []string{"csm@demo.test", "jo.rivera@demo.test", "sam.lee@demo.test", "kim.osei@demo.test", "lou.berg@demo.test"}
)

type trend int

const (
	growing trend = iota
	flat
	declining
)

type demoAccount struct {
	models.Account
	seats      int
	users      int
	trend      trend
	level      float64 // typical share of users active on a weekday
	products   []string
	metered    bool
	devices    bool
	outcome    bool
	concurrent bool
	// quietDays: the account has sent nothing for this many days (it went dark);
	// execsQuietDays: its executives have not, so none is active any more.
	quietDays, execsQuietDays int
}

// Seed fills the database. It refuses a database that already has accounts.
func Seed(ctx context.Context, store *models.Store, today models.Date, opt Options, log *slog.Logger) (Result, error) {
	if opt.Accounts == 0 {
		opt.Accounts = 160
	}
	if opt.Days == 0 {
		opt.Days = DefaultDays
	}
	if log == nil {
		log = slog.Default()
	}
	var res Result
	if n, err := store.CountAccounts(ctx); err != nil {
		return res, err
	} else if n > 0 {
		return res, fmt.Errorf("demo: the database already has %d accounts; demo data goes only into an empty one", n)
	}
	rng := rand.New(rand.NewPCG(opt.Seed+42, 0x5167687))
	start := time.Now()

	for _, f := range featureSpecs {
		feat := &models.Feature{Key: f.key, Name: f.name, Product: f.product, EventNames: []string{f.event}, KeyFeature: f.isKey}
		if _, err := store.UpsertFeature(ctx, feat); err != nil {
			return res, fmt.Errorf("demo: feature %s: %w", f.key, err)
		}
		res.Features++
	}

	accounts := makeAccounts(rng, opt.Accounts, today)
	for i := range accounts {
		a := &accounts[i]
		if _, err := store.UpsertAccount(ctx, &a.Account); err != nil {
			return res, fmt.Errorf("demo: account %s: %w", a.Key, err)
		}
		for _, e := range makeEntitlements(rng, a, today) {
			if _, err := store.UpsertEntitlement(ctx, a.Key, &e); err != nil {
				return res, fmt.Errorf("demo: entitlement %s/%s: %w", a.Key, e.Key, err)
			}
			res.Entitlements++
		}
	}
	res.Accounts = len(accounts)

	err := store.Transaction(ctx, func(tx *gorm.DB) error {
		users, rollups, err := makeUsage(ctx, tx, rng, accounts, today, opt.Days)
		res.Users, res.RollupRows = users, rollups
		return err
	})
	if err != nil {
		return res, err
	}
	log.Info("demo data created", "accounts", res.Accounts, "features", res.Features,
		"entitlements", res.Entitlements, "users", res.Users, "rollup_rows", res.RollupRows,
		"took", time.Since(start).Round(time.Millisecond).String())
	return res, nil
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func slug(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "-", "ü", "u").Replace(s))
}

func makeAccounts(rng *rand.Rand, n int, today models.Date) []demoAccount {
	seen := map[string]bool{}
	out := make([]demoAccount, 0, n)
	for i := 0; len(out) < n; i++ {
		name := nameA[i%len(nameA)] + " " + nameB[(i/len(nameA))%len(nameB)]
		if i >= len(nameA)*len(nameB) {
			name = fmt.Sprintf("%s %d", name, i)
		}
		key := slug(name)
		if seen[key] {
			continue
		}
		seen[key] = true
		a := demoAccount{}
		a.Key, a.Name = key, name
		r := rng.Float64()
		switch {
		case r < 0.2:
			a.Segment, a.seats = "enterprise", 60+rng.IntN(90)
		case r < 0.55:
			a.Segment, a.seats = "mid-market", 15+rng.IntN(40)
		default:
			a.Segment, a.seats = "smb", 4+rng.IntN(14)
		}
		a.ARR = math.Round(float64(a.seats)*(900+rng.Float64()*700)/100) * 100
		a.LifecycleStage = models.LifecycleStages[rng.IntN(3)]
		a.CSMEmail = csms[i%len(csms)]
		a.RenewalOn = today.AddDays(rng.IntN(420) - 20)
		if a.LifecycleStage == "renewal" {
			a.RenewalOn = today.AddDays(5 + rng.IntN(150))
		}
		// Some accounts buy more seats than they use, some fewer.
		a.users = max(2, int(float64(a.seats)*(0.4+rng.Float64()*0.7)))
		a.trend = trend(rng.IntN(3))
		a.level = 0.25 + rng.Float64()*0.5
		a.products = []string{"platform"}
		if rng.Float64() < 0.6 {
			a.products = append(a.products, "insights")
		}
		if rng.Float64() < 0.4 {
			a.products = append(a.products, "connect")
		}
		a.metered = rng.Float64() < 0.35
		a.devices = rng.Float64() < 0.2
		a.outcome = rng.Float64() < 0.1
		a.concurrent = rng.Float64() < 0.15
		out = append(out, a)
	}
	// Two stories the alerts should catch: a customer that went quiet, and one whose
	// executives stopped logging in a month ago.
	for i := range out {
		if i >= 8 && out[i].LifecycleStage == "adoption" {
			out[i].quietDays = 9
			break
		}
	}
	for i := range out {
		if i >= 8 && out[i].Segment == "enterprise" && out[i].quietDays == 0 {
			out[i].execsQuietDays = 33
			break
		}
	}
	return out
}

// makeEntitlements gives an account its contracts. Between them the demo covers all
// eight models, expired and not-yet-started terms, and over- and under-use.
func makeEntitlements(rng *rand.Rand, a *demoAccount, today models.Date) []models.Entitlement {
	termStart := today.AddDays(-300 - rng.IntN(200))
	termEnd := a.RenewalOn
	if !termEnd.After(today) {
		termEnd = today.AddDays(30)
	}
	var es []models.Entitlement
	seatModel := "user"
	if rng.Float64() < 0.3 {
		seatModel = "subscription"
	}
	es = append(es, models.Entitlement{Key: "platform-seats", Product: "platform", Model: seatModel,
		Quantity: float64(a.seats), Unit: "seats", UnitPrice: math.Round(a.ARR / float64(a.seats)),
		StartsOn: termStart, EndsOn: termEnd})
	for _, p := range a.products[1:] {
		e := models.Entitlement{Key: p + "-seats", Product: p, Model: "user",
			Quantity: float64(max(3, a.seats*3/4+rng.IntN(a.seats/2+1))), Unit: "seats",
			UnitPrice: float64(200 + rng.IntN(400)), StartsOn: termStart, EndsOn: termEnd}
		if p == "insights" && rng.Float64() < 0.3 {
			// A package of selected features, not the whole product.
			e.Features = []string{"forecasting", "funnels", "ai-assistant"}
		}
		if p == "connect" && rng.Float64() < 0.3 {
			e.Model, e.Quantity, e.Unit, e.EndsOn = "perpetual", float64(max(3, a.seats/2+rng.IntN(a.seats/2+1))), "licenses", models.Date{}
		}
		es = append(es, e)
	}
	if a.metered {
		es = append(es, models.Entitlement{Key: "api-calls", Product: "platform", Model: "metered",
			Quantity: math.Round(float64(a.users*(5000+rng.IntN(9000)))/10000+1) * 10000, Unit: "api_calls", UnitPrice: 0.002,
			StartsOn: today.AddDays(-60 - rng.IntN(30)), EndsOn: termEnd})
	}
	if a.devices {
		es = append(es, models.Entitlement{Key: "mobile-devices", Product: "platform", Model: "device",
			Quantity: float64(max(3, a.users/2+rng.IntN(a.users/3+1))), Unit: "devices", UnitPrice: 60,
			StartsOn: termStart, EndsOn: termEnd})
	}
	if a.concurrent {
		es = append(es, models.Entitlement{Key: "concurrent-analysts", Product: "insights", Model: "concurrent",
			Quantity: float64(max(2, a.users/3+rng.IntN(a.users/4+1))), Unit: "sessions", UnitPrice: 900,
			StartsOn: termStart, EndsOn: termEnd})
	}
	if a.outcome {
		es = append(es, models.Entitlement{Key: "resolved-tickets", Product: "platform", Model: "outcome",
			Quantity: 500, Unit: "tickets_resolved", UnitPrice: 4, StartsOn: today.AddDays(-45), EndsOn: termEnd})
	}
	switch rng.IntN(6) {
	case 0: // an add-on that ran out
		es = append(es, models.Entitlement{Key: "pilot-usage", Product: "insights", Model: "usage",
			Quantity: 10000, Unit: "gb_processed", UnitPrice: 0.5,
			StartsOn: today.AddDays(-200), EndsOn: today.AddDays(-20)})
	case 1: // an expansion signed but not started
		es = append(es, models.Entitlement{Key: "expansion-seats", Product: "platform", Model: "user",
			Quantity: float64(max(5, a.seats/3)), Unit: "seats", UnitPrice: 700,
			StartsOn: today.AddDays(15 + rng.IntN(40)), EndsOn: today.AddDays(400)})
	case 2: // prepaid usage being consumed
		es = append(es, models.Entitlement{Key: "data-processing", Product: "insights", Model: "usage",
			Quantity: float64(2000 * (1 + rng.IntN(5))), Unit: "gb_processed", UnitPrice: 0.4,
			StartsOn: today.AddDays(-80), EndsOn: termEnd})
	}
	return es
}

// activeShare is how likely an account's user is active on day i of n, by trend.
func activeShare(a *demoAccount, i, n int) float64 {
	x := float64(i) / float64(max(n-1, 1))
	switch a.trend {
	case growing:
		return a.level * (0.45 + 0.9*x)
	case declining:
		return a.level * (1.35 - 0.9*x)
	default:
		return a.level
	}
}

type demoUser struct {
	id         int64
	account    *demoAccount
	propensity float64
	features   []featureSpec
	device     string
	executive  bool
}

func makeUsage(ctx context.Context, tx *gorm.DB, rng *rand.Rand, accounts []demoAccount, today models.Date, days int) (int, int, error) {
	first := today.AddDays(-(days - 1))
	var users []demoUser
	for i := range accounts {
		a := &accounts[i]
		entitled := map[string]bool{}
		for _, p := range a.products {
			entitled[p] = true
		}
		batch := make([]models.EndUser, 0, a.users)
		for u := 0; u < a.users; u++ {
			fn, ln := pick(rng, firstNames), pick(rng, lastNames)
			level := "individual"
			switch r := rng.Float64(); {
			case r < 0.04 || (u == 0 && a.Segment == "enterprise"):
				level = "executive"
			case r < 0.2:
				level = "manager"
			case r < 0.27:
				level = "unknown"
			}
			dept := pick(rng, departments[:3+rng.IntN(len(departments)-2)])
			if rng.Float64() < 0.05 {
				dept = ""
			}
			group := a.Key
			joined := first.Time().Add(time.Duration(rng.IntN(8)) * time.Hour)
			batch = append(batch, models.EndUser{
				UserKey: fmt.Sprintf("%s-u%04d", a.Key, u), GroupKey: &group, GroupAt: &joined,
				Email: strings.ToLower(fmt.Sprintf("%s.%s%d@%s.example", slug(fn), slug(ln), u, a.Key)),
				Name:  fn + " " + ln, Department: dept, Level: level, TraitsAt: &joined,
				FirstSeenAt: joined, LastSeenAt: today.Time(),
			})
		}
		if err := tx.WithContext(ctx).CreateInBatches(&batch, 500).Error; err != nil {
			return 0, 0, fmt.Errorf("demo: users of %s: %w", a.Key, err)
		}
		for _, eu := range batch {
			du := demoUser{id: eu.ID, account: a, propensity: 0.3 + rng.Float64()*1.2, executive: eu.Level == "executive"}
			for _, f := range featureSpecs {
				if entitled[f.product] && rng.Float64() < f.popularity {
					du.features = append(du.features, f)
				}
			}
			if a.devices && rng.Float64() < 0.6 {
				du.device = fmt.Sprintf("dev-%d", eu.ID)
			}
			users = append(users, du)
		}
	}

	rows := 0
	for d := 0; d < days; d++ {
		day := first.AddDays(d)
		weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
		r := models.NewRollups()
		ago := days - 1 - d
		for _, u := range users {
			if ago < u.account.quietDays || (u.executive && ago < u.account.execsQuietDays) {
				continue
			}
			p := activeShare(u.account, d, days) * u.propensity
			if weekend {
				p *= 0.12
			}
			if rng.Float64() >= min(p, 0.97) {
				continue
			}
			hour := 7 + rng.IntN(10)
			at := day.Time().Add(time.Duration(hour)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
			r.AddActivity(u.id, at)
			r.AddEvent(u.id, at, "Signed In", 0)
			for _, f := range u.features {
				if rng.Float64() < 0.55 {
					t := at.Add(time.Duration(rng.IntN(2*3600)) * time.Second)
					for n := 1 + rng.IntN(3); n > 0; n-- {
						r.AddActivity(u.id, t)
						r.AddEvent(u.id, t, f.event, 0)
					}
				}
			}
			end := at.Add(time.Duration(300+rng.IntN(3000)) * time.Second)
			r.AddActivity(u.id, end)
			r.AddEvent(u.id, end, "Session Ended", end.Sub(at).Seconds())
			if u.device != "" {
				r.AddDevice(u.id, at, u.device)
			}
			// Metered quantities arrive as "Usage Reported" track events.
			report := func(meter string, quantity float64) {
				r.AddActivity(u.id, at)
				r.AddEvent(u.id, at, "Usage Reported", 0)
				r.AddMeter(u.id, at, meter, quantity)
			}
			if u.account.metered && rng.Float64() < 0.5 {
				report("api_calls", float64(100+rng.IntN(900)))
			}
			if u.account.outcome && rng.Float64() < 0.3 {
				report("tickets_resolved", float64(1+rng.IntN(3)))
			}
			if rng.Float64() < 0.1 {
				report("gb_processed", float64(1+rng.IntN(40)))
			}
		}
		rows += r.Len()
		if err := models.ApplyRollups(ctx, tx, r); err != nil {
			return 0, 0, fmt.Errorf("demo: usage of %s: %w", day, err)
		}
	}
	return len(users), rows, nil
}
