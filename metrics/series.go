package metrics

// Point is one day of an account's usage trend.
type Point struct {
	Day string `json:"day"`
	// DailyUsageRate and AvgSecondsPerLogin are the 30-day metrics as of this day,
	// exactly what Compute would report for it.
	DailyUsageRate     *float64 `json:"daily_usage_rate"`
	AvgSecondsPerLogin *float64 `json:"avg_seconds_per_login"`
	// LoginUsers, Logins and SessionSeconds are the day's own figures.
	LoginUsers     int     `json:"login_users"`
	Logins         int     `json:"logins"`
	SessionSeconds float64 `json:"session_seconds"`
}

type dayLogins struct {
	users   int
	logins  int
	seconds float64
}

// Series returns one Point per day from..to, for the daily usage rate and time per
// login charts. Each day's figures are computed once and the windows slide over them.
func (p *Prepared) Series(from, to Day, cfg Config) []Point {
	cfg = cfg.WithDefaults()
	if to < from {
		return []Point{}
	}
	days := map[Day]dayLogins{}
	for d := from - WindowDays + 1; d <= to; d++ {
		var dl dayLogins
		users := userSet{}
		for _, e := range p.events[d] {
			if isOneOf(e.Name, cfg.LoginEvents) && e.Events > 0 {
				users.add(e.User)
				dl.logins += e.Events
			}
			if isOneOf(e.Name, cfg.SessionEvents) {
				dl.seconds += e.DurationSeconds
			}
		}
		dl.users = len(users)
		days[d] = dl
	}
	out := make([]Point, 0, int(to-from)+1)
	for x := from; x <= to; x++ {
		seats := p.seatsOn(x)
		rateSum, weekdays, logins, seconds := 0.0, 0, 0, 0.0
		for d := x - WindowDays + 1; d <= x; d++ {
			dl := days[d]
			logins += dl.logins
			seconds += dl.seconds
			if wd := d.Weekday(); wd >= 1 && wd <= 5 {
				weekdays++
				if seats > 0 {
					rateSum += float64(dl.users) / seats
				}
			}
		}
		pt := Point{Day: x.String(), AvgSecondsPerLogin: ratio(seconds, float64(logins)),
			LoginUsers: days[x].users, Logins: days[x].logins, SessionSeconds: days[x].seconds}
		if seats > 0 && weekdays > 0 {
			v := rateSum / float64(weekdays)
			pt.DailyUsageRate = &v
		}
		out = append(out, pt)
	}
	return out
}
