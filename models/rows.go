package models

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// eachRow runs a read (GORM's ? placeholders, slices expanded as for Raw), scans every
// row into dest and calls fn after each. On PostgreSQL it reads through pgx itself:
// database/sql boxes every value and converts it by reflection, which on the account
// page cost more CPU than PostgreSQL spent finding the rows.
func (s *Store) eachRow(ctx context.Context, query string, args []any, dest []any, fn func()) error {
	if s.dialect != Postgres {
		return rawEach(s.db.WithContext(ctx), query, args, dest, fn)
	}
	stmt := s.db.Session(&gorm.Session{DryRun: true}).Raw(query, args...).Statement
	return withPgxOn(ctx, s.readDB(ctx), func(pc *pgx.Conn) error {
		rows, err := pc.Query(ctx, stmt.SQL.String(), stmt.Vars...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scanEach(rows, dest, fn)
	})
}

// WithPgx runs fn on a pooled PostgreSQL connection's pgx connection itself, for work
// database/sql cannot express (COPY, pipelined batches) or does slowly.
func (s *Store) WithPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	return withPgxOn(ctx, s.SQL(), fn)
}

// withPgxOn runs fn on the pgx connection of one of db's pooled connections.
func withPgxOn(ctx context.Context, db *sql.DB, fn func(*pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected PostgreSQL driver connection %T", driverConn)
		}
		return fn(pc.Conn())
	})
}

// rawEach runs a read through GORM on db, scans every row into dest and calls fn
// after each.
func rawEach(db *gorm.DB, query string, args []any, dest []any, fn func()) error {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	return scanEach(rows, dest, fn)
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
