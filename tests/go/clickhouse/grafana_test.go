// Package clickhouse tests `ldv serve`'s ClickHouse HTTP endpoint with clickhouse-go v2 itself,
// configured as Grafana's ClickHouse plugin (grafana-clickhouse-datasource) configures it.
//
// The tests need a running `ldv serve` and a file describing it; tests/peers/test_clickhouse_go.py
// starts one on a seeded store, writes the file and runs `go test` with its path in
// LDV_GO_CLICKHOUSE_FIXTURE. Without that variable every test is skipped.
package clickhouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Fixture is what the pytest side writes: where the endpoint is, its users, and every dashboard
// query expanded as Grafana expands it, with what clickhouse-connect (Python) read from it.
type Fixture struct {
	Addr        string            `json:"addr"`
	Users       map[string]User   `json:"users"`
	Queries     []Query           `json:"queries"`
	CountsByOrg map[string]uint64 `json:"counts_by_organisation"`
}

type User struct {
	Password string `json:"password"`
	Scope    string `json:"scope"`
	RawRows  bool   `json:"raw_rows"`
}

// Query is one panel target or variable query of a generated dashboard, as ClickHouse receives it.
type Query struct {
	Name    string   `json:"name"`
	User    string   `json:"user"`
	SQL     string   `json:"sql"`
	Columns []string `json:"columns"`
	Types   []string `json:"types"`
	Rows    int      `json:"rows"`
	// Scalar is the one value of a one-row, one-column numeric result, as clickhouse-connect read it.
	Scalar *float64 `json:"scalar"`
}

var (
	fixtureOnce sync.Once
	fixture     *Fixture
	fixtureErr  error
)

func loadFixture(t *testing.T) *Fixture {
	t.Helper()
	path := os.Getenv("LDV_GO_CLICKHOUSE_FIXTURE")
	if path == "" {
		t.Skip("LDV_GO_CLICKHOUSE_FIXTURE not set: run through tests/peers/test_clickhouse_go.py")
	}
	fixtureOnce.Do(func() {
		data, err := os.ReadFile(path)
		if err != nil {
			fixtureErr = err
			return
		}
		fixture = &Fixture{}
		fixtureErr = json.Unmarshal(data, fixture)
	})
	if fixtureErr != nil {
		t.Fatalf("reading the fixture: %v", fixtureErr)
	}
	return fixture
}

// request is what one HTTP request of the driver carried, as the transport saw it.
type request struct {
	Query  map[string][]string
	Header http.Header
	Body   string
	Status int
}

// recorder wraps the driver's HTTP transport and keeps every request and its status.
type recorder struct {
	mu       sync.Mutex
	requests []request
	next     http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body := ""
	if req.GetBody != nil {
		if reader, err := req.GetBody(); err == nil {
			var buf strings.Builder
			_, _ = fmt.Fprint(&buf, readAll(reader))
			body = buf.String()
		}
	}
	resp, err := r.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	r.mu.Lock()
	r.requests = append(r.requests, request{Query: req.URL.Query(), Header: req.Header.Clone(), Body: body, Status: status})
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) all() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

func readAll(reader interface{ Read([]byte) (int, error) }) string {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := reader.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

// pluginOptions are the clickhouse.Options the plugin's Connect (pkg/plugin/driver.go) builds for
// a data source with protocol http, no TLS, the default database, a dial timeout of 10 s and a
// query timeout of 60 s: HTTP with gzip compression, the Grafana and plugin products in the
// client info (User-Agent), and the data source's custom settings.
func pluginOptions(f *Fixture, user string, rec *recorder) *clickhouse.Options {
	opts := &clickhouse.Options{
		Addr:     []string{f.Addr},
		Protocol: clickhouse.HTTP,
		Auth:     clickhouse.Auth{Database: "default", Username: user, Password: f.Users[user].Password},
		ClientInfo: clickhouse.ClientInfo{Products: []struct{ Name, Version string }{
			{Name: "grafana", Version: "12.1.0"}, {Name: "clickhouse-datasource", Version: "4.20.0"},
		}},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionGZIP},
		DialTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second,
		// A custom setting as a data source can carry (Additional settings → Custom settings).
		Settings: clickhouse.Settings{"join_use_nulls": 0},
	}
	if rec != nil {
		opts.TransportFunc = func(t *http.Transport) (http.RoundTripper, error) {
			rec.next = t
			return rec, nil
		}
	}
	return opts
}

