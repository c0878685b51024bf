// Package ldv holds what a Go service needs to log LDV processings with the OpenTelemetry Go SDK:
// the attribute names, the suite's pseudonym of a data subject, and a processing with one child
// record per data subject. See docs/other-languages.md.
package ldv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// PseudonymPrefix starts every pseudonym of the suite.
const PseudonymPrefix = "hmac-sha256:"

// Pseudonym is the suite's pseudonym of a data subject id under an organisation's key:
// "hmac-sha256:" and the lowercase hex HMAC-SHA256, keyed with the key's bytes, of the id's
// UTF-8 bytes without surrounding whitespace. A value that already is a pseudonym is returned
// as it is. A BSN is pseudonymised as its 9 digits (docs/other-languages.md#pseudonyms).
func Pseudonym(key []byte, subjectID string) string {
	if IsPseudonym(subjectID) {
		return subjectID
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strings.TrimSpace(subjectID)))
	return PseudonymPrefix + hex.EncodeToString(mac.Sum(nil))
}

// IsPseudonym reports whether value has the form of a pseudonym of the suite.
func IsPseudonym(value string) bool {
	return strings.HasPrefix(value, PseudonymPrefix) && len(value) == len(PseudonymPrefix)+64
}
