// Package migrations holds the versioned SQL schema, one folder per dialect.
// A migration that has shipped is never edited: add a new numbered file.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
