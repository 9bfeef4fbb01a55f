package agentmv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// FindConfig looks for materialize.yaml (ConfigFileName) in dir and then in each parent
// directory, as git looks for .git, so every command works from a subdirectory of the
// project. It stops after the first directory that holds .git (the repository's root) or at
// the filesystem root, and returns "" when there is none.
func FindConfig(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, ConfigFileName)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); !errors.Is(err, fs.ErrNotExist) {
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// defaultConfigPath is Options.ConfigPath's default: the nearest materialize.yaml from the
// working directory upward (FindConfig), else materialize.yaml here (so the error names it).
func defaultConfigPath() string {
	if wd, err := os.Getwd(); err == nil {
		if p := FindConfig(wd); p != "" {
			return p
		}
	}
	return ConfigFileName
}