// openAs opens a *sql.DB the way the plugin does: OpenDB, pool settings, then PingContext
// within the dial timeout.
func openAs(t *testing.T, f *Fixture, user string, rec *recorder) *sql.DB {
	t.Helper()
	db := clickhouse.OpenDB(pluginOptions(f, user, rec))
	db.SetConnMaxLifetime(5 * time.Minute)
	db.SetMaxIdleConns(25)
	db.SetMaxOpenConns(50)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("ping as %s: %v", user, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// queryCtx is how sqlds runs a panel's query: a context with the data source's query timeout.
func queryCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

// scanAll reads every row into values of the driver's own scan types (what the plugin's
// converters receive) and returns them.
func scanAll(t *testing.T, rows *sql.Rows) ([]*sql.ColumnType, [][]any) {
	t.Helper()
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatalf("column types: %v", err)
	}
	var out [][]any
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("scan: %v", err)
		}
		row := make([]any, len(dest))
		for i := range dest {
			row[i] = reflect.ValueOf(dest[i]).Elem().Interface()
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return types, out
}

func TestConnectionSequenceOfThePlugin(t *testing.T) {
	f := loadFixture(t)
	rec := &recorder{}
	db := openAs(t, f, "grafana", rec)

	// The health check and the frontend read the server version (CheckMinServerVersion).
	var version string
	if err := db.QueryRow("SELECT version()").Scan(&version); err != nil {
		t.Fatalf("SELECT version(): %v", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil || major < 22 {
		t.Fatalf("version %q is not a ClickHouse version the plugin accepts", version)
	}

	// A panel query under sqlds' timeout: the driver turns the deadline into max_execution_time.
	ctx, cancel := queryCtx()
	defer cancel()
	var one uint8
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 under a deadline: %v (%d)", err, one)
	}

	requests := rec.all()
	if len(requests) < 4 {
		t.Fatalf("expected hello, ping, version and a query; saw %d requests", len(requests))
	}
	// The dial: clickhouse-go's hello, then the ping.
	if !strings.Contains(requests[0].Body, "displayName()") || !strings.Contains(requests[0].Body, "revision()") {
		t.Fatalf("first request is not the driver's hello: %q", requests[0].Body)
	}
	if strings.TrimSpace(requests[1].Body) != "SELECT 1" {
		t.Fatalf("second request is not the ping: %q", requests[1].Body)
	}
	for i, r := range requests {
		if r.Status != http.StatusOK {
			t.Errorf("request %d (%q) answered %d", i, r.Body, r.Status)
		}
		if got := r.Query["default_format"]; len(got) != 1 || got[0] != "Native" {
			t.Errorf("request %d asked format %v", i, got)
		}
		if got := r.Query["join_use_nulls"]; len(got) != 1 || got[0] != "0" {
			t.Errorf("request %d lost the data source's custom setting: %v", i, r.Query)
		}
		if ua := r.Header.Get("User-Agent"); !strings.Contains(ua, "clickhouse-go/") || !strings.Contains(ua, "grafana/12.1.0") {
			t.Errorf("request %d User-Agent %q", i, ua)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
			t.Errorf("request %d without Basic credentials", i)
		}
	}
	last := requests[len(requests)-1]
	got := last.Query["max_execution_time"]
	seconds := 0
	if len(got) == 1 {
		seconds, _ = strconv.Atoi(got[0])
	}
	if seconds < 60 || seconds > 65 {
		t.Fatalf("a query under a 60 s deadline should carry max_execution_time of about 65, got %v", got)
	}
}

func TestEveryDashboardQueryScansTyped(t *testing.T) {
	f := loadFixture(t)
	if len(f.Queries) < 30 {
		t.Fatalf("only %d dashboard queries in the fixture", len(f.Queries))
	}
	dbs := map[string]*sql.DB{}
	seenTypes := map[string]bool{}
	for _, q := range f.Queries {
		db, ok := dbs[q.User]
		if !ok {
			db = openAs(t, f, q.User, nil)
			dbs[q.User] = db
		}
		t.Run(q.Name, func(t *testing.T) {
			ctx, cancel := queryCtx()
			defer cancel()
			rows, err := db.QueryContext(ctx, q.SQL)
			if err != nil {
				t.Fatalf("%v\n%s", err, q.SQL)
			}
			defer rows.Close()
			types, values := scanAll(t, rows)
			names := make([]string, len(types))
			dbTypes := make([]string, len(types))
			for i, ct := range types {
				names[i], dbTypes[i] = ct.Name(), ct.DatabaseTypeName()
				seenTypes[ct.DatabaseTypeName()] = true
			}
			if !reflect.DeepEqual(names, q.Columns) {
				t.Errorf("columns %v, clickhouse-connect read %v", names, q.Columns)
			}
			if !reflect.DeepEqual(dbTypes, q.Types) {
				t.Errorf("types %v, clickhouse-connect read %v", dbTypes, q.Types)
			}
			if len(values) != q.Rows {
				t.Errorf("%d rows, clickhouse-connect read %d", len(values), q.Rows)
			}
			if q.Scalar != nil && len(values) == 1 && len(values[0]) == 1 {
				got, ok := number(values[0][0])
				if !ok || math.Abs(got-*q.Scalar) > 1e-9 {
					t.Errorf("value %v (%T), clickhouse-connect read %v", values[0][0], values[0][0], *q.Scalar)
				}
			}
		})
	}
	// The dashboards return these kinds of columns; each was scanned above.
	for _, want := range []string{"DateTime64", "LowCardinality(String)", "Nullable(", "Array(", "Float64", "UInt64"} {
		found := false
		for typ := range seenTypes {
			found = found || strings.Contains(typ, want)
		}
		if !found {
			t.Errorf("no dashboard query returned a %s column (saw %v)", want, seenTypes)
		}
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case uint64:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint8:
		return float64(n), true
	case float64:
		return n, true
	case *float64:
		if n == nil {
			return 0, false
		}
		return *n, true
	}
	return 0, false
}

// Every column type a dashboard reads from the records view, into the Go types the driver
// documents for them.
func TestColumnTypesIntoGoTypes(t *testing.T) {
	f := loadFixture(t)
	db := openAs(t, f, "grafana", nil)
	ctx, cancel := queryCtx()
	defer cancel()
	row := db.QueryRowContext(ctx, `
		SELECT Timestamp, Organisation, ResourceAttributes, Attributes, Laws, `+"`Events.Timestamp`"+`,
		       RetentionUntil, Duration, Registered
		FROM ldv_dashboard_records
		WHERE RetentionUntil IS NOT NULL
		ORDER BY Timestamp DESC LIMIT 1`)
	var (
		timestamp      time.Time
		organisation   string
		resource       map[string]string
		attributes     map[string]string
		laws           []string
		eventTimes     []time.Time
		retentionUntil *time.Time
		duration       uint64
		registered     bool
	)
	if err := row.Scan(&timestamp, &organisation, &resource, &attributes, &laws, &eventTimes, &retentionUntil,
		&duration, &registered); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if timestamp.Location() != time.UTC || time.Since(timestamp) > 3*24*time.Hour {
		t.Errorf("Timestamp %v", timestamp)
	}
	if resource["dpl.suite.organisation"] != organisation || organisation == "" {
		t.Errorf("ResourceAttributes %v vs Organisation %q", resource, organisation)
	}
	if !strings.HasPrefix(attributes["dpl.core.processing_activity_id"], "https://") {
		t.Errorf("Attributes %v", attributes)
	}
	if _, ok := attributes["dpl.core.data_subject_id"]; ok {
		t.Errorf("the dashboards' view must not carry subject ids: %v", attributes)
	}
	if len(laws) == 0 || !registered {
		t.Errorf("Laws %v, Registered %v", laws, registered)
	}
	if eventTimes == nil {
		t.Errorf("Events.Timestamp scanned as nil, want an empty slice")
	}
	if retentionUntil == nil || !retentionUntil.After(timestamp.AddDate(6, 0, 0)) {
		t.Errorf("RetentionUntil %v (P7Y after %v)", retentionUntil, timestamp)
	}
	if duration != 250_000_000 {
		t.Errorf("Duration %d", duration)
	}

	// A NULL into a pointer and a sql.Null type.
	var none *time.Time
	var noneToo sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT CAST(NULL AS Nullable(DateTime64(3, 'UTC'))), CAST(NULL AS Nullable(String))").
		Scan(&none, &noneToo); err != nil || none != nil || noneToo.Valid {
		t.Errorf("NULLs: %v %v %v", err, none, noneToo)
	}
	// DateTime64 precision survives: nanoseconds of a DateTime64(9).
	var precise time.Time
	if err := db.QueryRowContext(ctx, "SELECT toDateTime64('2024-05-06 07:08:09.123456789', 9, 'UTC')").Scan(&precise); err != nil ||
		precise.Nanosecond() != 123456789 {
		t.Errorf("DateTime64(9): %v %v", err, precise)
	}
}

// An organisation's user sees its own rows only, whatever the query tries.
func TestOrganisationUserSeesOnlyItsOwnRows(t *testing.T) {
	f := loadFixture(t)
	for user, u := range f.Users {
		if u.Scope == "supervisor" {
			continue
		}
		t.Run(user, func(t *testing.T) {
			db := openAs(t, f, user, nil)
			ctx, cancel := queryCtx()
			defer cancel()
			want := f.CountsByOrg[u.Scope]
			if want == 0 {
				t.Fatalf("the seed has no records of %s", u.Scope)
			}
			queries := []string{
				"SELECT Organisation, count() FROM ldv_dashboard_records GROUP BY Organisation",
				"SELECT Organisation, count() FROM ldv_dashboard_records WHERE Organisation != '" + u.Scope + "' OR 1 GROUP BY Organisation",
				"SELECT Organisation, count() FROM (SELECT * FROM ldv_dashboard_records UNION ALL SELECT * FROM ldv_dashboard_records WHERE 0) GROUP BY Organisation",
				"WITH o AS (SELECT Organisation FROM ldv_dashboard_records) SELECT Organisation, count() FROM o GROUP BY Organisation",
				"SELECT Organisation, count() FROM ldv_dashboard_records WHERE TraceId IN (SELECT TraceId FROM ldv_dashboard_records) GROUP BY Organisation",
			}
			if u.RawRows {
				queries = append(queries,
					"SELECT Organisation, count() FROM otel_traces GROUP BY Organisation",
					"SELECT ResourceAttributes['dpl.suite.organisation'] AS o, count() FROM otel_traces GROUP BY o")
			}
			for _, q := range queries {
				rows, err := db.QueryContext(ctx, q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				var got []string
				var total uint64
				for rows.Next() {
					var org string
					var n uint64
					if err := rows.Scan(&org, &n); err != nil {
						t.Fatalf("scan: %v", err)
					}
					got = append(got, org)
					total += n
				}
				rows.Close()
				if len(got) != 1 || got[0] != u.Scope || total != want {
					t.Errorf("%s\n  saw organisations %v with %d rows; want only %s with %d", q, got, total, u.Scope, want)
				}
			}
		})
	}
}

// The plugin (containsClickHouseException) looks for this anywhere in the error text.
var http4xx = regexp.MustCompile(`\[HTTP 4\d\d\]`)

// clickHouseException is how the plugin (containsClickHouseException) tells the user's error from
// its own: a *clickhouse.Exception in the chain (newer drivers parse the HTTP body into one), or
// ClickHouse's exception text in the message (v2.47.0 passes the body on as text).
func clickHouseException(err error) bool {
	var exception *clickhouse.Exception
	if errors.As(err, &exception) {
		return exception.Code != 0
	}
	return strings.Contains(err.Error(), "DB::Exception")
}

// What the endpoint refuses reaches the driver as a 4xx with ClickHouse's exception text, which
// the plugin reports as the user's (downstream) error; never a 5xx.
func TestRefusalsAreClientErrors(t *testing.T) {
	f := loadFixture(t)
	db := openAs(t, f, "grafana", nil)
	refused := []string{
		"SELEC 1",
		"SELECT * FROM no_such_table",
		"SELECT count() FROM otel_traces", // raw rows: not for a dashboard user
		"SELECT DataSubjectId FROM ldv_records_with_register",
		"INSERT INTO otel_traces (TraceId) VALUES ('x')",
		"DROP TABLE otel_traces",
		"CREATE TABLE x (a UInt8) ENGINE = Memory",
		"SET max_threads = 64",
		"SELECT * FROM file('/etc/passwd', 'LineAsString')",
		"SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString', 'a String')",
		"SELECT * FROM system.processes",
		"SELECT * FROM merge('default', 'otel_traces')",
		"SELECT 1; SELECT 2",
		"SELECT unknownFunction(1)",
		"SELECT count() FROM numbers(10) SETTINGS readonly = 0",
		"SELECT 1 INTO OUTFILE '/tmp/x'",
		"KILL QUERY WHERE 1",
	}
	for _, q := range refused {
		ctx, cancel := queryCtx()
		rows, err := db.QueryContext(ctx, q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		cancel()
		if err == nil {
			t.Errorf("%q was served", q)
			continue
		}
		if !http4xx.MatchString(err.Error()) || !clickHouseException(err) {
			t.Errorf("%q: want [HTTP 4xx] with ClickHouse's exception, got %s", q, err)
		}
	}

	// An error raised while the query runs (not a refusal) is the user's too: ClickHouse itself
	// answers it with a 500, the endpoint with a 4xx and ClickHouse's exception text.
	var n uint8
	if err := db.QueryRow("SELECT throwIf(number = 3, 'by the query') FROM numbers(5)").Scan(&n); err == nil ||
		!http4xx.MatchString(err.Error()) || !clickHouseException(err) || !strings.Contains(err.Error(), "by the query") {
		t.Errorf("throwIf: want [HTTP 4xx] with a DB::Exception, got %v", err)
	}

	// Wrong or unknown credentials fail the plugin's Connect at its ping, also as a 4xx.
	for _, who := range [][2]string{{"grafana", "wrong-password"}, {"nobody", "x"}} {
		opts := pluginOptions(f, "grafana", nil)
		opts.Auth.Username, opts.Auth.Password = who[0], who[1]
		bad := clickhouse.OpenDB(opts)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := bad.PingContext(ctx)
		cancel()
		_ = bad.Close()
		if err == nil || !http4xx.MatchString(err.Error()) {
			t.Errorf("ping as %s: want a 4xx, got %v", who[0], err)
		}
	}
	// The endpoint is still fine afterwards.
	var one uint8
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
}

// A panel whose query outlives its context (Grafana's query timeout, or a user leaving the
// dashboard) is cancelled by the driver; the endpoint answers the next query.
func TestQueryCancelledByContextTimeout(t *testing.T) {
	f := loadFixture(t)
	db := openAs(t, f, "grafana", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	started := time.Now()
	var n uint64
	err := db.QueryRowContext(ctx, "SELECT count() FROM numbers(100000000000) WHERE number % 7 = 3").Scan(&n)
	elapsed := time.Since(started)
	if err == nil {
		t.Fatalf("a query over 10^11 rows finished in %v: not a slow query", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("want the context's deadline, got %v", err)
	}
	if elapsed > 5*time.Second {
		t.Fatalf("cancelled after %v: the driver did not give up at the deadline", elapsed)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	var one uint8
	if err := db.QueryRowContext(ctx2, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the next query after a cancelled one: %v", err)
	}
}
