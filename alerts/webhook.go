package alerts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// WebhookTimeout is how long a receiver has to answer (SPEC §8: 10 s).
const WebhookTimeout = 10 * time.Second

// Sent is the outcome of one webhook attempt.
type Sent struct {
	Status   int // 0: no answer
	Err      string
	Duration time.Duration
}

// OK tells a 2xx answer.
func (s Sent) OK() bool { return s.Status >= 200 && s.Status < 300 }

// SendWebhook posts a body to a webhook, signed as the Standard Webhooks specification
// says (webhook-id, webhook-timestamp, webhook-signature: v1,base64 of HMAC-SHA256
// over id.timestamp.body with the secret after whsec_), by the specification's own
// library. Every attempt of one delivery sends the same id.
func SendWebhook(ctx context.Context, client *http.Client, url, secret, msgID string, body []byte, now time.Time) Sent {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return Sent{Err: "unusable secret: " + err.Error()}
	}
	sig, err := wh.Sign(msgID, now, body)
	if err != nil {
		return Sent{Err: "unable to sign: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Sent{Err: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Sightline-Webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	res, err := client.Do(req)
	took := time.Since(start)
	if err != nil {
		return Sent{Err: err.Error(), Duration: took}
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	out := Sent{Status: res.StatusCode, Duration: took}
	if !out.OK() {
		out.Err = fmt.Sprintf("answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	return out
}

// RetryDelays are the waits after each failed attempt: the first retry within a
// minute, then longer, for a little over 24 hours in all (SPEC §8).
var RetryDelays = []time.Duration{
	30 * time.Second, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour,
}

// MaxWebhookAttempts is the first attempt and every retry.
var MaxWebhookAttempts = len(RetryDelays) + 1

// NextAttempt is when to try again after the attempt-th attempt failed; false when
// that was the last.
func NextAttempt(attempt int, failedAt time.Time) (time.Time, bool) {
	if attempt < 1 || attempt > len(RetryDelays) {
		return time.Time{}, false
	}
	return failedAt.Add(RetryDelays[attempt-1]), true
}
