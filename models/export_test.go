package models

// SetMinPlanAccounts lowers the threshold for prebuilding a plan's adoption totals, so
// tests reach both the prebuilt and the on-demand path; it returns the undo.
func SetMinPlanAccounts(n int) func() {
	old := minPlanAccounts
	minPlanAccounts = n
	return func() { minPlanAccounts = old }
}
