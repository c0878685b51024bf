package nl.ldv.voorbeeld;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One LDV processing: a span with the processing activity (the action), and one child span per
 * data subject. Subject ids are pseudonymised here when a key is given; without one they are sent
 * as they are, and the Logboek's collector pseudonymises a BSN with the organisation's key.
 */
public final class Processing implements AutoCloseable {
    private final Tracer tracer;
    private final Pseudonym pseudonym;
    private final String name;
    private final Attributes attributes;
    private final Span span;
    private final Context context;
    private final Set<String> subjects = new LinkedHashSet<>();
    private final List<Span> children = new ArrayList<>();
    private Throwable error;

    Processing(Tracer tracer, Pseudonym pseudonym, Context parent, String activity, String name) {
        this.tracer = tracer;
        this.pseudonym = pseudonym;
        this.name = name;
        AttributesBuilder builder = Attributes.builder().put(Ldv.PROCESSING_ACTIVITY_ID, activity);
        SpanContext caller = Span.fromContext(parent).getSpanContext();
        SpanKind kind = SpanKind.INTERNAL;
        if (caller.isValid() && caller.isRemote()) {
            kind = SpanKind.SERVER;
            builder.put(Ldv.FOREIGN_OPERATION_SPAN_ID, caller.getSpanId());
            String application = caller.getTraceState().get(Ldv.TRACESTATE_KEY);
            if (application != null) {
                builder.put(Ldv.FOREIGN_OPERATION_PROCESSOR, java.net.URLDecoder.decode(application,
                        java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        this.attributes = builder.build();
        this.span = tracer.spanBuilder(name).setParent(parent).setSpanKind(kind).setAllAttributes(attributes)
                .startSpan();
        this.context = parent.with(span);
    }

    /** One child record about the data subject; the same subject twice gives one record. */
    public void addSubject(String id, String type) {
        String subject = pseudonym != null ? pseudonym.of(id) : id;
        if (!subjects.add(subject)) {
            return;
        }
        children.add(tracer.spanBuilder(name).setParent(context).setAllAttributes(attributes)
                .setAttribute(Ldv.DATA_SUBJECT_ID, subject).setAttribute(Ldv.DATA_SUBJECT_ID_TYPE, type)
                .startSpan());
    }

    /**
     * The context to inject into a request to another service: this action as the parent, with
     * this application in the tracestate entry `ldv`.
     */
    public Context outgoing(String applicationUri) {
        SpanContext own = span.getSpanContext();
        String value = applicationUri.replace("%", "%25").replace(",", "%2C").replace("=", "%3D").replace(" ", "%20");
        TraceState state = own.getTraceState().toBuilder().put(Ldv.TRACESTATE_KEY, value).build();
        SpanContext withState = SpanContext.create(own.getTraceId(), own.getSpanId(), own.getTraceFlags(), state);
        return context.with(Span.wrap(withState));
    }

    public SpanContext spanContext() {
        return span.getSpanContext();
    }

    public void fail(Throwable cause) {
        this.error = cause;
    }

    @Override
    public void close() {
        StatusCode status = error == null ? StatusCode.OK : StatusCode.ERROR;
        for (Span child : children) {
            child.setStatus(status);
            child.end();
        }
        if (error != null) {
            span.recordException(error);
        }
        span.setStatus(status);
        span.end();
    }
}
