package ingest

import (
	"errors"
	"reflect"
	"testing"
)

// parseBoth parses a body with the fast path and with the general decoder alone.
func parseBoth(body []byte) (fast, general []Message, fastErr, generalErr error) {
	fast, fastErr = ParseBatch(body, now)
	fastParse = false
	defer func() { fastParse = true }()
	general, generalErr = ParseBatch(body, now)
	return
}

// FuzzFastParseMatchesDecoder: whatever a message holds, the fast path gives the
// same messages, or the same refusal, as the general decoder.
func FuzzFastParseMatchesDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"type":"track","userId":"u","event":"Report Run","messageId":"m","timestamp":"2026-11-20T10:00:00Z","context":{"device":{"id":"d"}},"properties":{"duration_seconds":300}}`,
		`{"Type":"track","user_id":7,"EVENT":"Usage Reported","properties":{"Meter":"api","QUANTITY":"2.5","quantity":1}}`,
		`{"type":"identify","anonymousId":"a","traits":{"email":"e@x","level":"Executive","name":null},"context":{"groupId":"acme","device":null}}`,
		`{"type":"group","userId":"u","groupId":"g","properties":[1,2],"traits":"x"}`,
		`{"type":"page","userId":"u","name":"Home","context":"oops"}`,
		`{"type":"track","userId":"u","event":"x","type":"page","name":"N","context":{"device":{"id":1,"id":2}}}`,
		`{"typ\u0065":"track","userId":"u","event":"\u00e9v","me\u017fsageId":"k"}`,
		`{"type":5,"userId":"u"}`,
		`{"TYPE":"track","user_id":"u","Event":"x","message-id":"m","properties":{"DURATION_SECONDS":2}}`,
		`{"type":"track","userId":"u","event":"x","timestamp":null,"originalTimestamp":"2026-11-19T00:00:00Z","groupId":" g "}`,
		`"just a string"`,
		`{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		for _, body := range [][]byte{
			[]byte(`{"batch":[` + msg + `]}`),
			[]byte(`{"batch":[` + msg + `,` + msg + `],"context":{"groupId":"outer","device":{"id":"outer-d"},"library":{"name":"x"}}}`),
		} {
			fast, general, fastErr, generalErr := parseBoth(body)
			var fe, ge *RequestError
			if errors.As(fastErr, &fe) != errors.As(generalErr, &ge) || (fe != nil && !reflect.DeepEqual(fe, ge)) {
				t.Fatalf("%s\nfast: %v\ngeneral: %v", body, fastErr, generalErr)
			}
			if !reflect.DeepEqual(fast, general) {
				t.Fatalf("%s\nfast:    %+v\ngeneral: %+v", body, fast, general)
			}
		}
	})
}
