package models

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// eachRow runs a read (GORM's ? placeholders, slices expanded as for Raw), scans every
// row into dest and calls fn after each. On PostgreSQL it reads through pgx itself:
// database/sql boxes every value and converts it by reflection, which on the account
// page cost more CPU than PostgreSQL spent finding the rows.
func (s *Store) eachRow(ctx context.Context, query string, args []any, dest []any, fn func()) error {
	if s.dialect != Postgres {
		rows, err := s.db.WithContext(ctx).Raw(query, args...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanEach(rows, dest, fn)
	}
	stmt := s.db.Session(&gorm.Session{DryRun: true}).Raw(query, args...).Statement
	conn, err := s.SQL().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected PostgreSQL driver connection %T", driverConn)
		}
		rows, err := pc.Conn().Query(ctx, stmt.SQL.String(), stmt.Vars...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanEach(rows, dest, fn)
	})
}

// rowScanner is what database/sql's and pgx's rows have in common.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func scanEach(rows rowScanner, dest []any, fn func()) error {
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn()
	}
	return rows.Err()
}
