package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func f64(v float64) *float64 { return &v }

func TestAUCHandComputed(t *testing.T) {
	for _, c := range []struct {
		kept, lost []float64
		want       string
	}{
		// Pairs: 80>60, 80>40, 60=60 (½), 60>40, 60=60 (½), 60>40: 5 of 6.
		{[]float64{80, 60, 60}, []float64{60, 40}, "0.8333"},
		{[]float64{90}, []float64{10}, "1.0000"},
		{[]float64{10}, []float64{90}, "0.0000"},
		{[]float64{50, 50}, []float64{50}, "0.5000"}, // all tied
		{[]float64{70, 30}, []float64{50}, "0.5000"},
		{[]float64{70, 30}, nil, "nil"}, // no lost renewal
		{nil, []float64{20, 30}, "nil"}, // every renewal lost
	} {
		got := "nil"
		if a := AUC(c.kept, c.lost); a != nil {
			got = fmt.Sprintf("%.4f", *a)
		}
		if got != c.want {
			t.Errorf("AUC(%v, %v) = %s, want %s", c.kept, c.lost, got, c.want)
		}
	}
}

// scored is a renewal whose health has a score, a colour and a stickiness value.
func scored(id string, lost bool, score float64, color string, stickiness *float64) ScoredRenewal {
	return ScoredRenewal{ID: id, Lost: lost, Health: Health{Score: f64(score), Color: color,
		Measures: []Measure{{Key: MeasureStickiness, Value: stickiness}}}}
}

func TestBacktestByColorAndMeasures(t *testing.T) {
	rs := []ScoredRenewal{
		scored("a", false, 85, "green", f64(0.5)),
		scored("b", false, 72, "green", f64(0.3)),
		scored("c", true, 75, "green", f64(0.1)),
		scored("d", false, 55, "yellow", nil), // no stickiness: left out of its AUC
		scored("e", true, 50, "yellow", f64(0.2)),
		scored("f", true, 20, "red", f64(0.05)),
		{ID: "g", Lost: true, Health: Health{}}, // no usage by the lead day
	}
	b := RunBacktest(90, rs, 2)
	if b.LeadDays != 90 || b.Renewals != 6 || b.Lost != 3 || b.Excluded != 3 {
		t.Errorf("counts %+v", b)
	}
	// Kept 85, 72, 55 vs lost 75, 50, 20: 85 beats all 3, 72 beats 2, 55 beats 2 → 7/9.
	if b.AUC == nil || math.Abs(*b.AUC-7.0/9) > 1e-9 {
		t.Errorf("AUC %v", b.AUC)
	}
	if g := b.ByColor["green"]; g.Renewals != 3 || g.Lost != 1 || math.Abs(*g.LostRate-1.0/3) > 1e-9 {
		t.Errorf("green %+v", g)
	}
	if r := b.ByColor["red"]; r.Renewals != 1 || *r.LostRate != 1 {
		t.Errorf("red %+v", r)
	}
	// Stickiness: kept 0.5, 0.3 vs lost 0.1, 0.2, 0.05: every pair kept > lost.
	for _, m := range b.Measures {
		if m.Key == MeasureStickiness && (m.AUC == nil || *m.AUC != 1) {
			t.Errorf("stickiness AUC %v", m.AUC)
		}
		if m.Key == MeasureBreadth && m.AUC != nil {
			t.Errorf("breadth has no values but an AUC %v", *m.AUC)
		}
	}
	empty := RunBacktest(30, nil, 0)
	if empty.AUC != nil || empty.ByColor["green"].LostRate != nil || len(empty.Measures) != len(MeasureKeys) {
		t.Errorf("empty backtest %+v", empty)
	}
}

// book generates renewals whose outcome is driven by one measure (with noise), the
// others being independent of it.
func book(n int, driver string, seed uint64) []ScoredRenewal {
	rng := rand.New(rand.NewPCG(seed, seed))
	cfg := DefaultConfig()
	var rs []ScoredRenewal
	for i := range n {
		h := Health{}
		var drive float64
		for _, k := range MeasureKeys {
			v := rng.Float64() * cfg.Measures[k].Target
			if k == driver {
				drive = v / cfg.Measures[k].Target
			}
			h.Measures = append(h.Measures, Measure{Key: k, Value: f64(v)})
		}
		h.Score, h.Color = f64(50), "yellow" // not used by the fit
		lost := drive+rng.NormFloat64()*0.15 < 0.4
		rs = append(rs, ScoredRenewal{ID: fmt.Sprintf("r%04d", i), Lost: lost, Health: h})
	}
	return rs
}

func TestSuggestWeightsFindsTheMeasureThatDrivesOutcomes(t *testing.T) {
	cfg := DefaultConfig()
	s := SuggestWeights(book(240, MeasureStickiness, 7), cfg)
	if !s.Enough || s.Folds != 5 || s.Renewals != 240 {
		t.Fatalf("suggestion %+v", s)
	}
	if s.Suggested[MeasureStickiness] <= cfg.Measures[MeasureStickiness].Weight {
		t.Errorf("stickiness drives the outcomes but its weight went %v → %v", cfg.Measures[MeasureStickiness].Weight, s.Suggested[MeasureStickiness])
	}
	total := 0.0
	for _, w := range s.Suggested {
		total += w
	}
	if total != 100 {
		t.Errorf("suggested weights sum to %v", total)
	}
	if *s.HeldOutAUC <= *s.CurrentAUC {
		t.Errorf("held-out AUC %.3f is no better than today's %.3f", *s.HeldOutAUC, *s.CurrentAUC)
	}
	if *s.InSampleAUC < *s.HeldOutAUC-0.05 {
		t.Errorf("in-sample AUC %.3f far below held-out %.3f", *s.InSampleAUC, *s.HeldOutAUC)
	}
	// Deterministic: the same book gives the same suggestion.
	if again := SuggestWeights(book(240, MeasureStickiness, 7), cfg); fmt.Sprint(again.Suggested) != fmt.Sprint(s.Suggested) {
		t.Errorf("not deterministic: %v vs %v", again.Suggested, s.Suggested)
	}
}

func TestSuggestWeightsNeedsEnoughRenewals(t *testing.T) {
	cfg := DefaultConfig()
	rs := book(19, MeasureBreadth, 3)
	if s := SuggestWeights(rs, cfg); s.Enough || s.Suggested != nil || s.HeldOutAUC != nil {
		t.Errorf("19 renewals: %+v", s)
	}
	// Enough renewals but fewer than five lost.
	var mostlyKept []ScoredRenewal
	lost := 0
	for _, r := range book(200, MeasureBreadth, 3) {
		if r.Lost {
			if lost == 4 {
				continue
			}
			lost++
		}
		mostlyKept = append(mostlyKept, r)
	}
	if s := SuggestWeights(mostlyKept, cfg); s.Enough || s.Lost != 4 {
		t.Errorf("4 lost renewals: enough %v, lost %d", s.Enough, s.Lost)
	}
}

func TestNormalizeWeights(t *testing.T) {
	for _, c := range []struct{ in, want []float64 }{
		{[]float64{30, 20, 20, 15, 15}, []float64{30, 20, 20, 15, 15}},
		{[]float64{1, 1, 1}, []float64{34, 33, 33}},
		{[]float64{0, 0}, []float64{50, 50}},
		{[]float64{3, 1}, []float64{75, 25}},
	} {
		if got := normalize(c.in); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("normalize(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
