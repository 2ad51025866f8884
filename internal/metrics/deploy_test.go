package metrics_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The monitoring files of deploy/ and the metrics table of docs/.
const (
	dashboardPath  = "../../deploy/grafana/dashboards/chatrooms.json"
	datasourcePath = "../../deploy/grafana/provisioning/datasources/prometheus.yml"
	prometheusPath = "../../deploy/prometheus/prometheus.yml"
	alertsPath     = "../../deploy/prometheus/alerts.yml"
	composePath    = "../../deploy/compose.yaml"
	docPath        = "../../docs/metrics.md"
)

// targetLabels are the labels Prometheus adds to every series it scrapes
// (deploy/prometheus/prometheus.yml adds node).
var targetLabels = []string{"job", "instance", "node"}

// everyFamily is what a node's /metrics serves with every source
// watched and every event counted once (a vector shows only the label
// values it has seen), parsed from the text format.
func everyFamily(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	m := metrics.New()
	m.Watch(metrics.Sources{
		Sessions:          func() (int, int) { return 1, 2 },
		SessionsOpened:    func() uint64 { return 3 },
		SessionsClosed:    func() []uint64 { return make([]uint64, len(engineio.CloseReasons)) },
		CloseReasons:      engineio.CloseReasons[:],
		Packets:           func() (uint64, uint64) { return 4, 5 },
		NATSConnected:     func() bool { return true },
		NATSReconnects:    func() uint64 { return 0 },
		Users:             func() (int, int) { return 6, 7 },
		Rooms:             func() int { return 2 },
		WatchdogRoundTrip: func() time.Duration { return time.Millisecond },
	})
	m.RoomEventPublished()
	m.Delivered(2)
	m.FramesWritten([]time.Duration{time.Millisecond})
	m.SendOutcome("ok")
	m.RateLimited("typing")
	m.Disconnected("kicked")
	m.HTTPRequest("GET /api/config", http.StatusOK, time.Millisecond)
	m.Uploaded(100)
	m.UploadRefused("too_large")
	m.Published(time.Millisecond)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return fams
}

// labelValues are the values of each label of f's series.
func labelValues(f *dto.MetricFamily) map[string][]string {
	vals := map[string][]string{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			vals[l.GetName()] = append(vals[l.GetName()], l.GetValue())
		}
	}
	return vals
}

