package metrics

import (
	"cmp"
	"slices"
	"strings"
)

// DepartmentUsers is how many of the account's active users in the window belong to
// one department: the depth of adoption behind departments_active.
type DepartmentUsers struct {
	Department string `json:"department"` // "" for users without one
	Users      int    `json:"users"`
}

// Departments counts the window's active users per department, most users first
// (ties by name), users without a department last.
func (p *Prepared) Departments(asOf Day) []DepartmentUsers {
	active := userSet{}
	for day := asOf - WindowDays + 1; day <= asOf; day++ {
		for u := range p.active[day] {
			active.add(u)
		}
	}
	counts := map[string]int{}
	for u := range active {
		counts[strings.TrimSpace(p.users[u].Department)]++
	}
	out := make([]DepartmentUsers, 0, len(counts))
	for d, n := range counts {
		out = append(out, DepartmentUsers{Department: d, Users: n})
	}
	slices.SortFunc(out, func(a, b DepartmentUsers) int {
		if (a.Department == "") != (b.Department == "") {
			if a.Department == "" {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(b.Users, a.Users); c != 0 {
			return c
		}
		return strings.Compare(a.Department, b.Department)
	})
	return out
}
