package metrics

import "testing"

func TestDescribeMovement(t *testing.T) {
	for _, c := range []struct {
		m    Movement
		want string
	}{
		{Movement{Key: MeasureDailyUsageRate, From: f(0.64), To: f(0.41), Points: -9.2}, "daily usage rate fell from 64% to 41%: −9 points"},
		{Movement{Key: MeasureSeatActivation, From: f(0.5), To: f(0.62), Points: 2.6}, "seat activation rose from 50% to 62%: +3 points"},
		{Movement{Key: MeasureStickiness, From: f(0.2), To: f(0.21), Points: 0.4}, "stickiness rose from 20% to 21%: +0.4 points"},
		{Movement{Key: MeasureBreadth, From: f(0.5), To: f(0.5), Points: -1}, "breadth held at 50%: −1 point"},
		{Movement{Key: MeasureExecutiveExposure, From: f(1), To: f(0), Points: -15}, "executive exposure fell from 1 active executive to 0 active executives: −15 points"},
		{Movement{Key: MeasureDailyUsageRate, From: nil, To: f(0.3), Points: 12}, "daily usage rate is now measured at 30%: +12 points"},
		{Movement{Key: MeasureDailyUsageRate, From: f(0.3), To: nil, Points: -12}, "daily usage rate is no longer measured (was 30%): −12 points"},
		{Movement{Key: MeasureBreadth, From: f(0.5), To: f(0.5), Points: 0.01}, "breadth held at 50%: ±0 points"},
		{Movement{Key: MeasureDailyUsageRate, From: f(0.0989), To: f(0.1026), Points: 0.16}, "daily usage rate edged up to 10%: +0.2 points"},
	} {
		if got := DescribeMovement(c.m); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

func TestDescribeScore(t *testing.T) {
	for _, c := range []struct {
		from, to *float64
		want     string
	}{
		{f(72.4), f(58.1), "health score fell from 72 to 58 in 30 days"},
		{f(58), f(72), "health score rose from 58 to 72 in 30 days"},
		{f(58.2), f(57.9), "health score held at 58 in 30 days"},
		{nil, f(50), "health score is 50; there was none 30 days ago"},
		{nil, nil, "no health score in 30 days"},
	} {
		if got := DescribeScore(c.from, c.to, 30); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestExplain(t *testing.T) {
	p := Prepare(fixture())
	cfg := DefaultConfig()
	now, before := p.Compute(D, cfg), p.Compute(D-30, cfg)
	// 30 days earlier (W = D-59 … D-30) only user 5 was active (D-30), an executive
	// with one weekday login (D-30 is a Friday) and the alerts feature; seats were
	// seats (8) + sub (2) + old (50) = 60, as "ends-today"… had started long before.
	if before.ActiveUsers != 1 || before.LicensedSeats != 60 {
		t.Fatalf("before: %d active, %v seats", before.ActiveUsers, before.LicensedSeats)
	}
	e := Explain(now, before, 30)
	if e.Days != 30 || e.Since != (D-30).String() || e.FromScore == nil || e.ToScore == nil {
		t.Fatalf("%+v", e)
	}
	if len(e.Movements) == 0 {
		t.Fatal("no movements")
	}
	total := 0.0
	for i, m := range e.Movements {
		total += m.Points
		if m.Text != DescribeMovement(m) {
			t.Errorf("movement text %q", m.Text)
		}
		if i > 0 && abs(m.Points) > abs(e.Movements[i-1].Points) {
			t.Errorf("movements not sorted by size: %+v", e.Movements)
		}
	}
	// Unchanged measures are left out, so the movements add up to the score change.
	if !near(total, *e.ToScore-*e.FromScore) {
		t.Errorf("movements add to %v, score moved %v", total, *e.ToScore-*e.FromScore)
	}
	// Executive exposure is 1 both times (user 5 then, user 1 now): not a movement.
	for _, m := range e.Movements {
		if m.Key == MeasureExecutiveExposure {
			t.Errorf("unchanged measure listed: %+v", m)
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