// dashboard is the dashboard JSON, decoded.
type dashboard struct {
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource datasource `json:"datasource"`
	Targets    []struct {
		Datasource datasource `json:"datasource"`
		Expr       string     `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// queries are the dashboard's PromQL expressions, each with where it is.
func queries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	dsUID := datasourceUID(t)
	exprs := map[string]string{}
	for _, v := range d.Templating.List {
		exprs["variable "+v.Name] = v.Definition
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource.UID != dsUID {
				t.Errorf("panel %q: data source %q, provisioned %q", p.Title, p.Datasource.UID, dsUID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for i, q := range p.Targets {
				if q.Expr == "" {
					t.Errorf("panel %q query %d is empty", p.Title, i)
				}
				exprs["panel "+p.Title+" #"+string(rune('A'+i))] = q.Expr
			}
		}
	}
	walk(d.Panels)
	if len(exprs) < 10 {
		t.Fatalf("%s: only %d queries read", dashboardPath, len(exprs))
	}
	return exprs
}

// datasourceUID is the uid of the provisioned Prometheus data source.
func datasourceUID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(datasourcePath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+uid:\s*(\S+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no uid", datasourcePath)
	}
	return string(m[1])
}

var (
	metricNameRE = regexp.MustCompile(`\b((?:chatrooms|go|process)_[a-zA-Z0-9_]+)\b(\{[^}]*\})?`)
	matcherRE    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	byRE         = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// family is the family that serves name: name itself, or the histogram
// (or summary) whose _bucket, _sum or _count series name is.
func family(fams map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	if f, ok := fams[name]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := fams[base]; ok && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) {
				return f, true
			}
		}
	}
	return nil, false
}

// checkExpr checks the PromQL expression expr (from where) against what a
// node serves: each metric name exists (a histogram through its _bucket
// series), each label matched or grouped by exists on the metric or is a
// target label, and the values of the bounded labels set at scrape time
// (transport, state, reason) are ones the node produces. It returns the
// families expr uses.
func checkExpr(t *testing.T, fams map[string]*dto.MetricFamily, where, expr string) []string {
	t.Helper()
	var used []string
	labels := map[string]bool{"le": true}
	for _, l := range targetLabels {
		labels[l] = true
	}
	for _, m := range metricNameRE.FindAllStringSubmatch(expr, -1) {
		name, selector := m[1], m[2]
		f, ok := family(fams, name)
		if !ok {
			if strings.HasPrefix(name, "process_") && runtime.GOOS != "linux" {
				continue // the process collector reads /proc
			}
			t.Errorf("%s: %s is not a metric a node serves (%q)", where, name, expr)
			continue
		}
		used = append(used, f.GetName())
		vals := labelValues(f)
		for l := range vals {
			labels[l] = true
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(selector, -1) {
			label, op, value := mm[1], mm[2], mm[3]
			if _, own := vals[label]; !own && !slices.Contains(targetLabels, label) && (label != "le" || !strings.HasSuffix(name, "_bucket")) {
				t.Errorf("%s: %s has no label %s (%q)", where, name, label, expr)
			}
			if op == "=" && scrapeTimeLabels[label] && !slices.Contains(vals[label], value) {
				t.Errorf("%s: %s{%s=%q}: a node serves %s only %v", where, name, label, value, label, vals[label])
			}
		}
	}
	for _, m := range byRE.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !labels[l] {
				t.Errorf("%s: grouped by %s, a label of none of its metrics (%q)", where, l, expr)
			}
		}
	}
	return used
}

// TestDashboardUsesServedMetrics checks every PromQL expression of the
// Grafana dashboard against what a node serves (checkExpr), and that
// every chatrooms_ metric has a panel.
func TestDashboardUsesServedMetrics(t *testing.T) {
	fams := everyFamily(t)
	used := map[string]bool{}
	for where, expr := range queries(t) {
		names := checkExpr(t, fams, where, expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric of a node in %q", where, expr)
		}
		for _, n := range names {
			used[n] = true
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "chatrooms_") && !used[name] {
			t.Errorf("%s has no panel in %s", name, dashboardPath)
		}
	}
}

// TestAlertsUseServedMetrics checks the expressions of
// deploy/prometheus/alerts.yml (one "expr:" line each) as the dashboard's.
func TestAlertsUseServedMetrics(t *testing.T) {
	b, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	fams := everyFamily(t)
	exprs := regexp.MustCompile(`(?m)^\s+expr:\s*(.+?)\s*$`).FindAllSubmatch(b, -1)
	if len(exprs) == 0 {
		t.Fatalf("%s: no expr read", alertsPath)
	}
	for i, m := range exprs {
		checkExpr(t, fams, fmt.Sprintf("%s rule %d", alertsPath, i+1), string(m[1]))
	}
	if prom, err := os.ReadFile(prometheusPath); err != nil || !regexp.MustCompile(`(?m)^  - alerts\.yml\s*$`).Match(prom) {
		t.Errorf("%s does not load alerts.yml (%v)", prometheusPath, err)
	}
}

// scrapeTimeLabels are the labels whose every value a node serves from
// its start (set by Watch), so that a selector's value can be checked.
var scrapeTimeLabels = map[string]bool{"transport": true, "state": true, "reason": true}

// TestMetricsDocumented checks that docs/metrics.md has a row for every
// chatrooms_ metric.
func TestMetricsDocumented(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	for name := range everyFamily(t) {
		if strings.HasPrefix(name, "chatrooms_") && !strings.Contains(string(b), "| `"+name+"` |") {
			t.Errorf("%s has no row in %s", name, docPath)
		}
	}
}

// TestPrometheusScrapesComposeNodes checks deploy/prometheus/prometheus.yml
// against deploy/compose.yaml: it scrapes /metrics of exactly the chat
// services, on the port of their --metrics-addr, and names each by the
// label node the dashboard groups by.
func TestPrometheusScrapesComposeNodes(t *testing.T) {
	compose, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	prom, err := os.ReadFile(prometheusPath)
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, m := range regexp.MustCompile(`(?m)^  (chat-[a-z0-9-]+):\s*$`).FindAllSubmatch(compose, -1) {
		services = append(services, string(m[1]))
	}
	addrs := regexp.MustCompile(`(?m)^\s+- --metrics-addr=0\.0\.0\.0:(\d+)\s*$`).FindAllSubmatch(compose, -1)
	if len(services) == 0 || len(addrs) != len(services) {
		t.Fatalf("compose.yaml: %d chat services, %d with --metrics-addr=0.0.0.0:PORT", len(services), len(addrs))
	}
	port := string(addrs[0][1])
	for _, a := range addrs {
		if string(a[1]) != port {
			t.Fatalf("compose.yaml: nodes' metrics ports differ: %s, %s", port, a[1])
		}
	}
	var targets []string
	for _, m := range regexp.MustCompile(`- targets: \["([^"]+)"\]\s*\n\s+labels:\s*\n\s+node: (\S+)`).FindAllSubmatch(prom, -1) {
		target, node := string(m[1]), string(m[2])
		targets = append(targets, target)
		if want := "chat-" + node + ":" + port; target != want {
			t.Errorf("prometheus.yml: target %s labelled node %s, want %s", target, node, want)
		}
	}
	var want []string
	for _, s := range services {
		want = append(want, s+":"+port)
	}
	slices.Sort(targets)
	slices.Sort(want)
	if !slices.Equal(targets, want) {
		t.Errorf("prometheus.yml scrapes %v, compose.yaml's nodes serve metrics at %v", targets, want)
	}
	if !regexp.MustCompile(`(?m)^\s+metrics_path: /metrics\s*$`).Match(prom) {
		t.Errorf("prometheus.yml: no metrics_path /metrics")
	}
	for _, svc := range []string{"prometheus", "grafana"} {
		if !regexp.MustCompile(`(?m)^  ` + svc + `:\s*\n(?:    .*\n)*?    profiles: \[monitoring\]\s*$`).Match(compose) {
			t.Errorf("compose.yaml: service %s not in the profile monitoring", svc)
		}
	}
}
