package ldv

import (
	"context"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The attributes of an LDV record (the standard's dpl.* names, and the suite's resource attribute).
const (
	ProcessingActivityID      = "dpl.core.processing_activity_id"
	DataSubjectID             = "dpl.core.data_subject_id"
	DataSubjectIDType         = "dpl.core.data_subject_id_type"
	ForeignOperationProcessor = "dpl.core.foreign_operation.processor"
	ForeignOperationSpanID    = "dpl.core.foreign_operation.span_id"
	Organisation              = "dpl.suite.organisation" // a resource attribute: OTEL_RESOURCE_ATTRIBUTES
	SubjectTypeBSN            = "BSN"
	// TraceStateKey is the tracestate entry in which a caller names its application.
	TraceStateKey = "ldv"
)

// Logger makes LDV records with a tracer of its own. Key is the organisation's pseudonymisation
// key: with it, subject ids leave the process as pseudonyms; without it, they are sent as they
// are and the Logboek's collector pseudonymises a BSN with the organisation's key (LDV_ORGANISATION_KEYS).
type Logger struct {
	Tracer         trace.Tracer
	Key            []byte
	ApplicationURI string // urn:ldv:application:<organisation>:<service>, sent to the next service
}

// Processing is one action: a span with the processing activity, and one child span per data subject.
type Processing struct {
	ctx      context.Context
	span     trace.Span
	logger   *Logger
	name     string
	attrs    []attribute.KeyValue
	subjects map[string]bool
	children []trace.Span
}

// Start begins a processing of `activity` (a URI in the register) named `name`. The context may
// carry a caller's span (from an incoming traceparent): the processing then continues its trace,
// and the caller's application (tracestate `ldv`) and span are recorded.
func (l *Logger) Start(ctx context.Context, activity, name string) *Processing {
	attrs := []attribute.KeyValue{attribute.String(ProcessingActivityID, activity)}
	kind := trace.SpanKindInternal
	if remote := trace.SpanContextFromContext(ctx); remote.IsValid() && remote.IsRemote() {
		kind = trace.SpanKindServer
		attrs = append(attrs, attribute.String(ForeignOperationSpanID, remote.SpanID().String()))
		if caller := remote.TraceState().Get(TraceStateKey); caller != "" {
			if decoded, err := url.PathUnescape(caller); err == nil {
				attrs = append(attrs, attribute.String(ForeignOperationProcessor, decoded))
			}
		}
	}
	ctx, span := l.Tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	return &Processing{ctx: ctx, span: span, logger: l, name: name, attrs: attrs, subjects: map[string]bool{}}
}

// AddSubject logs one child record about the data subject `id` (a BSN when idType is "BSN"), with
// the action's name, activity and caller; adding the same subject twice gives one record.
func (p *Processing) AddSubject(id, idType string) {
	if p.logger.Key != nil {
		id = Pseudonym(p.logger.Key, id)
	}
	if p.subjects[id] {
		return
	}
	p.subjects[id] = true
	attrs := append(append([]attribute.KeyValue{}, p.attrs...),
		attribute.String(DataSubjectID, id), attribute.String(DataSubjectIDType, idType))
	_, child := p.logger.Tracer.Start(p.ctx, p.name, trace.WithAttributes(attrs...))
	p.children = append(p.children, child)
}

// Outgoing is the context to inject into a request to another service: this processing as the
// parent, with this application in the tracestate `ldv` entry.
func (p *Processing) Outgoing() context.Context {
	sc := p.span.SpanContext()
	value := strings.NewReplacer("%", "%25", ",", "%2C", "=", "%3D", " ", "%20").Replace(p.logger.ApplicationURI)
	if state, err := sc.TraceState().Insert(TraceStateKey, value); err == nil {
		sc = sc.WithTraceState(state)
	}
	return trace.ContextWithSpanContext(p.ctx, sc)
}

// SpanContext identifies this processing's action.
func (p *Processing) SpanContext() trace.SpanContext { return p.span.SpanContext() }

// End ends the children and the action, Ok or Error.
func (p *Processing) End(err error) {
	for _, child := range p.children {
		if err != nil {
			child.SetStatus(codes.Error, "")
		} else {
			child.SetStatus(codes.Ok, "")
		}
		child.End()
	}
	if err != nil {
		p.span.RecordError(err)
		p.span.SetStatus(codes.Error, "")
	} else {
		p.span.SetStatus(codes.Ok, "")
	}
	p.span.End()
}
