package metrics

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// Does the health score predict renewals? SPEC §9: for each closed renewal, the
// account's health some lead days before it was due; the AUC is the probability that
// a kept renewal had a higher score than a lost one (ties count one half).

// ScoredRenewal is a closed renewal with the account's health as of its lead day.
type ScoredRenewal struct {
	// ID orders renewals stably (for the folds of the weight fit): account/key.
	ID     string
	Lost   bool
	Health Health
}

// ColorOutcome is how the renewals of one colour ended.
type ColorOutcome struct {
	Renewals int      `json:"renewals"`
	Lost     int      `json:"lost"`
	LostRate *float64 `json:"lost_rate"`
}

// MeasureAUC is one measure's power to separate kept from lost renewals.
type MeasureAUC struct {
	Key string   `json:"key"`
	AUC *float64 `json:"auc"`
}

// Backtest is SPEC §9's insight at one lead time.
type Backtest struct {
	LeadDays int                     `json:"lead_days"`
	Renewals int                     `json:"renewals"`
	Lost     int                     `json:"lost"`
	Excluded int                     `json:"excluded"`
	AUC      *float64                `json:"auc"`
	ByColor  map[string]ColorOutcome `json:"by_color"`
	Measures []MeasureAUC            `json:"measures"`
}

// Colors are the health colours, best first.
var Colors = []string{"green", "yellow", "red"}

// AUC is the probability that a kept value is higher than a lost one, ties counting
// one half (the Mann–Whitney statistic over ranks); nil without both.
func AUC(kept, lost []float64) *float64 {
	if len(kept) == 0 || len(lost) == 0 {
		return nil
	}
	type v struct {
		x    float64
		kept bool
	}
	all := make([]v, 0, len(kept)+len(lost))
	for _, x := range kept {
		all = append(all, v{x, true})
	}
	for _, x := range lost {
		all = append(all, v{x, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].x < all[j].x })
	// Sum of the kept values' ranks, tied values sharing their mean rank.
	rankSum := 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].x == all[i].x {
			j++
		}
		mean := float64(i+j+1) / 2 // ranks i+1 … j
		for k := i; k < j; k++ {
			if all[k].kept {
				rankSum += mean
			}
		}
		i = j
	}
	nk, nl := float64(len(kept)), float64(len(lost))
	a := (rankSum - nk*(nk+1)/2) / (nk * nl)
	return &a
}

// RunBacktest measures the score at one lead time. Renewals without a score (no usage
// by the lead day) are left out and counted with excluded.
func RunBacktest(lead int, rs []ScoredRenewal, excluded int) Backtest {
	b := Backtest{LeadDays: lead, Excluded: excluded, ByColor: map[string]ColorOutcome{}, Measures: []MeasureAUC{}}
	var kept, lost []float64
	measures := map[string][2][]float64{} // key → kept values, lost values
	for _, r := range rs {
		if r.Health.Score == nil {
			b.Excluded++
			continue
		}
		b.Renewals++
		c := b.ByColor[r.Health.Color]
		c.Renewals++
		if r.Lost {
			b.Lost++
			c.Lost++
			lost = append(lost, *r.Health.Score)
		} else {
			kept = append(kept, *r.Health.Score)
		}
		b.ByColor[r.Health.Color] = c
		for _, m := range r.Health.Measures {
			if m.Value == nil {
				continue
			}
			vs := measures[m.Key]
			if r.Lost {
				vs[1] = append(vs[1], *m.Value)
			} else {
				vs[0] = append(vs[0], *m.Value)
			}
			measures[m.Key] = vs
		}
	}
	for _, color := range Colors {
		c := b.ByColor[color]
		c.LostRate = ratio(float64(c.Lost), float64(c.Renewals))
		b.ByColor[color] = c
	}
	b.AUC = AUC(kept, lost)
	for _, k := range MeasureKeys {
		b.Measures = append(b.Measures, MeasureAUC{Key: k, AUC: AUC(measures[k][0], measures[k][1])})
	}
	return b
}

// Learning weights from renewals: too few, and any fit is noise.
const (
	MinRenewalsToLearn = 20 // closed renewals with a score
	MinEachOutcome     = 5  // of them lost, and of them kept
	weightFolds        = 5
)

// WeightSuggestion is a reweighting of the scorecard that would have told kept from
// lost renewals better, with the honest figure: HeldOutAUC scores each renewal with
// weights fitted without it (5-fold cross-validation), so it estimates how the fitted
// weights do on renewals they have not seen. InSampleAUC, of the suggested weights on
// the very renewals they were fitted on, flatters them and is shown only beside it.
type WeightSuggestion struct {
	Enough      bool               `json:"enough"`
	Renewals    int                `json:"renewals"`
	Lost        int                `json:"lost"`
	Current     map[string]float64 `json:"current_weights"`
	CurrentAUC  *float64           `json:"current_auc"`
	Suggested   map[string]float64 `json:"suggested_weights,omitempty"`
	HeldOutAUC  *float64           `json:"held_out_auc"`
	InSampleAUC *float64           `json:"in_sample_auc"`
	Folds       int                `json:"folds"`
}

