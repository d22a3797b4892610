package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"

	"sightline/metrics"
	"sightline/models"
)

// SeedRenewals gives the demo two years of renewal history and the renewals ahead, so
// /renewals has a pipeline and a backtest with something real to say.
//
// Each account's health at a past renewal is drawn around its health today (accounts
// mostly stay what they are). Whether the renewal was lost follows that health through
// a logistic curve, so outcomes follow usage plausibly but not perfectly. The scores
// Sightline would have shown 30 to 180 days before are written as snapshots for the
// days before the demo's usage begins (later days have real ones); the further out,
// the noisier the measures, so the score predicts less the earlier it is read. Seat
// activation and daily usage drive outcomes, breadth does not: the suggested weights
// have something to find. Onboarding accounts are new customers without history;
// every tenth account has no renewal record ahead, only its renewal date.
// Run it after Seed and the health snapshots.
func SeedRenewals(ctx context.Context, store *models.Store, today models.Date, usageDays int, log *slog.Logger) (int, error) {
	accounts, err := store.ListAccountsAfter(ctx, "", 100_000)
	if err != nil {
		return 0, err
	}
	cfg, err := store.Scorecard(ctx)
	if err != nil {
		return 0, err
	}
	ids := make([]int64, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	latest, err := store.LatestHealthSnapshots(ctx, ids)
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(7, 0x7e4e3a1))
	usageStart := today.AddDays(-(usageDays - 1))
	actor := models.Actor{Name: "CRM import"}
	var snaps []models.HealthSnapshot
	n := 0
	for i, a := range accounts {
		now := 0.5
		if h, ok := latest[a.ID]; ok && h.Score != nil {
			now = *h.Score / 100
		}
		if i%10 != 3 {
			r := models.Renewal{Key: "fy" + strconv.Itoa(a.RenewalOn.Time().Year()%100), DueOn: a.RenewalOn, ARRBefore: a.ARR, Outcome: models.OutcomePending}
			if _, err := store.UpsertRenewal(ctx, a.Key, &r, actor); err != nil {
				return n, fmt.Errorf("demo: renewal of %s: %w", a.Key, err)
			}
			n++
		}
		if a.LifecycleStage == "onboarding" {
			continue
		}
		// Walk back from today's ARR: each closed renewal ended at the ARR the next began with.
		arrAfter := a.ARR
		for k := 1; k <= 2; k++ {
			due := models.DateOf(a.RenewalOn.Time().AddDate(-k, 0, 0))
			if !due.Before(today) || due.Before(today.AddDays(-730)) {
				continue
			}
			h := clamp(now+rng.NormFloat64()*0.18, 0.02, 1)
			r := pastRenewal(rng, h, arrAfter)
			r.Key, r.DueOn = "fy"+strconv.Itoa(due.Time().Year()%100), due
			closed := due.AddDays(rng.IntN(21) - 14)
			r.ClosedOn = &closed
			if _, err := store.UpsertRenewal(ctx, a.Key, &r, actor); err != nil {
				return n, fmt.Errorf("demo: renewal of %s: %w", a.Key, err)
			}
			n++
			arrAfter = r.ARRBefore
			for _, lead := range models.BacktestLeads {
				day := due.AddDays(-lead)
				if !day.Before(usageStart) {
					continue // a real snapshot exists
				}
				snap, err := models.NewHealthSnapshot(a.ID, day, pastHealth(rng, a, h, lead, day, cfg))
				if err != nil {
					return n, err
				}
				snaps = append(snaps, snap)
			}
		}
	}
	if err := store.PutSnapshots(ctx, snaps); err != nil {
		return n, err
	}
	log.Info("demo renewals created", "renewals", n, "past_snapshots", len(snaps))
	return n, nil
}

var (
	lostNotes     = []string{"Budget cut after a reorganisation", "Seats cut to the people who log in", "Champion left; the new lead uses a competitor", "Dropped the Insights add-on", ""}
	expandedNotes = []string{"Added seats for the new region", "Bought the Insights add-on", "Rolled out to the support team", ""}
)

// pastRenewal draws how a renewal with health h ended, given the ARR it ended at.
func pastRenewal(rng *rand.Rand, h, arrAfter float64) models.Renewal {
	pLost := 1 / (1 + math.Exp(9*(h-0.42)))
	r := models.Renewal{}
	var ratio float64
	switch {
	case rng.Float64() < pLost:
		r.Outcome, ratio = models.OutcomeContracted, 0.55+rng.Float64()*0.35
		r.Note = pick(rng, lostNotes)
	case rng.Float64() < 0.2+0.4*h:
		r.Outcome, ratio = models.OutcomeExpanded, 1.1+rng.Float64()*0.3
		r.Note = pick(rng, expandedNotes)
	default:
		r.Outcome, ratio = models.OutcomeRenewed, 1
	}
	r.ARRBefore = math.Round(arrAfter/ratio/100) * 100
	after := arrAfter
	if r.Outcome == models.OutcomeRenewed {
		after = r.ARRBefore
	}
	r.ARRAfter = &after
	return r
}

// pastHealth is the score an account with latent health h would have shown lead days
// before its renewal: the measures are h plus noise that grows with the lead.
func pastHealth(rng *rand.Rand, a models.Account, h float64, lead int, day models.Date, cfg metrics.Config) metrics.Result {
	sigma := 0.08 + float64(lead)/900
	value := func(key string, attainment float64) *float64 {
		v := cfg.Measures[key].Target * clamp(attainment+rng.NormFloat64()*sigma, 0.02, 1.2)
		v = math.Min(v, 1)
		return &v
	}
	r := metrics.Result{Account: a.Key, AsOf: day.String(), WindowDays: metrics.WindowDays}
	r.DailyUsageRate = value(metrics.MeasureDailyUsageRate, h)
	r.SeatActivation = value(metrics.MeasureSeatActivation, h)
	r.Stickiness = value(metrics.MeasureStickiness, 0.35+0.5*h)
	r.Breadth = value(metrics.MeasureBreadth, 0.3+0.6*rng.Float64())
	execs := 0
	if a.Segment != "smb" {
		execs = int(math.Round(clamp(2*h+rng.NormFloat64()*0.8, 0, 4)))
	}
	r.Exposure.Executive = execs
	r.Health = metrics.ScoreResult(r, cfg)
	return r
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
