package nl.ldv.voorbeeld;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The LDV suite's pseudonym of a data subject id: "hmac-sha256:" and the lowercase hex
 * HMAC-SHA256, keyed with the UTF-8 bytes of the organisation's key, of the UTF-8 bytes of the id
 * without surrounding whitespace. A value that already is a pseudonym is returned as it is. A
 * BSN is pseudonymised as its 9 digits (docs/other-languages.md).
 */
public final class Pseudonym {
    public static final String PREFIX = "hmac-sha256:";

    private final SecretKeySpec key;

    public Pseudonym(String key) {
        if (key.getBytes(StandardCharsets.UTF_8).length < 16) {
            throw new IllegalArgumentException("a pseudonymisation key has at least 16 bytes");
        }
        this.key = new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
    }

    public static boolean isPseudonym(String value) {
        return value.startsWith(PREFIX) && value.length() == PREFIX.length() + 64;
    }

    public String of(String subjectId) {
        if (isPseudonym(subjectId)) {
            return subjectId;
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            byte[] digest = mac.doFinal(subjectId.strip().getBytes(StandardCharsets.UTF_8));
            return PREFIX + HexFormat.of().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
