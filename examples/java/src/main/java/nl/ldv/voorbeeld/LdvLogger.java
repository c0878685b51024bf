package nl.ldv.voorbeeld;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Makes LDV processings with the OpenTelemetry SDK that the Spring Boot starter configured from
 * OTEL_* (exporter endpoint, OTEL_EXPORTER_OTLP_HEADERS with the sender token, resource with
 * dpl.suite.organisation). LDV_PSEUDONYM_KEY: pseudonymise at the source; unset: the collector does.
 */
@Component
public class LdvLogger {
    private final Tracer tracer;
    private final Pseudonym pseudonym;
    private final String applicationUri;

    public LdvLogger(OpenTelemetry openTelemetry,
                     @Value("${LDV_PSEUDONYM_KEY:}") String key,
                     @Value("${LDV_ORGANISATION}") String organisation,
                     @Value("${OTEL_SERVICE_NAME}") String service) {
        this.tracer = openTelemetry.getTracer("ldv-voorbeeld-java");
        this.pseudonym = key.isEmpty() ? null : new Pseudonym(key);
        this.applicationUri = "urn:ldv:application:" + organisation + ":" + service;
    }

    public Processing start(Context parent, String activity, String name) {
        return new Processing(tracer, pseudonym, parent, activity, name);
    }

    public String applicationUri() {
        return applicationUri;
    }
}