// SuggestWeights fits integer weights (summing to 100) over the scorecard's measures,
// scoring each renewal's measure values under today's targets, to maximise the AUC.
func SuggestWeights(rs []ScoredRenewal, cfg Config) WeightSuggestion {
	var rows []fitRow
	for _, r := range rs {
		if r.Health.Score == nil {
			continue
		}
		row := fitRow{id: r.ID, lost: r.Lost, scores: make([]*float64, len(MeasureKeys))}
		for i, k := range MeasureKeys {
			for _, m := range r.Health.Measures {
				if m.Key == k && m.Value != nil && cfg.Measures[k].Target > 0 {
					s := math.Min(*m.Value/cfg.Measures[k].Target, 1) * 100
					row.scores[i] = &s
				}
			}
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b fitRow) int { return cmp.Compare(a.id, b.id) })
	current := make([]float64, len(MeasureKeys))
	for i, k := range MeasureKeys {
		current[i] = cfg.Measures[k].Weight
	}
	s := WeightSuggestion{Renewals: len(rows), Current: weightMap(current), CurrentAUC: aucWith(rows, current), Folds: weightFolds}
	for _, r := range rows {
		if r.lost {
			s.Lost++
		}
	}
	s.Enough = s.Renewals >= MinRenewalsToLearn && s.Lost >= MinEachOutcome && s.Renewals-s.Lost >= MinEachOutcome
	if !s.Enough {
		return s
	}
	start := normalize(current)
	// Held out: each renewal scored with weights fitted on the folds without it.
	fold := make([]int, len(rows))
	var nLost, nKept int
	for i, r := range rows { // stratified: each fold gets its share of lost and kept
		if r.lost {
			fold[i] = nLost % weightFolds
			nLost++
		} else {
			fold[i] = nKept % weightFolds
			nKept++
		}
	}
	var kept, lost []float64
	for f := range weightFolds {
		var train []fitRow
		for i, r := range rows {
			if fold[i] != f {
				train = append(train, r)
			}
		}
		w := fitWeights(train, start)
		for i, r := range rows {
			if fold[i] != f {
				continue
			}
			if v := weighted(r.scores, w); v != nil {
				if r.lost {
					lost = append(lost, *v)
				} else {
					kept = append(kept, *v)
				}
			}
		}
	}
	s.HeldOutAUC = AUC(kept, lost)
	w := fitWeights(rows, start)
	s.Suggested, s.InSampleAUC = weightMap(w), aucWith(rows, w)
	return s
}

type fitRow struct {
	id     string
	lost   bool
	scores []*float64 // per MeasureKeys: min(value/target, 1) × 100, nil without a value
}

// weighted is the score under weights: the weighted mean of the measures that have a
// value, as the health score is computed (nil when none has weight).
func weighted(scores []*float64, w []float64) *float64 {
	total, sum := 0.0, 0.0
	for i, s := range scores {
		if s != nil {
			total += w[i]
			sum += w[i] * *s
		}
	}
	if total <= 0 {
		return nil
	}
	v := sum / total
	return &v
}

func aucWith(rows []fitRow, w []float64) *float64 {
	var kept, lost []float64
	for _, r := range rows {
		if v := weighted(r.scores, w); v != nil {
			if r.lost {
				lost = append(lost, *v)
			} else {
				kept = append(kept, *v)
			}
		}
	}
	return AUC(kept, lost)
}

// normalize rounds weights to integers summing to 100 (largest remainders).
func normalize(w []float64) []float64 {
	total := 0.0
	for _, x := range w {
		total += x
	}
	out := make([]float64, len(w))
	if total <= 0 {
		for i := range out {
			out[i] = 100 / float64(len(w))
		}
		return normalize(out)
	}
	rest := 100
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	for i, x := range w {
		exact := x / total * 100
		out[i] = math.Floor(exact)
		rest -= int(out[i])
		rems = append(rems, rem{i, exact - out[i]})
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; k < rest; k++ {
		out[rems[k%len(rems)].i]++
	}
	return out
}

// fitWeights climbs from start: it moves weight between two measures, in steps of
// 20, then 10, 5, 2 and 1 points, whenever that strictly raises the AUC on rows.
// Starting from today's weights and taking only strict gains keeps the suggestion as
// close to them as the evidence allows.
func fitWeights(rows []fitRow, start []float64) []float64 {
	w := slices.Clone(start)
	score := func(w []float64) float64 {
		if a := aucWith(rows, w); a != nil {
			return *a
		}
		return 0
	}
	best := score(w)
	for _, step := range []float64{20, 10, 5, 2, 1} {
		for improved := true; improved; {
			improved = false
			for from := range w {
				for to := range w {
					if from == to || w[from] < step {
						continue
					}
					w[from], w[to] = w[from]-step, w[to]+step
					if a := score(w); a > best+1e-12 {
						best, improved = a, true
						continue
					}
					w[from], w[to] = w[from]+step, w[to]-step
				}
			}
		}
	}
	return w
}

func weightMap(w []float64) map[string]float64 {
	m := map[string]float64{}
	for i, k := range MeasureKeys {
		m[k] = w[i]
	}
	return m
}
