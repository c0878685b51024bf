package ldv

import (
	"encoding/json"
	"os"
	"testing"
)

// The test vectors of docs/pseudonymisation-vectors.json, made by the Python implementation.
type vectors struct {
	Vectors []struct {
		Key       string `json:"key"`
		SubjectID string `json:"subject_id"`
		Pseudonym string `json:"pseudonym"`
	} `json:"vectors"`
}

func TestPseudonymMatchesTheSuitesVectors(t *testing.T) {
	data, err := os.ReadFile("../../../docs/pseudonymisation-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Vectors) < 5 {
		t.Fatalf("only %d vectors", len(v.Vectors))
	}
	for _, vector := range v.Vectors {
		if got := Pseudonym([]byte(vector.Key), vector.SubjectID); got != vector.Pseudonym {
			t.Errorf("Pseudonym(%q, %q) = %s, want %s", vector.Key, vector.SubjectID, got, vector.Pseudonym)
		}
	}
}
