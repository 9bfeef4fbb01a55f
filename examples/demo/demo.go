package demo

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

// Files holds seed.sql, materialize.yaml and materialize/*.sql.
//
//go:embed seed.sql materialize.yaml materialize/*.sql
var Files embed.FS

// SeedSQL is the script that creates and fills the shop tables (deterministic data).
func SeedSQL() string {
	b, _ := Files.ReadFile("seed.sql") // embedded: cannot fail
	return string(b)
}

// WriteProject writes materialize.yaml and materialize/*.sql into dir.
func WriteProject(dir string) error {
	return fs.WalkDir(Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == "." || path == "seed.sql" {
			return err
		}
		target := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := Files.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
