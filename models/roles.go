package models

// Role is what a team member or API token may do (SPEC §1).
type Role string

// The four roles.
const (
	RoleCSM     Role = "csm"
	RoleManager Role = "manager"
	RolePM      Role = "pm"
	RoleAdmin   Role = "admin"
)

// Roles lists every role, least to most powerful.
var Roles = []Role{RolePM, RoleCSM, RoleManager, RoleAdmin}

// Valid reports a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleCSM, RoleManager, RolePM, RoleAdmin:
		return true
	}
	return false
}

// Permission is one right in the role matrix.
type Permission string

// The rights of SPEC §1.
const (
	PermRead         Permission = "read"          // every page and report
	PermWriteNotes   Permission = "write_notes"   // add notes to accounts
	PermCommentGoals Permission = "comment_goals" // comment on goals
	PermManageGoals  Permission = "manage_goals"  // create, edit, close goals
	PermAssignCSM    Permission = "assign_csm"    // assign accounts to CSMs
	PermActOnAlerts  Permission = "act_on_alerts" // snooze, resolve, reopen alerts; take their ownership
	PermAssignAlerts Permission = "assign_alerts" // give an alert to anyone
	PermRenewals     Permission = "renewals"      // record renewals and their outcomes
	PermAdmin        Permission = "admin"         // users, tokens, write keys, scorecard, catalog, entitlements, alert rules, webhooks
)

var matrix = map[Role][]Permission{
	RolePM:      {PermRead},
	RoleCSM:     {PermRead, PermWriteNotes, PermCommentGoals, PermActOnAlerts},
	RoleManager: {PermRead, PermWriteNotes, PermCommentGoals, PermManageGoals, PermAssignCSM, PermActOnAlerts, PermAssignAlerts, PermRenewals},
	RoleAdmin:   {PermRead, PermWriteNotes, PermCommentGoals, PermManageGoals, PermAssignCSM, PermActOnAlerts, PermAssignAlerts, PermRenewals, PermAdmin},
}

// Can reports whether the role holds the permission.
func (r Role) Can(p Permission) bool {
	for _, held := range matrix[r] {
		if held == p {
			return true
		}
	}
	return false
}
