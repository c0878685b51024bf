// Command clickhouseexporter writes LDV records into the Logboek's store with the OpenTelemetry
// Collector's own ClickHouse exporter (opentelemetry-collector-contrib/exporter/clickhouseexporter),
// configured as a collector would be: create_schema false (the store's schema comes from the
// suite's migrations), the table otel_traces, through a ClickHouse HTTP endpoint.
//
//	LDV_EXPORTER_ENDPOINT   e.g. http://127.0.0.1:8123 (a ClickHouse HTTP interface)
//	LDV_EXPORTER_USERNAME   a user that may insert
//	LDV_EXPORTER_PASSWORD
//
// It exports one trace (an action and two child records, one per data subject, of one
// organisation) and prints its trace id and span ids as JSON. tests/peers/test_clickhouse_exporter.py
// runs it against `ldv serve` and finds the rows through the read API.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/clickhouseexporter"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	factory := clickhouseexporter.NewFactory()
	cfg := factory.CreateDefaultConfig().(*clickhouseexporter.Config)
	cfg.Endpoint = os.Getenv("LDV_EXPORTER_ENDPOINT")
	cfg.Username = os.Getenv("LDV_EXPORTER_USERNAME")
	cfg.Password = configopaque.String(os.Getenv("LDV_EXPORTER_PASSWORD"))
	cfg.Database = "default"
	cfg.TracesTableName = "otel_traces"
	cfg.CreateSchema = false
	cfg.Compress = "gzip"
	cfg.AsyncInsert = false
	// Export synchronously: ConsumeTraces returns once the insert answered.
	cfg.QueueSettings = configoptional.None[exporterhelper.QueueBatchConfig]()

	exporter, err := factory.CreateTraces(ctx, exportertest.NewNopSettings(factory.Type()), cfg)
	if err != nil {
		log.Fatalf("create: %v", err)
	}
	if err := exporter.Start(ctx, componenttest.NewNopHost()); err != nil {
		log.Fatalf("start: %v", err)
	}
	traces, ids := ldvTrace()
	exportErr := exporter.ConsumeTraces(ctx, traces)
	if err := exporter.Shutdown(ctx); err != nil {
		log.Fatalf("shutdown: %v", err)
	}
	if exportErr != nil {
		log.Fatalf("export: %v", exportErr)
	}
	out, _ := json.Marshal(ids)
	fmt.Println(string(out))
}

type exported struct {
	TraceID  string   `json:"traceId"`
	ActionID string   `json:"actionSpanId"`
	Children []string `json:"childSpanIds"`
}

func ldvTrace() (ptrace.Traces, exported) {
	traces := ptrace.NewTraces()
	rs := traces.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "inkomen-api")
	rs.Resource().Attributes().PutStr("dpl.suite.organisation", "belastingdienst")
	spans := rs.ScopeSpans().AppendEmpty()
	spans.Scope().SetName("ldv-clickhouseexporter-test")
	var traceID pcommon.TraceID
	_, _ = rand.Read(traceID[:])
	now := time.Now()
	activity := "https://register.belastingdienst.example/processing-activities/inkomen-verstrekken"
	newSpan := func(parent pcommon.SpanID) ptrace.Span {
		span := spans.Spans().AppendEmpty()
		var id pcommon.SpanID
		_, _ = rand.Read(id[:])
		span.SetTraceID(traceID)
		span.SetSpanID(id)
		span.SetParentSpanID(parent)
		span.SetName("inkomen verstrekken")
		span.SetKind(ptrace.SpanKindInternal)
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(3 * time.Millisecond)))
		span.Status().SetCode(ptrace.StatusCodeOk)
		span.Attributes().PutStr("dpl.core.processing_activity_id", activity)
		return span
	}
	action := newSpan(pcommon.NewSpanIDEmpty())
	ids := exported{TraceID: hex.EncodeToString(traceID[:]), ActionID: action.SpanID().String()}
	for _, subject := range []string{"a1", "b2"} {
		child := newSpan(action.SpanID())
		pseudonym := "hmac-sha256:"
		for len(pseudonym) < len("hmac-sha256:")+64 {
			pseudonym += subject
		}
		child.Attributes().PutStr("dpl.core.data_subject_id", pseudonym)
		child.Attributes().PutStr("dpl.core.data_subject_id_type", "BSN")
		ids.Children = append(ids.Children, child.SpanID().String())
	}
	return traces, ids
}
