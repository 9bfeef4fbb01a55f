package tools

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/agentmv/agentmv/internal/fileio"
)

// ---- read_repo_files ----

// GlobsInput is read_repo_files' input.
type GlobsInput struct {
	Globs []string `json:"globs" jsonschema:"description=Glob patterns relative to the project root (* and ? within a name; ** for any depth),minItems=1,maxItems=50"`
}

// SkippedFile is a file read_repo_files matched but did not return.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// RepoFilesOutput is read_repo_files' result.
type RepoFilesOutput struct {
	Files     map[string]string `json:"files"`
	Skipped   []SkippedFile     `json:"skipped,omitempty"`
	Truncated bool              `json:"truncated"`
}

// deniedDirs are never walked (VCS, vendored and generated code, virtualenvs).
var deniedDirs = []string{".git", ".hg", ".svn", "vendor", "node_modules", ".venv", "venv", "__pycache__", ".idea", ".terraform"}

// deniedFile reports whether a file name may hold secrets.
func deniedFile(name string) bool {
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, ".env"), n == ".pgpass", n == ".netrc", n == ".npmrc", n == ".pypirc",
		strings.HasPrefix(n, "id_rsa"), strings.HasPrefix(n, "id_dsa"), strings.HasPrefix(n, "id_ecdsa"), strings.HasPrefix(n, "id_ed25519"):
		return true
	}
	for _, ext := range []string{".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".crt", ".der", ".kdbx", ".gpg", ".asc"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

func (st *setupTools) readRepoFiles(ctx context.Context, in GlobsInput) (RepoFilesOutput, error) {
	out := RepoFilesOutput{Files: map[string]string{}}
	var pats [][]string
	for _, g := range in.Globs {
		g = filepath.ToSlash(strings.TrimSpace(g))
		g = strings.TrimPrefix(g, "./")
		if g == "" || strings.HasPrefix(g, "/") || filepath.IsAbs(g) || slices.Contains(strings.Split(g, "/"), "..") {
			return out, &ToolError{ErrorType: ErrNotAllowed,
				Message: fmt.Sprintf("glob %q leaves the project root", g),
				Hint:    "use patterns relative to the project root, without .. or a leading /"}
		}
		pats = append(pats, strings.Split(g, "/"))
	}
	root := st.cfg.Root
	total := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && slices.Contains(deniedDirs, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		segs := strings.Split(rel, "/")
		matched := false
		for _, pat := range pats {
			if matchSegments(pat, segs) {
				matched = true
				break
			}
		}
		if !matched {
			return nil
		}
		if deniedFile(d.Name()) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "may hold secrets"})
			return nil
		}
		if len(out.Files) >= MaxRepoFiles || total >= MaxRepoBytes {
			out.Truncated = true
			return filepath.SkipAll
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "broken link"})
			return nil
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "links outside the project root"})
			return nil
		}
		realRel, _ := filepath.Rel(root, real)
		for _, seg := range strings.Split(filepath.ToSlash(realRel), "/") {
			if slices.Contains(deniedDirs, seg) || deniedFile(seg) {
				out.Skipped = append(out.Skipped, SkippedFile{rel, "links to a denied file"})
				return nil
			}
		}
		fi, err := os.Stat(real)
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		budget := min(MaxRepoFileBytes, MaxRepoBytes-total)
		data, err := fileio.ReadCapped(real, int64(budget))
		if err != nil {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "unreadable"})
			return nil
		}
		cut := len(data) > budget
		data = data[:min(len(data), budget)]
		for cut && len(data) > 0 && !utf8.Valid(data) { // cut at a character boundary
			data = data[:len(data)-1]
		}
		if !utf8.Valid(data) || slices.Contains(data, 0) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "binary"})
			return nil
		}
		text := string(data)
		if cut {
			text += "\n... [truncated]"
			out.Truncated = true
		}
		total += len(data)
		out.Files[rel] = text
		return nil
	})
	return out, err
}

// matchSegments matches path segments against pattern segments; "**" matches any number of
// segments (including none), other segments use path.Match rules.
func matchSegments(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchSegments(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if ok, _ := filepath.Match(pat[0], segs[0]); !ok {
		return false
	}
	return matchSegments(pat[1:], segs[1:])
}
