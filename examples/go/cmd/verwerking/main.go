// Command verwerking is a Go service that logs LDV processings with the OpenTelemetry Go SDK and
// its OTLP/HTTP exporter, configured by the standard OTEL_* variables:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT   the Logboek's collector, e.g. http://127.0.0.1:4318
//	OTEL_EXPORTER_OTLP_HEADERS    Authorization=Bearer%20<sender token>
//	OTEL_SERVICE_NAME             e.g. inkomen-api
//	OTEL_RESOURCE_ATTRIBUTES      dpl.suite.organisation=<organisation code>
//	LDV_PSEUDONYM_KEY             the organisation's key: pseudonymise at the source (unset: the collector does)
//	LDV_ACTIVITY                  the processing activity's URI in the register
//	LDV_ORGANISATION              the organisation code again, for the application URI sent to the next service
//
// `verwerking serve ADDR` answers POST /verwerk {"bsns": [...]} with a processing that continues
// the caller's trace (W3C traceparent/tracestate); `verwerking call URL BSN...` logs a processing
// and, with a URL, posts the same subjects to the next service inside it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ldv-suite/ldv/examples/go/ldv"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type request struct {
	BSNs []string `json:"bsns"`
}

type answer struct {
	TraceID string `json:"traceId"`
	SpanID  string `json:"spanId"`
}

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: verwerking serve ADDR | verwerking call URL|- BSN...")
	}
	ctx := context.Background()
	provider, err := newProvider(ctx)
	if err != nil {
		log.Fatalf("opentelemetry: %v", err)
	}
	logger := newLogger(provider)
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, logger, os.Args[2])
	case "call":
		err = call(ctx, logger, os.Args[2], os.Args[3:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	// Shutdown exports what the batch processor still holds: every record is sent before exit.
	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if shutdownErr := provider.Shutdown(shutdownCtx); shutdownErr != nil {
		log.Printf("exporting the last records: %v", shutdownErr)
		os.Exit(1)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// newProvider: the OTLP/HTTP exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers with the
// sender token); the resource reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. Every
// processing is a record: sample always, whatever the incoming traceparent says.
func newProvider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, err
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return provider, nil
}

func newLogger(provider *sdktrace.TracerProvider) *ldv.Logger {
	logger := &ldv.Logger{Tracer: provider.Tracer("ldv-example-go")}
	if key := os.Getenv("LDV_PSEUDONYM_KEY"); key != "" {
		logger.Key = []byte(key)
	}
	// The application's URI names the organisation and the service, as the Python SDK names it.
	organisation, service := os.Getenv("LDV_ORGANISATION"), os.Getenv("OTEL_SERVICE_NAME")
	logger.ApplicationURI = fmt.Sprintf("urn:ldv:application:%s:%s", organisation, service)
	return logger
}

func activity() string {
	if a := os.Getenv("LDV_ACTIVITY"); a != "" {
		return a
	}
	return "https://register.example/processing-activities/voorbeeld"
}

// serve answers POST /verwerk until SIGTERM or SIGINT.
func serve(ctx context.Context, logger *ldv.Logger, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /verwerk", func(w http.ResponseWriter, r *http.Request) {
		var body request
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "body: {\"bsns\": [...]}", http.StatusBadRequest)
			return
		}
		// The caller's span and application, from traceparent and tracestate.
		incoming := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		p := logger.Start(incoming, activity(), "inkomen verstrekken")
		for _, bsn := range body.BSNs {
			p.AddSubject(bsn, ldv.SubjectTypeBSN)
		}
		p.End(nil)
		sc := p.SpanContext()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer{TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String()})
	})
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		shutdown, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// call logs one processing of the subjects and, unless next is "-", posts them to next inside it.
func call(ctx context.Context, logger *ldv.Logger, next string, bsns []string) error {
	p := logger.Start(ctx, activity(), "toeslag aanvragen")
	for _, bsn := range bsns {
		p.AddSubject(bsn, ldv.SubjectTypeBSN)
	}
	var err error
	if next != "-" {
		err = post(p.Outgoing(), next, bsns)
	}
	p.End(err)
	sc := p.SpanContext()
	fmt.Printf("{\"traceId\": %q, \"spanId\": %q}\n", sc.TraceID().String(), sc.SpanID().String())
	return err
}

func post(ctx context.Context, url string, bsns []string) error {
	body, _ := json.Marshal(request{BSNs: bsns})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
