package dashboard

import (
	"bufio"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HistoryLimit is how many of the most recent refresh runs the history table lists.
const HistoryLimit = 50

// SparklineRuns is how many of a view's most recent finished runs its sparkline plots.
const SparklineRuns = 30

//go:embed dashboard.html.tmpl
var pageTemplate string

var page = template.Must(template.New("dashboard").Parse(pageTemplate))

// Render writes the dashboard for s to w as one self-contained HTML document (inline CSS and
// SVG; no scripts, fonts or other external resources). The output depends only on s: the same
// State always renders to the same bytes. All text from s is HTML-escaped.
func Render(w io.Writer, s State) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := page.Execute(bw, buildPage(s)); err != nil {
		return fmt.Errorf("dashboard: render HTML: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dashboard: write HTML: %w", err)
	}
	return nil
}

type pageData struct {
	Schema      string
	GeneratedAt string
	ViewCount   int
	Summary     []summaryCard
	Rows        []statusRow
	Graph       svgGraph
	History     []historyRow
	HistoryN    int
	HistoryAll  int
	Tools       []Tool
}

type summaryCard struct {
	Label, Value, Class string
}

type statusRow struct {
	Name, Description, RowClass string
	Columns                     []Column
	Status, StatusClass         string
	Stale                       bool
	Freshness, FreshnessTitle   string
	MaxStaleness                string
	Schedule, ScheduleTitle     string
	Mode, ModeTitle             string
	Rows, Duration              string
	Upstream                    []string
	Error                       string
	Spark                       sparkline
}

type sparkline struct {
	Points string
	Dots   []sparkDot
	Title  string
	Empty  bool
}

type sparkDot struct {
	CX, CY, Class string
}

type historyRow struct {
	View, Started, StartedTitle, Finished string
	Status, StatusClass, Mode, Rows       string
	Duration, Error                       string
}

func buildPage(s State) pageData {
	now := s.GeneratedAt.UTC()
	views := slices.Clone(s.Views)
	slices.SortStableFunc(views, func(a, b View) int { return cmp.Compare(a.Name, b.Name) })

	history := slices.Clone(s.History)
	slices.SortStableFunc(history, func(a, b Run) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), cmp.Compare(a.View, b.View))
	})

	// Newest-first runs per view, for the sparklines (history is already sorted).
	perView := make(map[string][]Run, len(views))
	for _, r := range history {
		if r.Status == "running" || r.DurationMs == nil {
			continue
		}
		if len(perView[r.View]) < SparklineRuns {
			perView[r.View] = append(perView[r.View], r)
		}
	}

	d := pageData{
		Schema:      s.Schema,
		GeneratedAt: now.Format(time.RFC3339),
		ViewCount:   len(views),
		HistoryAll:  len(history),
	}
	var failed, stale, running, never int
	for _, v := range views {
		switch {
		case v.LastStatus == "failed":
			failed++
		case v.LastRefreshedAt == nil && !v.Running:
			never++
		}
		if v.Stale {
			stale++
		}
		if v.Running {
			running++
		}
		d.Rows = append(d.Rows, buildStatusRow(now, v, perView[v.Name]))
	}
	d.Summary = []summaryCard{
		{Label: "views", Value: strconv.Itoa(len(views))},
		{Label: "failed", Value: strconv.Itoa(failed), Class: classIf(failed > 0, "bad")},
		{Label: "stale", Value: strconv.Itoa(stale), Class: classIf(stale > 0, "warn")},
		{Label: "refreshing", Value: strconv.Itoa(running), Class: classIf(running > 0, "info")},
		{Label: "never refreshed", Value: strconv.Itoa(never), Class: classIf(never > 0, "warn")},
	}
	d.Graph = layoutLineage(views, s.Edges)
	d.Tools = slices.Clone(s.Tools)
	slices.SortStableFunc(d.Tools, func(a, b Tool) int { return cmp.Compare(a.Name, b.Name) })

	if len(history) > HistoryLimit {
		history = history[:HistoryLimit]
	}
	d.HistoryN = len(history)
	for _, r := range history {
		h := historyRow{
			View:         r.View,
			Started:      age(now, r.StartedAt),
			StartedTitle: r.StartedAt.UTC().Format(time.RFC3339),
			Finished:     "—",
			Status:       r.Status,
			StatusClass:  statusClass(r.Status),
			Mode:         dash(r.Mode),
			Rows:         rows(r.RowsAfter),
			Duration:     durationPtr(r.DurationMs),
			Error:        r.Error,
		}
		if r.FinishedAt != nil {
			h.Finished = r.FinishedAt.UTC().Format(time.RFC3339)
		}
		d.History = append(d.History, h)
	}
	return d
}

