package models

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// PortfolioQuery is what the portfolio is filtered, sorted and paged by. It round-trips
// through the URL so a view can be shared.
type PortfolioQuery struct {
	Search  string
	Segment string
	Stage   string
	CSM     string
	Sort    string // one of PortfolioSorts
	Desc    bool
	Page    int // 1-based
	PerPage int
}

// PortfolioSorts maps sort names to their SQL, whitelisted.
var PortfolioSorts = map[string]string{
	"name":    "lower(a.name)",
	"arr":     "a.arr",
	"renewal": "a.renewal_on",
	"segment": "a.segment",
	"stage":   "a.lifecycle_stage",
	"csm":     "a.csm_email",
}

// ParsePortfolioQuery reads the query from URL parameters, falling back to defaults.
func ParsePortfolioQuery(v url.Values) PortfolioQuery {
	q := PortfolioQuery{
		Search:  strings.TrimSpace(v.Get("q")),
		Segment: v.Get("segment"),
		Stage:   v.Get("stage"),
		CSM:     v.Get("csm"),
		Sort:    v.Get("sort"),
		Desc:    v.Get("dir") == "desc",
		PerPage: 50,
	}
	if _, ok := PortfolioSorts[q.Sort]; !ok {
		q.Sort, q.Desc = "name", false
	}
	q.Page, _ = strconv.Atoi(v.Get("page"))
	if q.Page < 1 {
		q.Page = 1
	}
	return q
}

// Values encodes the query back into URL parameters, leaving out defaults.
func (q PortfolioQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Search)
	set("segment", q.Segment)
	set("stage", q.Stage)
	set("csm", q.CSM)
	if q.Sort != "name" || q.Desc {
		v.Set("sort", q.Sort)
		if q.Desc {
			v.Set("dir", "desc")
		}
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// PortfolioRow is one account as the portfolio lists it.
type PortfolioRow struct {
	Account
	Entitlements int
}

// PortfolioPage is one page of the filtered portfolio and the total it was cut from.
type PortfolioPage struct {
	Rows  []PortfolioRow
	Total int64
}

// ListPortfolio filters, sorts and pages the accounts.
func (s *Store) ListPortfolio(ctx context.Context, q PortfolioQuery) (PortfolioPage, error) {
	db := s.db.WithContext(ctx).Table("accounts a")
	if q.Search != "" {
		like := "%" + escapeLike(strings.ToLower(q.Search)) + "%"
		db = db.Where("(lower(a.name) LIKE ? ESCAPE '\\' OR lower(a.key) LIKE ? ESCAPE '\\')", like, like)
	}
	if q.Segment != "" {
		db = db.Where("a.segment = ?", q.Segment)
	}
	if q.Stage != "" {
		db = db.Where("a.lifecycle_stage = ?", q.Stage)
	}
	if q.CSM != "" {
		db = db.Where("a.csm_email = ?", q.CSM)
	}
	var page PortfolioPage
	if err := db.Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("store: unable to count portfolio: %w", err)
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	order := fmt.Sprintf("%s %s, a.key ASC", PortfolioSorts[q.Sort], dir)
	if q.PerPage <= 0 {
		q.PerPage = 50
	}
	err := db.Select("a.*, (SELECT count(*) FROM entitlements e WHERE e.account_id = a.id) AS entitlements").
		Order(order).Limit(q.PerPage).Offset((max(q.Page, 1) - 1) * q.PerPage).
		Scan(&page.Rows).Error
	if err != nil {
		return page, fmt.Errorf("store: unable to list portfolio: %w", err)
	}
	return page, nil
}

// escapeLike makes user input literal inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
