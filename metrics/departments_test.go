package metrics

import (
	"slices"
	"testing"
)

func TestDepartmentsCountsActiveUsersOfTheWindow(t *testing.T) {
	day := Day(20000)
	in := Inputs{
		Users: []User{{ID: 1, Department: "Sales"}, {ID: 2, Department: " Sales "}, {ID: 3, Department: "Ops"},
			{ID: 4}, {ID: 5, Department: "Legal"}},
		Activity: []Activity{
			{User: 1, Day: day, Messages: 1}, {User: 2, Day: day - 29, Messages: 3}, {User: 3, Day: day - 5, Messages: 1},
			{User: 4, Day: day, Messages: 1},
			{User: 5, Day: day - 30, Messages: 1}, // before the window
		},
	}
	got := Prepare(in).Departments(day)
	want := []DepartmentUsers{{"Sales", 2}, {"Ops", 1}, {"", 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("departments %v, want %v", got, want)
	}
}
