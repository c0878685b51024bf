package nl.ldv.voorbeeld;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The test vectors of docs/pseudonymisation-vectors.json, made by the suite's Python implementation. */
class PseudonymTest {
    @Test
    void matchesTheSuitesVectors() throws Exception {
        JsonNode vectors = new ObjectMapper().readTree(Path.of("../../docs/pseudonymisation-vectors.json").toFile())
                .get("vectors");
        assertTrue(vectors.size() >= 5, "too few vectors");
        for (JsonNode vector : vectors) {
            String got = new Pseudonym(vector.get("key").asText()).of(vector.get("subject_id").asText());
            assertEquals(vector.get("pseudonym").asText(), got, vector.get("note").asText());
        }
    }
}
