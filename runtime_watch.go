package agentmv

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/agentmv/agentmv/internal/fileio"
)

// DefaultToolsWatchInterval is how often the runtime entry points look at materialize.yaml
// for changed tools.
const DefaultToolsWatchInterval = 2 * time.Second

// WatchTools keeps the runtime's declared tools in step with the tools list of the
// materialize.yaml at path (empty: the one Options would use) until ctx ends: every interval it compares the file's bytes, and
// when they changed it loads the file (the full validation, the guard included) and replaces
// the declared tools on every server the registry is mounted on, which tells connected
// clients (tools/list_changed). A file that is missing or invalid keeps the tools as they
// are, with a warning on logger; the built-in tools never change. An agent's runtime
// (OpenAgentRuntime) follows the agent's selection (Config.AgentTools); a change to which
// built-ins it gets needs a restart. Every call of a declared
// tool is still checked against the views the database has now.
func (r *Runtime) WatchTools(ctx context.Context, path string, interval time.Duration, logger *slog.Logger) {
	if path == "" {
		path = defaultConfigPath() // as Options.ConfigPath
	}
	if interval <= 0 {
		interval = DefaultToolsWatchInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	last, _ := fileio.ReadCapped(path, MaxConfigFileBytes)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		raw, err := fileio.ReadCapped(path, MaxConfigFileBytes)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			logger.Warn("declared tools: cannot read the config; keeping the current tools", "path", path, "err", err)
			continue
		}
		if bytes.Equal(raw, last) {
			continue
		}
		last = raw
		if raw == nil {
			logger.Warn("declared tools: the config is gone; keeping the current tools", "path", path)
			continue
		}
		cfg, err := LoadConfig(path)
		if err != nil {
			logger.Warn("declared tools: the changed config is invalid; keeping the current tools until it is fixed", "err", err)
			continue
		}
		specs := cfg.ToolSpecs()
		if r.agent != "" {
			sel, ok := cfg.AgentTools(r.agent)
			if !ok {
				logger.Warn("declared tools: the agent is no longer in the config; keeping its current tools", "agent", r.agent)
				continue
			}
			specs = sel.Tools
		}
		ch, err := r.tools.SetDeclaredTools(specs)
		if err != nil {
			logger.Warn("declared tools: keeping the current tools", "err", err)
			continue
		}
		if !ch.Empty() {
			logger.Info("declared tools changed", "added", ch.Added, "changed", ch.Changed, "removed", ch.Removed)
		}
	}
}
