// Package static embeds the front-end assets: vendored htmx and Chart.js (from npm,
// see `make vendor`), Sightline's CSS and its one script. URLs carry a content hash
// so browsers may cache them for a year.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

//go:embed *.css *.js *.svg vendor/*.js
var FS embed.FS

var hashes = func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := FS.ReadFile(path)
		sum := sha256.Sum256(b)
		m[path] = hex.EncodeToString(sum[:])[:12]
		return nil
	})
	return m
}()

// URL returns the cache-busting address of an asset, e.g. /static/app.css?v=1a2b3c4d5e6f.
func URL(name string) string {
	return "/static/" + name + "?v=" + hashes[name]
}

// Hash returns the content hash of an asset, or "" when there is none.
func Hash(name string) string { return hashes[name] }
