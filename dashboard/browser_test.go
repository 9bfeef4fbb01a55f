package dashboard

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentmv/agentmv/internal/testutil"
)

// chromiumPath finds the Debian chromium binary. A missing browser skips the test with the
// install command (fails it under CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	testutil.SkipOrFail(t, "chromium not found at /usr/bin/chromium; install it with `apt-get install -y chromium` to run the browser test")
	return ""
}

// TestRenderInBrowser loads the rendered demo dashboard in headless Chromium, checks that the
// page logs no errors and that every view is drawn in the lineage SVG, and saves a screenshot.
func TestRenderInBrowser(t *testing.T) {
	bin := chromiumPath(t)
	dir := t.TempDir()
	htmlPath := filepath.Join(dir, "dashboard.html")
	s := demoState()
	if err := os.WriteFile(htmlPath, render(t, s), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1400, 900),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	// Subscribe before navigating so no message is lost; collect in the background.
	msgCtx, stopMsgs := context.WithCancel(bctx)
	messages := chromedp.Console(msgCtx)
	var (
		mu       sync.Mutex
		problems []string
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()

	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+htmlPath)); err != nil {
		t.Fatalf("load dashboard in chromium: %v", err)
	}
	svgText, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(".graph svg .node text")).map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("read SVG node labels: %v", err)
	}
	labels := map[string]bool{}
	for _, l := range svgText {
		labels[l] = true
	}
	for _, v := range s.Views {
		if !labels[v.Name] {
			t.Errorf("view %q is not drawn in the lineage SVG (labels: %v)", v.Name, svgText)
		}
	}
	scripts, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.scripts.length`))
	if err != nil {
		t.Fatal(err)
	}
	if scripts != 0 {
		t.Errorf("page has %d script elements, want none", scripts)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}

	// Let late messages arrive, then stop collecting.
	time.Sleep(200 * time.Millisecond)
	stopMsgs()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("browser console reported problems:\n%s", strings.Join(problems, "\n"))
	}

	shot := filepath.Join(dir, "dashboard.png")
	if art := os.Getenv("AGENTMV_ARTIFACTS"); art != "" {
		if err := os.MkdirAll(art, 0o755); err != nil {
			t.Fatal(err)
		}
		shot = filepath.Join(art, "dashboard.png")
	} else if keep, err := os.MkdirTemp("", "agentmv-dashboard-"); err == nil {
		shot = filepath.Join(keep, "dashboard.png") // outlives t.TempDir so it can be inspected
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
