package agentmv

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/agentmv/agentmv/internal/fileio"
)

// DefaultToolsWatchInterval is how often the runtime entry points look at materialize.yaml
// for changed tools.
const DefaultToolsWatchInterval = 2 * time.Second

// WatchTools keeps the runtime's declared tools in step with the tools list of the
// materialize.yaml at path (empty: the one Options would use) until ctx ends: every interval
// it compares the file's bytes and those of the tools' sql_file files, and when they changed
// it loads the file (the full validation, the guard included) and replaces the declared tools
// on every server the registry is mounted on, which tells connected clients
// (tools/list_changed). A file that is missing or invalid keeps the tools as they are, with a
// warning on logger; the built-in tools never change. An agent's runtime (OpenAgentRuntime)
// follows the agent's selection (Config.AgentTools); a change to which built-ins it gets
// needs a restart. Every call of a declared tool is still
// checked against the views the database has now.
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
	// The tools' sql_file files, with the SQL the tools now served were loaded with.
	var files map[string]string
	if cfg, err := LoadConfig(path); err == nil {
		files = toolSQLFiles(cfg)
	}
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
		if bytes.Equal(raw, last) && !sqlFilesChanged(files) {
			continue
		}
		last = raw
		if raw == nil {
			logger.Warn("declared tools: the config is gone; keeping the current tools", "path", path)
			continue
		}
		cfg, err := LoadConfig(path)
		if err != nil {
			// Warned once: the next change of the YAML or of a sql_file tries again.
			logger.Warn("declared tools: the changed config is invalid; keeping the current tools until it is fixed", "err", err)
			files = currentSQLFiles(files)
			continue
		}
		files = toolSQLFiles(cfg)
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

// toolSQLFiles maps the path of each declared tool's sql_file (relative paths are relative
// to the YAML's directory, as compileTools reads them) to the SQL the config was loaded with.
func toolSQLFiles(cfg *Config) map[string]string {
	out := map[string]string{}
	for _, t := range cfg.Tools {
		if t.SQLFile == "" {
			continue
		}
		p := t.SQLFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(cfg.Dir, p)
		}
		out[p] = t.SQL
	}
	return out
}

// readSQLFile returns a sql_file's bytes; a missing or unreadable file reads as "" (so its
// return is a change too).
func readSQLFile(path string) string {
	b, _ := fileio.ReadCapped(path, MaxSQLFileBytes)
	return string(b)
}

// sqlFilesChanged reports whether a sql_file's bytes differ from the SQL loaded from it.
func sqlFilesChanged(files map[string]string) bool {
	for p, loaded := range files {
		if readSQLFile(p) != loaded {
			return true
		}
	}
	return false
}

// currentSQLFiles returns files with the bytes each file has now.
func currentSQLFiles(files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for p := range files {
		out[p] = readSQLFile(p)
	}
	return out
}
