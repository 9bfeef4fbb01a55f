package testutil

import (
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ScrapeMetrics GETs a Prometheus endpoint (with a bearer token, when set) and parses the text
// format; code is the HTTP status, fams nil unless it is 200. A body that is not the text
// format fails the test.
func ScrapeMetrics(t testing.TB, url, token string) (code int, fams map[string]*dto.MetricFamily) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err = parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not the Prometheus text format: %v", url, err)
	}
	return resp.StatusCode, fams
}

// MetricSum adds the values of the series of name whose labels include want (counters,
// gauges, and histograms' sample counts); ok is false when no series matches.
func MetricSum(fams map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum, ok = sum+m.Counter.GetValue(), true
		case m.Gauge != nil:
			sum, ok = sum+m.Gauge.GetValue(), true
		case m.Histogram != nil:
			sum, ok = sum+float64(m.Histogram.GetSampleCount()), true
		}
	}
	return sum, ok
}
