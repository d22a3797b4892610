package models

import (
	"testing"
	"time"
)

// A replica's lag is how long ago the primary was where the replica is now: 0 when it
// has the newest position however long the primary has been idle, the time since the
// first position past it otherwise, and more than everything kept when it is behind
// all of it.
func TestReplicaLagFromWALPositions(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{{"0/0", 0}, {"0/16B3748", 0x16B3748}, {"16/B374D848", 0x16_B374D848}} {
		got, err := parseLSN(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseLSN(%q) = %x, %v; want %x", c.in, got, err, c.want)
		}
	}
	if _, err := parseLSN("garbage"); err == nil {
		t.Error("parseLSN accepted garbage")
	}

	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	set := &replicaSet{history: []walSample{
		{now.Add(-20 * time.Second), 100},
		{now.Add(-12 * time.Second), 200},
		{now.Add(-3 * time.Second), 300},
		{now.Add(-1 * time.Second), 300}, // idle since
	}}
	for _, c := range []struct {
		lsn  uint64
		want time.Duration
	}{
		{300, 0},                // everything: no lag, though the last write is 3 s old
		{350, 0},                // past the last sample (it was taken before)
		{250, 3 * time.Second},  // the primary passed 250 at the 300 sample
		{200, 3 * time.Second},  // exactly at the 200 sample: behind since 300
		{150, 12 * time.Second}, // behind since the 200 sample
		{50, 21 * time.Second},  // behind everything kept: at least that, plus a second
	} {
		if got := set.lag(c.lsn, now); got != c.want {
			t.Errorf("lag at %d = %v, want %v", c.lsn, got, c.want)
		}
	}
	if got := (&replicaSet{}).lag(1, now); got != 0 {
		t.Errorf("without samples the lag is %v, want 0", got)
	}
}
