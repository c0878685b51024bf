package nl.ldv.voorbeeld;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * POST /aanvragen {"bsns": [...]}: a processing with one child record per subject that, with
 * LDV_NEXT_URL set, posts the same subjects to the next service inside it (W3C traceparent and
 * tracestate, injected by the configured propagator).
 */
@RestController
public class AanvraagController {
    private static final TextMapSetter<HttpRequest.Builder> HEADERS = (request, key, value) -> request.header(key, value);

    private final LdvLogger ldv;
    private final OpenTelemetry openTelemetry;
    private final String activity;
    private final String nextUrl;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    public AanvraagController(LdvLogger ldv, OpenTelemetry openTelemetry,
                              @Value("${LDV_ACTIVITY}") String activity,
                              @Value("${LDV_NEXT_URL:}") String nextUrl) {
        this.ldv = ldv;
        this.openTelemetry = openTelemetry;
        this.activity = activity;
        this.nextUrl = nextUrl;
    }

    public record Aanvraag(List<String> bsns) {}

    @PostMapping("/aanvragen")
    public Map<String, String> aanvragen(@RequestBody Aanvraag aanvraag) throws IOException, InterruptedException {
        // A root processing: the incoming HTTP request is not an LDV caller here.
        try (Processing processing = ldv.start(Context.root(), activity, "toeslag aanvragen")) {
            aanvraag.bsns().forEach(bsn -> processing.addSubject(bsn, Ldv.SUBJECT_TYPE_BSN));
            if (!nextUrl.isEmpty()) {
                try {
                    post(processing.outgoing(ldv.applicationUri()), aanvraag);
                } catch (IOException | RuntimeException e) {
                    processing.fail(e);
                    throw e;
                }
            }
            return Map.of("traceId", processing.spanContext().getTraceId(),
                    "spanId", processing.spanContext().getSpanId());
        }
    }

    private void post(Context context, Aanvraag aanvraag) throws IOException, InterruptedException {
        String body = "{\"bsns\": [" + String.join(",", aanvraag.bsns().stream().map(b -> "\"" + b + "\"").toList()) + "]}";
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(nextUrl)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        openTelemetry.getPropagators().getTextMapPropagator().inject(context, request, HEADERS);
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException(nextUrl + " answered " + response.statusCode());
        }
    }
}
