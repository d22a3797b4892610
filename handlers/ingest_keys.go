package handlers

import (
	"sync"
	"time"

	"sightline/models"
)

// seenKeys remembers the write keys ingestion has found live, by hash, so a request
// needs no query to authenticate: the group's transaction checks every key it
// stores with (ingest.ErrWriteKeyRevoked), so a revoked key stores nothing from the
// moment its revocation commits, in every process. Only the unknown keys, and the
// refusals, reach the write_keys table here.
type seenKeys struct {
	mu     sync.Mutex
	byHash map[string]seenKey
}

type seenKey struct {
	id       int64
	lastUsed *time.Time // as last recorded: the touch is due when it is stale
	// The key's limits as read at checked; re-read after writeKeyRecheck, so an
	// admin's change reaches every process within it.
	key     *models.WriteKey
	checked time.Time
}

// writeKeyRecheck is how long a process trusts the origins and rate limit it read.
const writeKeyRecheck = 10 * time.Second

// maxSeenKeys bounds the memory an endless stream of distinct keys could take; live
// keys are a handful, created by admins.
const maxSeenKeys = 10_000

func (k *seenKeys) get(hash string) (seenKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.byHash[hash]
	return e, ok
}

func (k *seenKeys) put(hash string, e seenKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.byHash == nil || len(k.byHash) >= maxSeenKeys {
		k.byHash = map[string]seenKey{}
	}
	k.byHash[hash] = e
}

func (k *seenKeys) forget(hash string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.byHash, hash)
}

// writeKeyOf is what requireWriteKey hands the ingest handlers.
type writeKeyOf struct {
	id         int64
	hash       string
	remembered bool   // authenticated from seenKeys, not by a query
	body       []byte // the request body, read (and gunzipped) by requireWriteKey
}
