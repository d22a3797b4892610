package ingest

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestGroupStatementsProbeByIndex checks the plans PostgreSQL keeps for the group's
// statements under indexPlans, on an empty database (the generic plans made there
// are used for good): each reads the few rows it needs by key, never a whole table.
func TestGroupStatementsProbeByIndex(t *testing.T) {
	store := dbtest.Postgres(t)
	ids := map[string]int64{"u": 1}
	updates := []userUpdate{{key: "u", group: "g", groupAt: time.Now()}}
	membership, ok := membershipStatementPG(updates, ids, nil)
	if !ok {
		t.Fatal("no membership statement")
	}
	rollups := models.NewRollups()
	for user := range int64(2) { // user 1 created by the group, user 0 not: both kinds of statement
		addToRollups(rollups, user, &Message{Type: "track", Event: UsageReportedEvent, Meter: "m", Quantity: 1, DeviceID: "d", Timestamp: time.Now()})
	}
	statements := []struct {
		name, sql, index string // index: the one it must probe ("" when it reads no table)
	}{
		{"known messages", knownMessagesSQL, "usage_messages_message_id_key"},
		{"new users", newUsersStatementPG([]string{"u"}, map[string]time.Time{"u": time.Now()}, updates).SQL, ""},
		{"user ids", userIDsSQL, "end_users_user_key_key"},
		{"membership", membership.SQL, "end_users_pkey"},
		{"write keys live", keysLiveSQL, "write_keys_pkey"},
	}
	for _, st := range models.RollupStatementsPG(rollups, func(user int64) bool { return user == 1 }) {
		name := strings.Fields(st.SQL)[2]
		if !strings.Contains(st.SQL, "ON CONFLICT") {
			name += " (new users)"
		}
		statements = append(statements, struct{ name, sql, index string }{name, st.SQL, ""})
	}
	ctx := context.Background()
	conn, err := store.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, st := range statements {
		t.Run(st.name, func(t *testing.T) {
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // only explained
			if _, err := tx.Exec(indexPlans); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("PREPARE s AS " + st.sql); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, "DEALLOCATE s") //nolint:errcheck // the connection is the test's
			// A generic plan holds for any values: NULL for each parameter.
			n := 0
			for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(st.sql, -1) {
				n = max(n, atoi(m[1]))
			}
			args := slices.Repeat([]string{"NULL"}, n)
			rows, err := tx.Query("EXPLAIN EXECUTE s(" + strings.Join(args, ", ") + ")")
			if err != nil {
				t.Fatal(err)
			}
			var plan strings.Builder
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(line + "\n")
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			p := plan.String()
			if strings.Contains(p, "Seq Scan") || strings.Contains(p, "Hash Join") || strings.Contains(p, "Merge Join") {
				t.Errorf("plan reads a whole table:\n%s", p)
			}
			if st.index != "" && !strings.Contains(p, "Index Cond") {
				t.Errorf("plan does not probe %s by key:\n%s", st.index, p)
			}
			if st.index != "" && !strings.Contains(p, st.index) {
				t.Errorf("plan does not use %s:\n%s", st.index, p)
			}
		})
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
