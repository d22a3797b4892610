package models

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Bulk builds one multi-row statement with the dialect's own placeholders and runs it
// on the transaction's connection directly. The hot write paths (ingestion, rollups)
// use it because GORM's per-argument processing and its SQL recording in Scan cost
// more CPU than the database itself did for a 500-row statement.
type Bulk struct {
	sb   strings.Builder
	args []any
	pg   bool
	rows int
}

// NewBulk starts a statement: head is everything up to VALUES (inclusive).
func NewBulk(tx *gorm.DB, head string) *Bulk {
	b := &Bulk{pg: IsPostgres(tx)}
	b.sb.WriteString(head)
	return b
}

// Row appends one row of values.
func (b *Bulk) Row(vals ...any) {
	if b.rows > 0 {
		b.sb.WriteByte(',')
	}
	b.rows++
	b.tuple(vals)
}

// List appends a parenthesised list of values, for IN (…).
func (b *Bulk) List(vals []string) {
	anys := make([]any, len(vals))
	for i, v := range vals {
		anys[i] = v
	}
	b.tuple(anys)
}

// tuple appends (?, ?, …) with vals as the arguments.
func (b *Bulk) tuple(vals []any) {
	b.sb.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			b.sb.WriteByte(',')
		}
		b.placeholder()
		b.args = append(b.args, v)
	}
	b.sb.WriteByte(')')
}

// SQL appends literal SQL.
func (b *Bulk) SQL(s string) { b.sb.WriteString(s) }

func (b *Bulk) placeholder() {
	if b.pg {
		b.sb.WriteByte('$')
		b.sb.WriteString(strconv.Itoa(len(b.args) + 1))
	} else {
		b.sb.WriteByte('?')
	}
}

// Exec runs the statement inside tx.
func (b *Bulk) Exec(ctx context.Context, tx *gorm.DB) (sql.Result, error) {
	return tx.Statement.ConnPool.ExecContext(ctx, b.sb.String(), b.args...)
}

// Query runs the statement inside tx and returns its rows.
func (b *Bulk) Query(ctx context.Context, tx *gorm.DB) (*sql.Rows, error) {
	return tx.Statement.ConnPool.QueryContext(ctx, b.sb.String(), b.args...)
}
