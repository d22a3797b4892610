package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// inboxTeamLimit bounds the team's list unless all of it is asked for (?team=all):
// the viewer's own come first, the rest is context.
const inboxTeamLimit = 10

// alertsList is /alerts, the inbox: the viewer's alerts first, most severe and newest
// first, then the team's; filtered by state (default open), kind, severity and text.
func (s *server) alertsList(c echo.Context) error {
	f := alertFilterOf(c)
	if len(f.States) == 0 {
		f.States = []string{models.AlertOpen}
	}
	if err := f.Validate(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	list, err := s.store.ListAlerts(ctx, f)
	if err != nil {
		return err
	}
	sortAlerts(list)
	me := currentMember(c)
	base, err := s.alertRowBase(c)
	if err != nil {
		return err
	}
	base.Context = strings.Join(f.States, ",")
	v := views.AlertsView{Filter: f, AllTeam: c.QueryParam("team") == "all"}
	for _, a := range list {
		r := base
		r.Alert = a
		if a.Owner() == me.Email {
			v.Mine = append(v.Mine, r)
		} else if v.AllTeam || len(v.Team) < inboxTeamLimit {
			v.Team = append(v.Team, r)
		} else {
			v.TeamMore++
		}
	}
	return render(c, http.StatusOK, views.AlertsPage(v), views.AlertsList(v))
}

// sortAlerts puts the most severe first, then the newest.
func sortAlerts(list []models.Alert) {
	rank := map[string]int{"critical": 0, "warning": 1, "info": 2}
	slices.SortStableFunc(list, func(a, b models.Alert) int {
		if d := rank[a.Severity] - rank[b.Severity]; d != 0 {
			return d
		}
		return int(b.ID - a.ID)
	})
}

// alertRowBase is what every row of the viewer shares: who they are, what they may do.
func (s *server) alertRowBase(c echo.Context) (views.AlertRowView, error) {
	me := currentMember(c)
	r := views.AlertRowView{Me: me.Email, Today: models.DateOf(s.now()),
		CanAct: me.Role.Can(models.PermActOnAlerts), CanGive: me.Role.Can(models.PermAssignAlerts)}
	if r.CanGive {
		members, err := s.store.ListTeamMembers(c.Request().Context())
		if err != nil {
			return r, err
		}
		for _, m := range members {
			if m.DisabledAt == nil {
				r.Members = append(r.Members, m)
			}
		}
	}
	return r, nil
}

// alertHistory is GET /alerts/{id}/history: the alert's changes, for the inbox row.
func (s *server) alertHistory(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	evs, err := s.store.AlertHistory(c.Request().Context(), id)
	if err != nil {
		return err
	}
	v := views.AlertHistoryView{AlertID: id, Events: evs}
	return render(c, http.StatusOK, views.AlertHistory(v), views.AlertHistory(v))
}