func buildStatusRow(now time.Time, v View, runs []Run) statusRow {
	r := statusRow{
		Name:        v.Name,
		Description: v.Description,
		Columns:     v.Columns,
		Stale:       v.Stale,
		Mode:        dash(v.LastMode),
		ModeTitle:   v.ModeReason,
		Rows:        rows(v.RowsAfter),
		Duration:    durationPtr(v.LastDurationMs),
		Upstream:    slices.Sorted(slices.Values(v.Upstream)),
		Error:       v.LastError,
		Spark:       buildSparkline(runs),
	}
	switch {
	case v.Running:
		r.Status, r.StatusClass = "refreshing", "info"
	case v.LastStatus == "failed":
		r.Status, r.StatusClass = "failed", "bad"
	case v.LastStatus == "success":
		r.Status, r.StatusClass = "ok", "good"
	case v.LastStatus != "":
		r.Status, r.StatusClass = v.LastStatus, "muted"
	default:
		r.Status, r.StatusClass = "never refreshed", "muted"
	}
	if !v.Populated && v.LastStatus != "failed" {
		r.Status, r.StatusClass = "not populated", "warn"
	}
	switch {
	case v.LastStatus == "failed":
		r.RowClass = "row-failed"
	case v.Stale:
		r.RowClass = "row-stale"
	}
	if v.LastRefreshedAt != nil {
		r.Freshness = age(now, *v.LastRefreshedAt)
		r.FreshnessTitle = "last successful refresh finished " + v.LastRefreshedAt.UTC().Format(time.RFC3339)
	} else {
		r.Freshness = "never"
		r.FreshnessTitle = "no successful refresh recorded"
	}
	if v.MaxStaleness > 0 {
		r.MaxStaleness = shortDuration(v.MaxStaleness)
	}
	if v.RefreshEvery > 0 {
		r.Schedule = "every " + shortDuration(v.RefreshEvery) + ", due now"
		r.ScheduleTitle = "refresh_every " + shortDuration(v.RefreshEvery) + "; agent-mv serve or pg_cron refreshes it"
		if v.NextDueAt != nil && v.NextDueAt.After(now) {
			r.Schedule = "every " + shortDuration(v.RefreshEvery) + ", next in " + shortDuration(v.NextDueAt.Sub(now).Round(time.Second))
			r.ScheduleTitle += "; next due " + v.NextDueAt.UTC().Format(time.RFC3339)
		}
	}
	return r
}

// buildSparkline plots durations of runs (given newest first) oldest to newest in a 120×24 box.
func buildSparkline(runs []Run) sparkline {
	if len(runs) == 0 {
		return sparkline{Empty: true}
	}
	const w, h, pad = 120.0, 24.0, 3.0
	maxMs := int64(1)
	for _, r := range runs {
		maxMs = max(maxMs, *r.DurationMs)
	}
	n := len(runs)
	var pts []string
	var sp sparkline
	for i := range n {
		r := runs[n-1-i]
		x := w - pad
		if n > 1 {
			x = pad + (w-2*pad)*float64(i)/float64(n-1)
		}
		y := h - pad - (h-2*pad)*float64(*r.DurationMs)/float64(maxMs)
		pts = append(pts, num(x)+","+num(y))
		if r.Status == "failed" {
			sp.Dots = append(sp.Dots, sparkDot{CX: num(x), CY: num(y), Class: "spark-fail"})
		} else if i == n-1 {
			sp.Dots = append(sp.Dots, sparkDot{CX: num(x), CY: num(y), Class: "spark-last"})
		}
	}
	sp.Points = strings.Join(pts, " ")
	sp.Title = fmt.Sprintf("last %d refresh durations; latest %s, max %s", n, durationMs(*runs[0].DurationMs), durationMs(maxMs))
	return sp
}

// age formats t relative to now ("45s ago", "12m ago", "6h ago", "3d ago").
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s ago"
	case d < time.Hour:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m ago"
	case d < 48*time.Hour:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h ago"
	default:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d ago"
	}
}

// shortDuration formats a configured interval compactly: "15m", "1h30m", "2d".
func shortDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") || strings.HasSuffix(s, "h0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func durationMs(ms int64) string {
	switch {
	case ms < 1000:
		return strconv.FormatInt(ms, 10) + " ms"
	case ms < 60_000:
		return strconv.FormatFloat(float64(ms)/1000, 'f', 1, 64) + " s"
	default:
		return fmt.Sprintf("%dm %02ds", ms/60_000, (ms/1000)%60)
	}
}

func durationPtr(ms *int64) string {
	if ms == nil {
		return "—"
	}
	return durationMs(*ms)
}

func rows(n *int64) string {
	if n == nil {
		return "—"
	}
	// Thousands separators keep large counts readable.
	s := strconv.FormatInt(*n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func statusClass(status string) string {
	switch status {
	case "success":
		return "good"
	case "failed":
		return "bad"
	case "running":
		return "info"
	}
	return "muted"
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func classIf(ok bool, class string) string {
	if ok {
		return class
	}
	return ""
}
