package ingest

import (
	"context"
	"fmt"
	"time"

	"sightline/models"
)

// DefaultRetention is how long raw messages are kept for audit and reprocessing. The
// rollups are kept for ever; a retry older than this would be counted again, which
// no SDK does (they give up after hours).
const DefaultRetention = 400 * 24 * time.Hour

// PruneRaw deletes raw messages received before the cut-off, in bounded steps so a
// large delete never holds locks for long. It returns how many were deleted.
func PruneRaw(ctx context.Context, store *models.Store, olderThan time.Duration) (int64, error) {
	cutoff := time.Now().UTC().Add(-olderThan)
	var total int64
	for {
		res := store.DB().WithContext(ctx).Exec(
			"DELETE FROM usage_messages WHERE message_id IN (SELECT message_id FROM usage_messages WHERE received_at < ? LIMIT 10000)", cutoff)
		if res.Error != nil {
			return total, fmt.Errorf("ingest: unable to prune raw messages: %w", res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < 10000 {
			return total, nil
		}
	}
}
